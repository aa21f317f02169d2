package slo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var statusOf = map[Outcome]drift.Status{Clean: drift.StatusClean, Drifted: drift.StatusDrifted, Failed: drift.StatusError}

func saveScans(t *testing.T, st *store.Store, ws string, scans []Scan) {
	t.Helper()
	if len(scans) == 0 {
		return
	}
	rs := make([]*drift.Report, len(scans))
	for i, sc := range scans {
		rs[i] = &drift.Report{Workspace: ws, Status: statusOf[sc.Outcome], StartedAt: sc.At}
		if sc.Outcome == Drifted {
			rs[i].Drift = []drift.ResourceChange{{Address: "a.b"}}
		}
	}
	if _, err := st.SaveReports(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
}

// held is the memory a history holds beyond its own struct, in bytes.
func (h *history) held() int {
	return cap(h.runs)*int(unsafe.Sizeof(run{})) + cap(h.times.buf) + cap(h.pending)*int(unsafe.Sizeof(Scan{}))
}

// randomHistory is n scans in start order: gaps from none (a tie) to a
// day, with nanoseconds, outcomes that tend to repeat.
func randomHistory(r *rand.Rand, start time.Time, n int) []Scan {
	scans := make([]Scan, n)
	at, o := start, Clean
	for i := range scans {
		switch r.IntN(10) {
		case 0:
		case 1:
			at = at.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
		default:
			at = at.Add(time.Hour + time.Duration(r.Int64N(int64(time.Minute))))
		}
		if r.IntN(4) == 0 {
			o = Outcome(r.IntN(3))
		}
		scans[i] = Scan{At: at, Outcome: o}
	}
	return scans
}

// TestTrackerMatchesCompute checks the Tracker's compact histories against
// Compute over every scan saved, on random histories read in random
// steps, with a now that sometimes lags the newest scan and windows that
// change.
func TestTrackerMatchesCompute(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	windows := []time.Duration{time.Hour, 5 * time.Hour, 2 * day, 7 * day}
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 1))
		ws := fmt.Sprintf("ws%d", seed)
		all := randomHistory(r, now.Add(-20*day), 20+r.IntN(200))
		obj := Objective{DriftFree: 0.9 + r.Float64()/10, Window: windows[r.IntN(len(windows))]}
		if r.IntN(2) == 0 {
			obj.ResolveWithin = time.Duration(r.IntN(48)+1) * time.Hour
		}
		tr := NewTracker(st)
		at, saved := all[0].At.Add(-time.Hour), 0
		for step := 0; saved < len(all) || step < 3; step++ {
			// Now moves on by a random span, or at times to exactly a
			// scan's start or the end of its window or lookback.
			next := at.Add(time.Duration(r.Int64N(int64(3 * day))))
			switch k := r.IntN(len(all)); r.IntN(5) {
			case 0:
				next = all[k].At
			case 1:
				next = all[k].At.Add(obj.Window)
			case 2:
				next = all[k].At.Add(obj.Horizon())
			}
			if next.After(at) {
				at = next
			}
			// Save what started by now, and at times a scan or two ahead.
			n := saved
			for n < len(all) && (!all[n].At.After(at) || r.IntN(8) == 0) {
				n++
			}
			saveScans(t, st, ws, all[saved:n])
			saved = n
			if r.IntN(5) == 0 {
				obj.Window = windows[r.IntN(len(windows))]
			}
			f, err := tr.Compute(ctx, []Target{{Workspace: ws, Objective: obj}}, at)
			if err != nil {
				t.Fatal(err)
			}
			want := Compute(all[:saved], obj, at)
			if got := f.Workspaces[0].Summary; !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d step %d (%d scans saved, window %s):\ntracker %+v\ncompute %+v", seed, step, saved, obj.Window, got, want)
			}
		}
	}
}

// TestTrackerReadsOnlyTheWindow: 90 days of hourly scans with a 30-day
// window read the window and the clean scan before it, and keep a few
// bytes a scan.
func TestTrackerReadsOnlyTheWindow(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	start := now.Add(-90 * day)
	var clean, flapping []Scan
	for i := range 90 * 24 {
		at := start.Add(time.Duration(i)*time.Hour + time.Duration(i%7)*time.Millisecond)
		clean = append(clean, Scan{At: at, Outcome: Clean})
		o := Clean
		if i/24%2 == 1 { // drifted every other day
			o = Drifted
		}
		if i%10 == 0 {
			o = Failed
		}
		flapping = append(flapping, Scan{At: at, Outcome: o})
	}
	saveScans(t, st, "clean", clean)
	saveScans(t, st, "flapping", flapping)
	reads := 0
	tr := NewTracker(readCounter{st, &reads})
	month := Objective{DriftFree: 0.99, Window: 30 * day}
	targets := []Target{{Workspace: "clean", Objective: month}, {Workspace: "flapping", Objective: month}}
	at := now.Add(-30 * time.Minute)
	f, err := tr.Compute(ctx, targets, at)
	if err != nil {
		t.Fatal(err)
	}
	// The window's 720 scans of each, clean's last one before it, and
	// flapping's back to its last clean scan before the window: the day
	// before the window drifted, so the last scan of the day before that.
	if reads != 721+745 {
		t.Errorf("first Compute read %d scans, want %d", reads, 721+745)
	}
	for i, all := range [][]Scan{clean, flapping} {
		if want := Compute(all, month, at); !reflect.DeepEqual(f.Workspaces[i].Summary, want) {
			t.Errorf("%s:\ntracker %+v\ncompute %+v", targets[i].Workspace, f.Workspaces[i].Summary, want)
		}
	}
	c, fl := tr.hist["clean"], tr.hist["flapping"]
	if len(c.runs) != 1 || len(fl.runs) != 32 {
		t.Errorf("%d and %d runs kept, want 1 and 32", len(c.runs), len(fl.runs))
	}
	// A 32-byte Scan each was 23 KB, nanosecond deltas 5 KB; seconds
	// between hourly scans take two bytes, runs included four.
	for _, h := range []*history{c, fl} {
		if h.times.scans != 720 || h.held() > 720*4 {
			t.Errorf("%d scans counted in %d bytes, want 720 in at most %d", h.times.scans, h.held(), 720*4)
		}
		// Appends leave up to twice what is needed.
		if n := len(h.times.buf); cap(h.times.buf) > n+n/8+8 {
			t.Errorf("the window's %d bytes of scan times held in %d", n, cap(h.times.buf))
		}
	}

	// Ten more days, read a day at a time: the memory stays the window's.
	for d := range 10 {
		var more []Scan
		for i := range 24 {
			more = append(more, Scan{At: now.Add(time.Duration(d*24+i) * time.Hour), Outcome: Clean})
		}
		saveScans(t, st, "clean", more)
		saveScans(t, st, "flapping", more)
		at = at.Add(day)
		if _, err := tr.Compute(ctx, targets, at); err != nil {
			t.Fatal(err)
		}
	}
	if want := 721 + 745 + 2*240; reads != want {
		t.Errorf("%d scans read in all, want %d", reads, want)
	}
	// The window now starts in a drifted day: the clean day before it,
	// that day, the 20 days after it and the 10 clean ones.
	if h := tr.hist["flapping"]; len(h.runs) != 23 || h.times.scans != 720 || h.held() > 720*4 {
		t.Errorf("after ten days, flapping kept %d runs and %d scans in %d bytes", len(h.runs), h.times.scans, h.held())
	}
}

type readCounter struct {
	*store.Store
	n *int
}

func (c readCounter) ScansAfter(ctx context.Context, ws string, after uint64) ([]store.Scan, error) {
	scans, err := c.Store.ScansAfter(ctx, ws, after)
	*c.n += len(scans)
	return scans, err
}

func (c readCounter) ScansBack(ctx context.Context, ws string, fn func(store.Scan) bool) error {
	return c.Store.ScansBack(ctx, ws, func(sc store.Scan) bool {
		*c.n++
		return fn(sc)
	})
}

// TestTrackerRereads: a scan saved after one that started later, and a now
// before the last one, make the Tracker read the history again rather than
// give figures from what it dropped.
func TestTrackerRereads(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	reads := 0
	tr := NewTracker(readCounter{st, &reads})
	obj := Objective{DriftFree: 0.99, Window: day}
	targets := []Target{{Workspace: "a", Objective: obj}}
	saved := []Scan{ago(10*h, Clean), ago(4*h, Drifted)}
	saveScans(t, st, "a", saved)
	for i, c := range []struct {
		save  []Scan
		at    time.Time
		reads int
	}{
		{nil, now, 2},
		// Out of order: the new scan, then all three again.
		{[]Scan{ago(6*h, Drifted)}, now, 2 + 1 + 3},
		{[]Scan{ago(h, Clean)}, now, 6 + 1},
		{nil, now.Add(-2 * h), 7 + 4}, // now went back
	} {
		saveScans(t, st, "a", c.save)
		saved = append(saved, c.save...)
		f, err := tr.Compute(ctx, targets, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if want := Compute(saved, obj, c.at); !reflect.DeepEqual(f.Workspaces[0].Summary, want) {
			t.Errorf("step %d:\ntracker %+v\ncompute %+v", i, f.Workspaces[0].Summary, want)
		}
		if reads != c.reads {
			t.Errorf("step %d: %d scans read in all, want %d", i, reads, c.reads)
		}
	}
}
