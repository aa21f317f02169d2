//go:build !linux

package gitsource

import "syscall"

// procAttr puts git in its own process group; there is no parent-death
// signal outside Linux.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
