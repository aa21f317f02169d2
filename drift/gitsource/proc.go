package gitsource

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// newCmd runs git in its own process group (killed with driftd, on Linux)
// and kills the whole group on cancellation: git's helpers
// (git-remote-https, ssh, upload-pack) would otherwise outlive it and keep
// its pipes open.
func newCmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
