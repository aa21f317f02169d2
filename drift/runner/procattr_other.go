//go:build !linux

package runner

import "syscall"

// procAttr has no parent-death signal outside Linux.
func procAttr() *syscall.SysProcAttr { return nil }
