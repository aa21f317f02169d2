package slo

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const (
	h   = time.Hour
	day = 24 * time.Hour
)

// ago builds a scan d before now.
func ago(d time.Duration, o Outcome) Scan { return Scan{At: now.Add(-d), Outcome: o} }

// burn is the budget of each lookback (1h, 6h, 1d, 3d) for a workspace
// observed all along, drifted for the last drifted time, at 99%.
func burn(observed [4]time.Duration, drifted [4]time.Duration, objective float64) []Budget {
	out := make([]Budget, 4)
	for i := range out {
		out[i] = Budget{Observed: observed[i], Drifted: drifted[i], Allowed: allowed(observed[i], objective)}
	}
	return out
}

var full = [4]time.Duration{h, 6 * h, day, 3 * day}

func TestCompute(t *testing.T) {
	t.Parallel()
	month := Objective{DriftFree: 0.99, Window: 30 * day}
	resolve := Objective{DriftFree: 0.99, Window: 30 * day, ResolveWithin: 72 * h}
	base := func(obj Objective) Summary {
		return Summary{Workspaces: 1, Window: obj.Window, DriftFreeObjective: obj.DriftFree, ResolveWithin: obj.ResolveWithin, Burn: make([]Budget, 4)}
	}
	for _, c := range []struct {
		name  string
		scans []Scan
		obj   Objective
		want  func(s Summary) Summary
	}{{
		name: "no scans yet",
		obj:  month,
		want: func(s Summary) Summary { s.Unobserved = 1; return s },
	}, {
		name:  "every scan failed: nothing observed, fresh since the first scan",
		scans: []Scan{ago(50*h, Failed), ago(26*h, Failed), ago(2*h, Failed)},
		obj:   month,
		want: func(s Summary) Summary {
			s.Unobserved, s.Scans, s.Failed = 1, 3, 3
			s.Fresh, s.Freshness = true, 50*h
			return s
		},
	}, {
		name:  "workspace added mid-window: observed from its first good scan",
		scans: []Scan{ago(10*h, Failed), ago(9*h, Clean), ago(h, Clean)},
		obj:   month,
		want: func(s Summary) Summary {
			s.Budget = Budget{Observed: 9 * h, Allowed: allowed(9*h, 0.99)}
			s.Burn = burn([4]time.Duration{h, 6 * h, 9 * h, 9 * h}, [4]time.Duration{}, 0.99)
			s.Scans, s.Failed = 3, 1
			s.Fresh, s.Freshness, s.LastSuccess = true, h, now.Add(-h)
			return s
		},
	}, {
		name: "drift found and resolved",
		scans: []Scan{
			ago(100*h, Clean), ago(90*h, Drifted), ago(85*h, Clean), ago(10*h, Clean),
		},
		obj: resolve,
		want: func(s Summary) Summary {
			s.Budget = Budget{Observed: 100 * h, Drifted: 5 * h, Allowed: h}
			s.Burn = burn(full, [4]time.Duration{0, 0, 0, 0}, 0.99)
			s.Scans = 4
			s.Fresh, s.Freshness, s.LastSuccess = true, 10*h, now.Add(-10*h)
			s.Detect = Stats{Count: 1, Total: 10 * h, Max: 10 * h}
			s.Resolve = Stats{Count: 1, Total: 5 * h, Max: 5 * h}
			return s
		},
	}, {
		name: "failed scans neither end nor start drift",
		scans: []Scan{
			ago(100*h, Clean), ago(90*h, Drifted), ago(88*h, Failed), ago(86*h, Failed), ago(80*h, Clean), ago(70*h, Failed),
		},
		obj: Objective{DriftFree: 0.9, Window: 30 * day, ResolveWithin: 5 * h},
		want: func(s Summary) Summary {
			s.Budget = Budget{Observed: 100 * h, Drifted: 10 * h, Allowed: 10 * h}
			s.Burn = burn(full, [4]time.Duration{0, 0, 0, 0}, 0.9)
			s.Scans, s.Failed = 6, 3
			s.Fresh, s.Freshness, s.LastSuccess = true, 80*h, now.Add(-80*h)
			s.Detect = Stats{Count: 1, Total: 10 * h, Max: 10 * h}
			s.Resolve = Stats{Count: 1, Total: 10 * h, Max: 10 * h}
			s.ResolvedLate = 1
			return s
		},
	}, {
		name: "window cuts an episode: state at its start is the last good scan before it",
		scans: []Scan{
			ago(40*day, Clean), ago(31*day, Drifted), ago(29*day, Clean), ago(h, Clean),
		},
		obj: month,
		want: func(s Summary) Summary {
			s.Budget = Budget{Observed: 30 * day, Drifted: day, Allowed: allowed(30*day, 0.99)}
			s.Burn = burn(full, [4]time.Duration{}, 0.99)
			s.Scans = 2 // two in the window
			s.Fresh, s.Freshness, s.LastSuccess = true, h, now.Add(-h)
			// Detected before the window: not counted; resolved in it: counted
			// from its first drifted scan.
			s.Resolve = Stats{Count: 1, Total: 2 * day, Max: 2 * day}
			return s
		},
	}, {
		name: "drifting now, past resolve_within",
		scans: []Scan{
			ago(5*day, Clean), ago(4*day, Drifted), ago(30*time.Minute, Drifted),
		},
		obj: resolve,
		want: func(s Summary) Summary {
			s.Budget = Budget{Observed: 5 * day, Drifted: 4 * day, Allowed: allowed(5*day, 0.99)}
			s.Burn = burn(full, full, 0.99)
			s.Scans = 3
			s.Fresh, s.Freshness, s.LastSuccess = true, 30*time.Minute, now.Add(-30*time.Minute)
			s.Detect = Stats{Count: 1, Total: day, Max: day}
			s.Drifting, s.Overdue, s.OldestDrift, s.DriftingSince = 1, 1, 4*day, now.Add(-4*day)
			return s
		},
	}, {
		name:  "drifted at the first scan: no time to detect",
		scans: []Scan{ago(2*h, Drifted), ago(h, Drifted)},
		obj:   resolve,
		want: func(s Summary) Summary {
			s.Budget = Budget{Observed: 2 * h, Drifted: 2 * h, Allowed: allowed(2*h, 0.99)}
			s.Burn = burn([4]time.Duration{h, 2 * h, 2 * h, 2 * h}, [4]time.Duration{h, 2 * h, 2 * h, 2 * h}, 0.99)
			s.Scans = 2
			s.Fresh, s.Freshness, s.LastSuccess = true, h, now.Add(-h)
			s.Drifting, s.OldestDrift, s.DriftingSince = 1, 2*h, now.Add(-2*h)
			return s
		},
	}, {
		name:  "drift in the last half hour burns the short lookbacks",
		scans: []Scan{ago(10*day, Clean), ago(30*time.Minute, Drifted)},
		obj:   month,
		want: func(s Summary) Summary {
			half := 30 * time.Minute
			s.Budget = Budget{Observed: 10 * day, Drifted: half, Allowed: allowed(10*day, 0.99)}
			s.Burn = burn(full, [4]time.Duration{half, half, half, half}, 0.99)
			s.Scans = 2
			s.Fresh, s.Freshness, s.LastSuccess = true, half, now.Add(-half)
			s.Detect = Stats{Count: 1, Total: 10*day - half, Max: 10*day - half}
			s.Drifting, s.OldestDrift, s.DriftingSince = 1, half, now.Add(-half)
			return s
		},
	}, {
		name:  "scans after now (a clock ahead) are left out",
		scans: []Scan{ago(h, Clean), ago(-h, Drifted)},
		obj:   month,
		want: func(s Summary) Summary {
			s.Budget = Budget{Observed: h, Allowed: allowed(h, 0.99)}
			s.Burn = burn([4]time.Duration{h, h, h, h}, [4]time.Duration{}, 0.99)
			s.Scans = 1
			s.Fresh, s.Freshness, s.LastSuccess = true, h, now.Add(-h)
			return s
		},
	}, {
		name:  "a window shorter than the lookbacks",
		scans: []Scan{ago(5*day, Drifted)},
		obj:   Objective{DriftFree: 0.5, Window: 2 * h},
		want: func(s Summary) Summary {
			s.Budget = Budget{Observed: 2 * h, Drifted: 2 * h, Allowed: h}
			s.Burn = burn(full, full, 0.5)
			s.Fresh, s.Freshness, s.LastSuccess = true, 5*day, now.Add(-5*day)
			s.Drifting, s.OldestDrift, s.DriftingSince = 1, 5*day, now.Add(-5*day)
			return s
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got := Compute(c.scans, c.obj, now)
			want := c.want(base(c.obj))
			if want.Unobserved == 0 {
				want.Allowance = 1 - c.obj.DriftFree
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Compute =\n%+v\nwant\n%+v", got, want)
			}
			// Order does not matter.
			rev := make([]Scan, len(c.scans))
			for i, sc := range c.scans {
				rev[len(rev)-1-i] = sc
			}
			if got := Compute(rev, c.obj, now); !reflect.DeepEqual(got, want) {
				t.Errorf("Compute of reversed scans =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestWindowToTheSecond: whether a scan is in the window is decided to the
// second, by Compute and by a Tracker alike: a scan in the second the
// window starts in counts, even if it started a fraction before, and one
// in the second before does not.
func TestWindowToTheSecond(t *testing.T) {
	t.Parallel()
	obj := Objective{DriftFree: 0.99, Window: 24 * time.Hour}
	at := now.Add(500 * time.Millisecond) // the window starts half a second into a second
	from := at.Add(-obj.Window)
	for _, tc := range []struct {
		name  string
		start time.Time
		scans int
	}{
		{"in the window", from.Add(time.Millisecond), 2},
		{"at its start", from, 2},
		{"before its start, in its second", from.Add(-400 * time.Millisecond), 2},
		{"in the second before", from.Add(-600 * time.Millisecond), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scans := []Scan{{At: tc.start, Outcome: Failed}, {At: at.Add(-time.Hour), Outcome: Clean}}
			if got := Compute(scans, obj, at); got.Scans != tc.scans {
				t.Errorf("Compute counted %d scans, want %d", got.Scans, tc.scans)
			}
			var h history
			for _, sc := range scans {
				h.add(sc)
			}
			h.advance(at, obj.Window, obj.Horizon())
			if got := h.summary(obj); got.Scans != tc.scans {
				t.Errorf("the tracker's history counted %d scans, want %d", got.Scans, tc.scans)
			}
		})
	}
}

func TestRatios(t *testing.T) {
	t.Parallel()
	s := Compute([]Scan{ago(100*h, Clean), ago(90*h, Drifted), ago(85*h, Clean), ago(80*h, Failed)},
		Objective{DriftFree: 0.99, Window: 30 * day, ResolveWithin: 4 * h}, now)
	check := func(name string, got float64, ok bool, want float64) {
		t.Helper()
		if !ok || got != want {
			t.Errorf("%s = %v, %v; want %v", name, got, ok, want)
		}
	}
	ratio, ok := s.Budget.DriftFree()
	check("DriftFree", ratio, ok, 0.95)
	burnRate, ok := s.Budget.BurnRate()
	check("BurnRate", burnRate, ok, 5)
	rem, ok := s.Budget.Remaining()
	check("Remaining", rem, ok, -4)
	obj, ok := s.Budget.Objective()
	check("Objective", obj, ok, 0.99)
	succ, ok := s.ScanSuccess()
	check("ScanSuccess", succ, ok, 0.75)
	inTime, ok := s.ResolvedInTime()
	check("ResolvedInTime", inTime, ok, 0)
	mean, ok := s.Resolve.Mean()
	if !ok || mean != 5*h {
		t.Errorf("Resolve.Mean = %v, %v", mean, ok)
	}

	var none Summary
	for name, f := range map[string]func() (float64, bool){
		"DriftFree": none.Budget.DriftFree, "BurnRate": none.Budget.BurnRate, "Remaining": none.Budget.Remaining,
		"Objective": none.Budget.Objective, "ScanSuccess": none.ScanSuccess, "ResolvedInTime": none.ResolvedInTime,
	} {
		if v, ok := f(); ok {
			t.Errorf("%s of nothing = %v, want undefined", name, v)
		}
	}
	if _, ok := none.Detect.Mean(); ok {
		t.Error("Mean of no episodes is defined")
	}
}

func TestAdd(t *testing.T) {
	t.Parallel()
	a := Compute([]Scan{ago(100*h, Clean), ago(90*h, Drifted), ago(85*h, Clean), ago(80*h, Failed)},
		Objective{DriftFree: 0.99, Window: 30 * day, ResolveWithin: 4 * h}, now)
	b := Compute([]Scan{ago(50*h, Clean), ago(10*h, Drifted)},
		Objective{DriftFree: 0.9, Window: 30 * day, ResolveWithin: 4 * h}, now)
	c := Compute(nil, Objective{DriftFree: 0.9, Window: 7 * day}, now)
	var sum Summary
	for _, s := range []Summary{a, b, c} {
		sum.Add(s)
	}
	want := Summary{
		Workspaces: 3,
		// 100h at 99% allow 1h, 50h at 90% 5h.
		Budget:       Budget{Observed: 150 * h, Drifted: 15 * h, Allowed: 6 * h},
		Scans:        6,
		Failed:       1,
		Fresh:        true,
		Freshness:    85 * h,
		Unobserved:   1,
		Allowance:    a.Allowance + b.Allowance,
		Detect:       Stats{Count: 2, Total: 50 * h, Max: 40 * h},
		Resolve:      Stats{Count: 1, Total: 5 * h, Max: 5 * h},
		ResolvedLate: 1,
		Drifting:     1,
		Overdue:      1,
		OldestDrift:  10 * h,
	}
	want.Burn = make([]Budget, 4)
	for i := range want.Burn {
		want.Burn[i] = a.Burn[i]
		want.Burn[i].add(b.Burn[i])
	}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("sum =\n%+v\nwant\n%+v", sum, want)
	}
	if obj, _ := sum.Budget.Objective(); obj != 0.96 {
		t.Errorf("weighted objective = %v, want 0.96", obj)
	}

	// What the workspaces share stays.
	var same Summary
	same.Add(a)
	same.Add(a)
	if same.Window != 30*day || same.DriftFreeObjective != 0.99 || same.ResolveWithin != 4*h || !same.LastSuccess.IsZero() {
		t.Errorf("shared values lost: %+v", same)
	}
}

// Prune states the rule by which the Tracker forgets history (read,
// history.advance), for TestPrune to prove it keeps every figure: it drops
// the scans (sorted by time) that no figure at now or later
// needs for a horizon: those before the last clean scan at or before
// now - horizon. That clean scan stays, as the state at the window's start
// and the clean scan a later drift is detected from.
func Prune(scans []Scan, now time.Time, horizon time.Duration) []Scan {
	cut := now.Add(-horizon)
	keep := -1
	for i, sc := range scans {
		if sc.At.After(cut) {
			break
		}
		if sc.Outcome == Clean {
			keep = i
		}
	}
	if keep <= 0 {
		return scans
	}
	return slices.Delete(scans, 0, keep)
}

func TestPrune(t *testing.T) {
	t.Parallel()
	hist := []Scan{
		ago(50*day, Drifted), ago(45*day, Clean), ago(40*day, Failed), ago(35*day, Clean), ago(32*day, Drifted),
		ago(29*day, Failed), ago(2*day, Clean),
	}
	for _, c := range []struct {
		horizon time.Duration
		want    []Scan
	}{
		{30 * day, hist[3:]}, // the last clean scan before the horizon stays
		{40 * day, hist[1:]},
		{60 * day, hist},      // nothing before the horizon
		{1 * day, hist[6:]},   // the clean scan two days ago
		{100 * day, hist[0:]}, // all within
	} {
		got := Prune(append([]Scan(nil), hist...), now, c.horizon)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Prune(%s) kept %d scans from %v, want %d", c.horizon, len(got), got[0].At, len(c.want))
		}
		// Pruning to an objective's horizon changes none of its figures.
		obj := Objective{DriftFree: 0.99, Window: c.horizon, ResolveWithin: h}
		if obj.Horizon() != c.horizon {
			continue
		}
		if a, b := Compute(hist, obj, now), Compute(got, obj, now); !reflect.DeepEqual(a, b) {
			t.Errorf("Prune(%s) changed the figures:\n%+v\n%+v", c.horizon, a, b)
		}
	}
	onlyDrift := []Scan{ago(50*day, Drifted), ago(40*day, Drifted)}
	if got := Prune(onlyDrift, now, day); len(got) != 2 {
		t.Errorf("Prune dropped scans without a clean one before the horizon: %v", got)
	}
}

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	for s, want := range map[drift.Status]Outcome{
		drift.StatusClean: Clean, drift.StatusDrifted: Drifted, drift.StatusError: Failed, "": Failed, "something new": Failed,
	} {
		if got := OutcomeOf(s); got != want {
			t.Errorf("OutcomeOf(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestHorizon(t *testing.T) {
	t.Parallel()
	if got := (Objective{Window: 30 * day}).Horizon(); got != 30*day {
		t.Errorf("Horizon of 30d = %s", got)
	}
	if got := (Objective{Window: h}).Horizon(); got != 3*day {
		t.Errorf("Horizon of 1h = %s, want the longest lookback", got)
	}
}
