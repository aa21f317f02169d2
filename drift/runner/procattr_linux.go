package runner

import "syscall"

// procAttr is how driftd starts terraform itself (show), as terraform-exec
// does: in its own process group, killed when driftd dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
