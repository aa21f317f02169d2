//go:build !linux

package pgtest

import "syscall"

// quitWithParent has no parent-death signal to set outside Linux: a killed
// test binary leaves the server to the temp dir's removal.
func quitWithParent(*syscall.SysProcAttr) {}
