package runner

import (
	"context"

	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
)

// showJSON runs `terraform show -json` on a saved plan and streams its
// output into drift.ReadPlan. terraform-exec's ShowPlanFile would hold the
// whole JSON and a full decode of it in memory, about nine times the JSON's
// size for a large plan; streaming keeps only what a report needs
// (docs/performance.md, large plans). The command is built as
// terraform-exec builds its own: the same environment, logging cleared,
// its own process group and parent-death signal, SIGINT on cancellation,
// then a kill after the grace period.
func showJSON(ctx context.Context, bin, dir string, env map[string]string, stderr io.Writer, grace time.Duration, path string) (*tfjson.Plan, error) {
	cmd := exec.CommandContext(ctx, bin, "show", "-json", "-no-color", path)
	cmd.Dir = dir
	cmd.Env = showEnv(env)
	cmd.Stderr = stderr
	cmd.SysProcAttr = procAttr()
	if runtime.GOOS != "windows" {
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	}
	cmd.WaitDelay = grace
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	plan, rerr := drift.ReadPlan(out)
	// Drain what ReadPlan left (nothing, unless it failed) so that terraform
	// never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case werr != nil:
		return nil, fmt.Errorf("terraform show -json: %w", werr)
	case rerr != nil:
		return nil, fmt.Errorf("terraform show -json: %w", rerr)
	}
	return plan, nil
}

// showEnv is env as terraform-exec would pass it: TF_LOG* cleared so that
// no log reaches stderr, TF_IN_AUTOMATION set.
func showEnv(env map[string]string) []string {
	out := make([]string, 0, len(env)+5)
	for k, v := range env {
		switch k {
		case "TF_LOG", "TF_LOG_CORE", "TF_LOG_PATH", "TF_LOG_PROVIDER", "TF_IN_AUTOMATION":
			continue
		}
		out = append(out, k+"="+v)
	}
	out = append(out, "TF_LOG=", "TF_LOG_CORE=", "TF_LOG_PATH=", "TF_LOG_PROVIDER=", "TF_IN_AUTOMATION=1")
	sort.Strings(out)
	return out
}
