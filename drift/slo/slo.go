// Package slo measures drift as service-level indicators and objectives:
// for a workspace, an owner or the fleet, the share of time without drift,
// the time to detect and to resolve drift, the share of scans that succeed
// and the age of the last good scan, and, against a drift-free objective,
// the error budget left and how fast it burns.
//
// Everything is computed from the store's scan history by pure functions
// of the scans and a time ("now"), so the same history always gives the
// same figures. docs/slo.md defines each indicator and its edge cases.
//
// The drift-free ratio is a share of time, not of scans: a workspace
// scanned hourly and one scanned weekly then mean the same thing by 99%,
// and a burst of triggered scans does not outweigh a day of drift. Between
// two scans that succeeded, the workspace is taken to be as the first one
// found it; a failed scan says nothing about drift and changes nothing
// (the freshness indicator shows how old that knowledge is). Time before a
// workspace's first successful scan is not observed and counts for
// nothing, neither good nor bad.
package slo

import (
	"math"
	"slices"
	"time"

	"github.com/driftd/driftd/drift"
)

// Outcome is what one scan found, as far as the indicators care.
type Outcome uint8

// Outcomes of a scan.
const (
	Clean Outcome = iota
	Drifted
	Failed
)

// OutcomeOf maps a report status to an outcome: anything but clean and
// drifted says nothing about drift and counts as failed.
func OutcomeOf(s drift.Status) Outcome {
	switch s {
	case drift.StatusClean:
		return Clean
	case drift.StatusDrifted:
		return Drifted
	}
	return Failed
}

// Scan is one scan of one workspace: when it started and what it found.
type Scan struct {
	At      time.Time
	Outcome Outcome
}

// inWindowSince says whether a scan that started at t (Unix nanoseconds)
// is in a window that starts at from. Both are taken to the second, so
// that a Tracker can keep a window's scan times as a couple of bytes each
// (seconds between scans) rather than seven (nanoseconds); a second is
// nothing against a window of days.
func inWindowSince(t, from int64) bool {
	return unixSecond(t) >= unixSecond(from)
}

// unixSecond is the second Unix nanoseconds t falls in.
func unixSecond(t int64) int64 { return time.Unix(0, t).Unix() }

// Objective is what a workspace aims for.
type Objective struct {
	// DriftFree is the share of time without drift aimed for, above 0 and
	// below 1 (0.99 for 99%).
	DriftFree float64
	// Window is the span the indicators and the budget cover, ending now.
	Window time.Duration
	// ResolveWithin is how long drift may last; 0 sets no such objective.
	ResolveWithin time.Duration
}

// Lookback is a span over which a burn rate is given.
type Lookback struct {
	Name string
	Span time.Duration
}

// Lookbacks are the spans of the burn rates, those of multi-window
// burn-rate alerting (the 1h and 6h long windows, and the slower 1d and
// 3d ones for tickets).
var Lookbacks = []Lookback{
	{"1h", time.Hour},
	{"6h", 6 * time.Hour},
	{"1d", 24 * time.Hour},
	{"3d", 72 * time.Hour},
}

// Horizon is how far back from now a workspace's history is needed for
// its window and every lookback; older scans matter only as the last
// successful one before it (the rule of Prune in the tests).
func (o Objective) Horizon() time.Duration {
	h := o.Window
	for _, l := range Lookbacks {
		h = max(h, l.Span)
	}
	return h
}

// Budget accounts for time over one span.
type Budget struct {
	// Observed is the time whose drift state is known: from the first
	// successful scan (or the span's start, if later) to now.
	Observed time.Duration
	// Drifted is the part of Observed with drift.
	Drifted time.Duration
	// Allowed is the drift the objectives allow over Observed:
	// (1 - objective) × Observed, summed over workspaces.
	Allowed time.Duration
}

// DriftFree is the share of observed time without drift; false when no
// time was observed.
func (b Budget) DriftFree() (float64, bool) {
	if b.Observed <= 0 {
		return 0, false
	}
	return 1 - float64(b.Drifted)/float64(b.Observed), true
}

// BurnRate is how fast drift uses the budget: 1 uses exactly the budget
// over the span, 2 twice as fast; false when nothing is allowed (no time
// observed).
func (b Budget) BurnRate() (float64, bool) {
	if b.Allowed <= 0 {
		return 0, false
	}
	return float64(b.Drifted) / float64(b.Allowed), true
}

// Remaining is the share of the budget not used: 1 with no drift, 0 when
// drift used exactly the budget, negative beyond it; false when nothing is
// allowed.
func (b Budget) Remaining() (float64, bool) {
	burn, ok := b.BurnRate()
	return 1 - burn, ok
}

// Objective is the drift-free share the budget stands for: the objective
// for one workspace, the observed-time weighted one for several.
func (b Budget) Objective() (float64, bool) {
	if b.Observed <= 0 {
		return 0, false
	}
	return 1 - float64(b.Allowed)/float64(b.Observed), true
}

func (b *Budget) add(o Budget) {
	b.Observed += o.Observed
	b.Drifted += o.Drifted
	b.Allowed += o.Allowed
}

// Stats summarises durations: drift episodes' times to detect or resolve.
type Stats struct {
	Count int
	Total time.Duration
	Max   time.Duration
}

// Mean is Total / Count; false when Count is 0.
func (s Stats) Mean() (time.Duration, bool) {
	if s.Count == 0 {
		return 0, false
	}
	return s.Total / time.Duration(s.Count), true
}

func (s *Stats) observe(d time.Duration) {
	s.Count++
	s.Total += d
	s.Max = max(s.Max, d)
}

func (s *Stats) add(o Stats) {
	s.Count += o.Count
	s.Total += o.Total
	s.Max = max(s.Max, o.Max)
}

// Summary holds the indicators of one workspace, or the sum of several
// (an owner's, the fleet's).
type Summary struct {
	// Workspaces counts the workspaces summed: 1 for one workspace.
	Workspaces int
	// Window is the workspaces' window; 0 when they differ.
	Window time.Duration
	// DriftFreeObjective is the workspaces' objective; 0 when they differ
	// (Budget.Objective then gives the weighted one).
	DriftFreeObjective float64
	// ResolveWithin is the workspaces' objective for resolving drift; 0
	// when none is set or they differ.
	ResolveWithin time.Duration
	// Budget covers each workspace's window.
	Budget Budget
	// Burn covers each of Lookbacks, in order.
	Burn []Budget
	// Scans started in the window, and how many of them failed.
	Scans, Failed int
	// Fresh says whether Freshness is known: some workspace was scanned.
	Fresh bool
	// Freshness is the age of the last successful scan (of the oldest
	// one, when summed); for a workspace whose scans all failed, the age
	// of its first scan.
	Freshness time.Duration
	// LastSuccess is the start of the last successful scan of one
	// workspace; zero when summed, or when none succeeded.
	LastSuccess time.Time
	// Unobserved counts the workspaces with no successful scan yet.
	Unobserved int
	// Allowance is the sum of (1 - DriftFree) over the workspaces
	// observed: how many of them may be drifting at any time, on average,
	// within their objectives. Drifting / Allowance is the burn rate now.
	Allowance float64
	// Detect: drift episodes that began in the window after a clean scan,
	// from that clean scan to the first scan that found the drift.
	Detect Stats
	// Resolve: drift episodes resolved in the window, from the first scan
	// that found the drift to the first clean scan after it.
	Resolve Stats
	// ResolvedLate counts the episodes in Resolve that took longer than
	// ResolveWithin.
	ResolvedLate int
	// Drifting counts the workspaces whose last successful scan found
	// drift; Overdue those of them drifting longer than their
	// ResolveWithin.
	Drifting, Overdue int
	// OldestDrift is how long the oldest current drift has lasted.
	OldestDrift time.Duration
	// DriftingSince is when one workspace's current drift was first
	// found; zero when summed or not drifting.
	DriftingSince time.Time
}

// ScanSuccess is the share of the window's scans that succeeded; false
// without scans.
func (s Summary) ScanSuccess() (float64, bool) {
	if s.Scans == 0 {
		return 0, false
	}
	return 1 - float64(s.Failed)/float64(s.Scans), true
}

// ResolvedInTime is the share of drift episodes that met ResolveWithin:
// resolved in the window in time, out of those resolved plus those still
// drifting past it; false when there are none.
func (s Summary) ResolvedInTime() (float64, bool) {
	n := s.Resolve.Count + s.Overdue
	if n == 0 {
		return 0, false
	}
	return float64(s.Resolve.Count-s.ResolvedLate) / float64(n), true
}

// Add sums o into s: budgets, counts and statistics add up, freshness and
// the oldest drift take the worst, and values the two do not share (window,
// objectives) become 0.
func (s *Summary) Add(o Summary) {
	if s.Workspaces == 0 {
		s.Window, s.DriftFreeObjective, s.ResolveWithin = o.Window, o.DriftFreeObjective, o.ResolveWithin
	} else {
		if s.Window != o.Window {
			s.Window = 0
		}
		if s.DriftFreeObjective != o.DriftFreeObjective {
			s.DriftFreeObjective = 0
		}
		if s.ResolveWithin != o.ResolveWithin {
			s.ResolveWithin = 0
		}
	}
	s.Workspaces += o.Workspaces
	s.Budget.add(o.Budget)
	if len(s.Burn) < len(o.Burn) {
		s.Burn = append(s.Burn, make([]Budget, len(o.Burn)-len(s.Burn))...)
	}
	for i, b := range o.Burn {
		s.Burn[i].add(b)
	}
	s.Scans += o.Scans
	s.Failed += o.Failed
	if o.Fresh {
		s.Freshness = max(s.Freshness, o.Freshness)
		s.Fresh = true
	}
	s.LastSuccess = time.Time{}
	s.Unobserved += o.Unobserved
	s.Allowance += o.Allowance
	s.Detect.add(o.Detect)
	s.Resolve.add(o.Resolve)
	s.ResolvedLate += o.ResolvedLate
	s.Drifting += o.Drifting
	s.Overdue += o.Overdue
	s.OldestDrift = max(s.OldestDrift, o.OldestDrift)
	s.DriftingSince = time.Time{}
}

// Compute returns the indicators of one workspace at now from its scans
// (any order; scans after now are ignored) against obj.
func Compute(scans []Scan, obj Objective, now time.Time) Summary {
	if !slices.IsSortedFunc(scans, byTime) {
		scans = slices.Clone(scans)
		slices.SortStableFunc(scans, byTime)
	}
	s := newSummary(obj)
	from := now.Add(-obj.Window)
	var (
		first             time.Time // first scan, whatever its outcome
		prev              *Scan     // last successful scan so far
		lastClean, onset  time.Time
		budgets           = append([]*Budget{&s.Budget}, pointers(s.Burn)...)
		starts            = spanStarts(now, obj.Window)
		inWindow, seenAny bool
	)
	for i := range scans {
		sc := &scans[i]
		if sc.At.After(now) {
			break
		}
		if !seenAny {
			first, seenAny = sc.At, true
		}
		inWindow = inWindowSince(sc.At.UnixNano(), from.UnixNano())
		if inWindow {
			s.Scans++
		}
		if sc.Outcome == Failed {
			if inWindow {
				s.Failed++
			}
			continue
		}
		if prev != nil {
			account(budgets, starts, prev.At, sc.At, prev.Outcome == Drifted)
		}
		prev = sc
		switch sc.Outcome {
		case Drifted:
			if onset.IsZero() {
				onset = sc.At
				if !lastClean.IsZero() && inWindow {
					s.Detect.observe(sc.At.Sub(lastClean))
				}
			}
		case Clean:
			if !onset.IsZero() && inWindow {
				took := sc.At.Sub(onset)
				s.Resolve.observe(took)
				if obj.ResolveWithin > 0 && took > obj.ResolveWithin {
					s.ResolvedLate++
				}
			}
			onset, lastClean = time.Time{}, sc.At
		}
	}
	if prev != nil {
		account(budgets, starts, prev.At, now, prev.Outcome == Drifted)
		s.LastSuccess = prev.At
		s.Fresh, s.Freshness = true, now.Sub(prev.At)
		s.Allowance = 1 - obj.DriftFree
	} else {
		s.Unobserved = 1
		if seenAny {
			s.Fresh, s.Freshness = true, now.Sub(first)
		}
	}
	if !onset.IsZero() {
		s.Drifting, s.DriftingSince = 1, onset
		s.OldestDrift = now.Sub(onset)
		if obj.ResolveWithin > 0 && s.OldestDrift > obj.ResolveWithin {
			s.Overdue = 1
		}
	}
	for _, b := range budgets {
		b.Allowed = allowed(b.Observed, obj.DriftFree)
	}
	return s
}

// newSummary is one workspace's summary before any scan counts.
func newSummary(obj Objective) Summary {
	return Summary{
		Workspaces:         1,
		Window:             obj.Window,
		DriftFreeObjective: obj.DriftFree,
		ResolveWithin:      obj.ResolveWithin,
		Burn:               make([]Budget, len(Lookbacks)),
	}
}

// allowed is (1 - objective) × observed, rounded to the nanosecond.
func allowed(observed time.Duration, objective float64) time.Duration {
	return time.Duration(math.Round(float64(observed) * (1 - objective)))
}

// account adds [a, b) in one state to every budget, each clipped to its
// span's start.
func account(budgets []*Budget, starts []time.Time, a, b time.Time, drifted bool) {
	for i, bu := range budgets {
		lo := a
		if starts[i].After(lo) {
			lo = starts[i]
		}
		if !b.After(lo) {
			continue
		}
		d := b.Sub(lo)
		bu.Observed += d
		if drifted {
			bu.Drifted += d
		}
	}
}

// spanStarts are the starts of the window and of each lookback.
func spanStarts(now time.Time, window time.Duration) []time.Time {
	starts := []time.Time{now.Add(-window)}
	for _, l := range Lookbacks {
		starts = append(starts, now.Add(-l.Span))
	}
	return starts
}

func pointers(bs []Budget) []*Budget {
	ps := make([]*Budget, len(bs))
	for i := range bs {
		ps[i] = &bs[i]
	}
	return ps
}

func byTime(a, b Scan) int { return a.At.Compare(b.At) }
