package reporters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// Forgetter is a State that can drop every record of a workspace: what
// each reporter told about it and its drift history. Records of workspaces
// no longer configured would otherwise grow forever and, worse, speak for
// a workspace re-added under the same name (no first alert, or a
// "resolved" for drift long gone).
type Forgetter interface {
	// StateWorkspaces lists the workspaces with records, in no order.
	StateWorkspaces(ctx context.Context) ([]string, error)
	// ForgetState drops every record of workspace; none is no error.
	ForgetState(ctx context.Context, workspace string) error
}

// Forget drops the records st keeps of workspaces for which configured is
// false, logging each once at info level, and returns them sorted. Only
// local records go: GitHub keeps its issues, the source of truth. A State
// that is not a Forgetter keeps everything. configured must say true for
// every workspace of the whole config, not only those of a run's shard or
// selection: their records are what the next run of those owes.
func Forget(ctx context.Context, st State, log *slog.Logger, configured func(workspace string) bool) ([]string, error) {
	f, ok := st.(Forgetter)
	if !ok {
		return nil, nil
	}
	wss, err := f.StateWorkspaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("list reporter bookkeeping: %w", err)
	}
	slices.Sort(wss)
	var (
		gone []string
		errs []error
	)
	for _, ws := range wss {
		if configured(ws) {
			continue
		}
		if err := f.ForgetState(ctx, ws); err != nil {
			errs = append(errs, fmt.Errorf("forget reporter bookkeeping of %s: %w", ws, err))
			continue
		}
		gone = append(gone, ws)
		log.LogAttrs(ctx, slog.LevelInfo, "forgot the notification records of a workspace no longer configured", slog.String("workspace", ws))
	}
	return gone, errors.Join(errs...)
}

var _ Forgetter = (*MemState)(nil)

// StateWorkspaces implements Forgetter.
func (s *MemState) StateWorkspaces(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		if !slices.Contains(out, k[0]) {
			out = append(out, k[0])
		}
	}
	return out, nil
}

// ForgetState implements Forgetter.
func (s *MemState) ForgetState(_ context.Context, workspace string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.m {
		if k[0] == workspace {
			delete(s.m, k)
		}
	}
	return nil
}
