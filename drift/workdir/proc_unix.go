//go:build unix && !linux

package workdir

import "syscall"

// procStart is unknown outside Linux; liveness then rests on the PID alone.
func procStart(int) string { return "" }

func pidExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
