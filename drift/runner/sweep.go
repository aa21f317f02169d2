package runner

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/driftd/driftd/drift/workdir"
)

// Sweep cleans up after a driftd that died without doing so itself (kill -9,
// OOM, power loss): it kills the processes of scans whose driftd is gone
// (terraform dies with its parent, provider plugins may not) and then
// removes their directories under WorkRoot. Scans of running driftd
// processes, this one included, are left alone. Call it at start-up.
func (r *Runner) Sweep(ctx context.Context) error {
	stale, err := workdir.FindStale(r.opts.WorkRoot)
	if len(stale) == 0 {
		return err
	}
	needles := make([]string, len(stale))
	for i, s := range stale {
		needles[i] = workdir.ScanIDEnv + "=" + s.ScanID
	}
	if n := killScans(needles...); n > 0 {
		r.opts.Logger.WarnContext(ctx, "killed processes left behind by a previous driftd", "count", n)
	}
	errs := []error{err}
	for _, s := range stale {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := os.RemoveAll(s.Path); err != nil {
			errs = append(errs, fmt.Errorf("remove stale scan dir: %w", err))
			continue
		}
		r.opts.Logger.InfoContext(ctx, "removed stale scan directory", "scan_id", s.ScanID, "owner_pid", s.PID)
	}
	return errors.Join(errs...)
}
