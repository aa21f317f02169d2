package slo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/driftd/driftd/drift/store"
)

// Source is the scan history a Tracker reads; *store.Store satisfies it.
type Source interface {
	// Workspaces returns every workspace's summary; its last scan's ID
	// tells the Tracker whether anything is new.
	Workspaces(ctx context.Context) ([]store.Summary, error)
	// ScansAfter returns a workspace's scans with an ID above after,
	// oldest first.
	ScansAfter(ctx context.Context, workspace string, after uint64) ([]store.Scan, error)
	// ScansBack calls fn with a workspace's scans newest first until fn
	// returns false.
	ScansBack(ctx context.Context, workspace string, fn func(store.Scan) bool) error
}

// Target is a workspace with an objective.
type Target struct {
	Workspace string
	// Owners are the workspace's owners; each has the workspace in its
	// summary. A workspace without owners counts in the fleet only.
	Owners    []string
	Objective Objective
	// Export asks for the workspace's own metric series (they are per
	// owner and for the fleet otherwise).
	Export bool
}

// Fleet is every target's summary, each owner's and the fleet's at one
// time.
type Fleet struct {
	At         time.Time
	Fleet      Summary
	Owners     []Owner     // sorted by name
	Workspaces []Workspace // sorted by name
}

// Find returns the named workspace's summary, or nil when it has no SLO.
func (f *Fleet) Find(workspace string) *Workspace {
	i, ok := slices.BinarySearchFunc(f.Workspaces, workspace, func(w Workspace, name string) int {
		return strings.Compare(w.Workspace, name)
	})
	if !ok {
		return nil
	}
	return &f.Workspaces[i]
}

// Owner is one owner's summary, over the workspaces it owns.
type Owner struct {
	Owner string
	Summary
}

// Workspace is one workspace's summary.
type Workspace struct {
	Target
	Summary
}

// Tracker keeps, in memory, the part of each workspace's history its
// figures need, and computes them on demand. It first reads a workspace's
// history newest first, back to the last clean scan before the window (or
// the lookbacks, if longer) and no further; after that it reads only what
// was saved since the last call, so computing at every scrape costs one
// read of the summaries plus the new scans. What it keeps of a workspace
// is its runs of one outcome and the window's scan times as two or three
// bytes each (history).
//
// It assumes, as the store's retention does, that a workspace's scans are
// saved in the order they started. A scan saved out of order, a now
// before the last call's or a window that grew make it read the
// workspace's history again.
type Tracker struct {
	src Source

	mu   sync.Mutex
	hist map[string]*history
}

// NewTracker returns a Tracker over src.
func NewTracker(src Source) *Tracker {
	return &Tracker{src: src, hist: make(map[string]*history)}
}

// Compute returns the figures of targets at now. Workspaces not among
// targets are forgotten.
func (t *Tracker) Compute(ctx context.Context, targets []Target, now time.Time) (*Fleet, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sums, err := t.src.Workspaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("slo: %w", err)
	}
	lastID := make(map[string]uint64, len(sums))
	for _, s := range sums {
		lastID[s.Workspace] = s.Last.ID
	}
	wanted := make(map[string]bool, len(targets))
	f := &Fleet{At: now, Workspaces: make([]Workspace, 0, len(targets))}
	owners := map[string]*Summary{}
	for _, tg := range targets {
		wanted[tg.Workspace] = true
		h, err := t.update(ctx, tg, lastID[tg.Workspace], now)
		if err != nil {
			return nil, fmt.Errorf("slo: %w", err)
		}
		sum := h.summary(tg.Objective)
		f.Workspaces = append(f.Workspaces, Workspace{Target: tg, Summary: sum})
		f.Fleet.Add(sum)
		for _, o := range slices.Compact(slices.Sorted(slices.Values(tg.Owners))) {
			if owners[o] == nil {
				owners[o] = &Summary{}
			}
			owners[o].Add(sum)
		}
	}
	for name := range t.hist {
		if !wanted[name] {
			delete(t.hist, name)
		}
	}
	slices.SortFunc(f.Workspaces, func(a, b Workspace) int { return strings.Compare(a.Workspace, b.Workspace) })
	for o, s := range owners {
		f.Owners = append(f.Owners, Owner{Owner: o, Summary: *s})
	}
	slices.SortFunc(f.Owners, func(a, b Owner) int { return strings.Compare(a.Owner, b.Owner) })
	return f, nil
}

// update brings a target's history to now, given the ID of its newest
// scan in the store.
func (t *Tracker) update(ctx context.Context, tg Target, lastID uint64, now time.Time) (*history, error) {
	window, horizon := tg.Objective.Window, tg.Objective.Horizon()
	h := t.hist[tg.Workspace]
	if h != nil && window <= h.window && now.UnixNano() >= h.at && lastID > h.last {
		scans, err := t.src.ScansAfter(ctx, tg.Workspace, h.last)
		if err != nil {
			return nil, err
		}
		for _, sc := range scans {
			if !h.inOrder(sc.StartedAt) {
				h = nil
				break
			}
			h.add(Scan{At: sc.StartedAt, Outcome: OutcomeOf(sc.Status)})
			h.last = max(h.last, sc.ID)
		}
	}
	read := h == nil || window > h.window || now.UnixNano() < h.at
	if read {
		var err error
		if h, err = t.read(ctx, tg.Workspace, now, horizon); err != nil {
			return nil, err
		}
		t.hist[tg.Workspace] = h
	}
	h.window = window
	h.advance(now, window, horizon)
	if read {
		h.times.trim()
	}
	return h, nil
}

// read reads a workspace's history newest first, back to the last clean
// scan that started at or before now - horizon: no figure at now or later
// needs anything older (the rule TestPrune proves; see Prune there).
func (t *Tracker) read(ctx context.Context, workspace string, now time.Time, horizon time.Duration) (*history, error) {
	cut := now.Add(-horizon)
	h := &history{at: now.UnixNano()}
	var scans []Scan
	err := t.src.ScansBack(ctx, workspace, func(sc store.Scan) bool {
		h.last = max(h.last, sc.ID)
		o := OutcomeOf(sc.Status)
		scans = append(scans, Scan{At: sc.StartedAt, Outcome: o})
		return o != Clean || sc.StartedAt.After(cut)
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(scans)
	slices.SortStableFunc(scans, byTime)
	for _, sc := range scans {
		h.add(sc)
	}
	return h, nil
}
