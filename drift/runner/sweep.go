package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/driftd/driftd/drift/workdir"
)

// Sweep cleans up after a driftd that died without doing so itself (kill -9,
// OOM, power loss): it kills the processes of scans whose driftd is gone
// (terraform dies with its parent, provider plugins may not) and then
// removes their directories under WorkRoot. Scans of running driftd
// processes, this one included, are left alone. It also removes the data
// dirs of workspaces, and the init sets, no scan has used for
// dataDirMaxAge. Call it at
// start-up.
func (r *Runner) Sweep(ctx context.Context) error {
	if n, err := r.data.prune(time.Now().Add(-dataDirMaxAge)); err != nil {
		r.opts.Logger.WarnContext(ctx, "pruning unused data dirs failed", "err", err)
	} else if n > 0 {
		r.opts.Logger.InfoContext(ctx, "removed data dirs unused for a long time", "count", n, "max_age", dataDirMaxAge.String())
	}
	if n, err := r.sets.prune(time.Now().Add(-dataDirMaxAge)); err != nil {
		r.opts.Logger.WarnContext(ctx, "pruning unused init sets failed", "err", err)
	} else if n > 0 {
		r.opts.Logger.InfoContext(ctx, "removed init sets unused for a long time", "count", n, "max_age", dataDirMaxAge.String())
	}
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
		if held, err := r.locks.adopt(s.Path, s.ScanID); err != nil {
			// Kept: its record must not be lost with it.
			errs = append(errs, fmt.Errorf("stale scan dir %s: %w", s.ScanID, err))
			continue
		} else if held {
			r.opts.Logger.WarnContext(ctx, "a killed scan was planning with the state lock; its release is checked", "scan_id", s.ScanID)
		}
		if err := os.RemoveAll(s.Path); err != nil {
			errs = append(errs, fmt.Errorf("remove stale scan dir: %w", err))
			continue
		}
		r.opts.Logger.InfoContext(ctx, "removed stale scan directory", "scan_id", s.ScanID, "owner_pid", s.PID)
	}
	return errors.Join(errs...)
}
