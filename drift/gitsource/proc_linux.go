package gitsource

import "syscall"

// procAttr puts git in its own process group, killed when driftd dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
