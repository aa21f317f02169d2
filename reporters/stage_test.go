package reporters

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
)

// at is a report of workspace w scanned on day (2026-03-day).
func at(day int, s drift.Status, fp string, drifted ...drift.ResourceChange) *drift.Report {
	return &drift.Report{Workspace: "w", Status: s, Fingerprint: fp, Drift: drifted,
		StartedAt: time.Date(2026, 3, day, 2, 0, 0, 0, time.UTC)}
}

func day(d int) time.Time { return time.Date(2026, 3, d, 2, 0, 0, 0, time.UTC) }

// run delivers cur to rs as one run of a new Dispatcher (a new process)
// sharing st, trying each delivery once.
func run(t *testing.T, st State, cur *drift.Report, rs ...Reporter) []Result {
	t.Helper()
	var s sleeps
	var logs bytes.Buffer
	return newTestDispatcher(rs, &s, &logs, WithState(st), WithBackoff(Backoff{Attempts: 1})).Deliver(context.Background(), cur)
}

// TestStageOwedAfterFailedRun: a reporter that fails a whole run is told
// the next run exactly once what it missed; before the stage, the next run
// compared with the stored report, saw the same drift, and never told.
func TestStageOwedAfterFailedRun(t *testing.T) {
	t.Parallel()
	st := &MemState{}
	f := &fake{name: "slack", retry: true, errs: []error{errors.New("503")}}
	if res := run(t, st, at(1, drift.StatusDrifted, "a"), f); res[0].Err == nil || res[0].Kind != New {
		t.Fatalf("failing run: %+v", res)
	}
	for i, want := range [][]Kind{{New, New}, {New, New}} {
		res := run(t, st, at(2+i, drift.StatusDrifted, "a"), f)
		if res[0].Err != nil || !slices.Equal(f.kinds(), want) {
			t.Fatalf("run %d: %+v; calls %v, want %v", i+2, res, f.kinds(), want)
		}
	}
}

// TestStageReporterAddedLater: a reporter added to a running setup starts
// by announcing the drift that exists, and only it is counted as
// delivering.
func TestStageReporterAddedLater(t *testing.T) {
	t.Parallel()
	st := &MemState{}
	old := &fake{name: "github"}
	run(t, st, at(1, drift.StatusDrifted, "a"), old)
	added := &fake{name: "webhook[ops]"}
	var s sleeps
	var logs bytes.Buffer
	d := newTestDispatcher([]Reporter{old, added}, &s, &logs, WithState(st))
	d.Deliver(context.Background(), at(2, drift.StatusDrifted, "a"))
	if !slices.Equal(old.kinds(), []Kind{New}) || !slices.Equal(added.kinds(), []Kind{New}) {
		t.Fatalf("calls: old %v, added %v", old.kinds(), added.kinds())
	}
	if n := added.calls[0]; !n.FirstSeen.Equal(day(1)) || n.Back() {
		t.Errorf("added reporter's first alert: first seen %v, back %v; want day 1, not back", n.FirstSeen, n.Back())
	}
	if c := d.Counts(); c["github"].Delivered != 0 || c["webhook[ops]"].Delivered != 1 {
		t.Errorf("counts %+v: only what was sent counts", c)
	}
}

type picky struct {
	*fake
	wants []Kind
}

func (p picky) Wants(k Kind) bool { return slices.Contains(p.wants, k) }

// TestStageFilter: a kind the reporter does not want is recorded as told
// without a call, so it is not owed later.
func TestStageFilter(t *testing.T) {
	t.Parallel()
	st := &MemState{}
	p := picky{&fake{name: "p"}, []Kind{New}}
	for i, r := range []*drift.Report{
		at(1, drift.StatusDrifted, "a"), at(2, drift.StatusClean, ""), at(3, drift.StatusClean, ""), at(4, drift.StatusDrifted, "b"),
	} {
		if res := run(t, st, r, p); res[0].Err != nil {
			t.Fatalf("run %d: %v", i, res[0].Err)
		}
	}
	if !slices.Equal(p.kinds(), []Kind{New, New}) || !p.calls[1].Back() {
		t.Fatalf("calls %v, second back %v; want new, then new (back)", p.kinds(), p.calls[1].Back())
	}
}

// TestStageEpisode: first seen does not move while drift lasts, changes or
// the scan fails; it is reported on resolution; drift after a resolution
// is back, with a first seen of its own.
func TestStageEpisode(t *testing.T) {
	t.Parallel()
	st := &MemState{}
	f := &fake{name: "f"}
	steps := []struct {
		cur             *drift.Report
		kind            Kind
		first, resolved time.Time
		back            bool
	}{
		{at(1, drift.StatusDrifted, "a"), New, day(1), time.Time{}, false},
		{at(2, drift.StatusDrifted, "b"), Changed, day(1), time.Time{}, false},
		{at(3, drift.StatusError, ""), Error, day(1), time.Time{}, false},
		{at(4, drift.StatusDrifted, "b"), Recovered, day(1), time.Time{}, false},
		{at(5, drift.StatusClean, ""), Resolved, day(1), day(5), false},
		{at(7, drift.StatusDrifted, "c"), New, day(7), time.Time{}, true},
	}
	for i, s := range steps {
		run(t, st, s.cur, f)
		n := f.calls[len(f.calls)-1]
		if len(f.calls) != i+1 || n.Kind != s.kind || !n.FirstSeen.Equal(s.first) || !n.Resolved.Equal(s.resolved) || n.Back() != s.back {
			t.Fatalf("step %d: %d calls, last %v first seen %v resolved %v back %v; want %v %v %v %v",
				i, len(f.calls), n.Kind, n.FirstSeen, n.Resolved, n.Back(), s.kind, s.first, s.resolved, s.back)
		}
	}
	if n := f.calls[len(f.calls)-1]; !n.Before.Equal(day(5)) {
		t.Errorf("drift back: last resolved %v, want day 5", n.Before)
	}
}

// TestStagePrevCarriesDrift: the next notification says what was told,
// resource list included, so that "changed" can say what changed, and
// keeps it across a failed scan.
func TestStagePrevCarriesDrift(t *testing.T) {
	t.Parallel()
	st := &MemState{}
	f := &fake{name: "f"}
	logs := drift.ResourceChange{Address: "aws_s3_bucket.logs", Action: drift.ActionUpdate,
		Attributes: []drift.AttributeChange{{Path: "tags.env", Before: "prod", After: "dev"}}}
	role := drift.ResourceChange{Address: "aws_iam_role.ci", Action: drift.ActionDelete}
	logs2 := logs
	logs2.Attributes = []drift.AttributeChange{{Path: "tags.env", Before: "prod", After: "staging"}, {Path: "versioning", Before: true, After: false}}
	run(t, st, at(1, drift.StatusDrifted, "a", logs, role), f)
	run(t, st, at(2, drift.StatusError, ""), f)
	run(t, st, at(3, drift.StatusDrifted, "b", logs2), f)
	n := f.calls[2]
	c := n.Changes()
	if n.Kind != Changed || !c.Known || len(c.Added) != 0 || len(c.Removed) != 1 || c.Removed[0].Address != role.Address || len(c.Modified) != 1 {
		t.Fatalf("kind %v changes %+v", n.Kind, c)
	}
	m := c.Modified[0]
	if len(m.Attributes) != 2 || m.Was[0] == nil || m.Was[0].After != "dev" || m.Was[1] != nil || len(m.Gone) != 0 {
		t.Errorf("modified %+v", m)
	}
}

// TestStageStaleReport: a report of a scan older than the one told (a
// slow concurrent scan delivering late) is not told.
func TestStageStaleReport(t *testing.T) {
	t.Parallel()
	st := &MemState{}
	f := &fake{name: "f"}
	run(t, st, at(2, drift.StatusDrifted, "a"), f)
	run(t, st, at(3, drift.StatusClean, ""), f)
	if res := run(t, st, at(1, drift.StatusDrifted, "a"), f); res[0].Kind != None || len(f.calls) != 2 {
		t.Fatalf("a late old report was told: %+v, calls %v", res, f.kinds())
	}
}

type truth struct{ *fake }

func (truth) SourceOfTruth() bool { return true }

// TestStageSourceOfTruthAlwaysCalled: a reporter that is its own record
// (GitHub) is called even when the stage's record says nothing is owed.
func TestStageSourceOfTruthAlwaysCalled(t *testing.T) {
	t.Parallel()
	st := &MemState{}
	g := truth{&fake{name: "github"}}
	run(t, st, at(1, drift.StatusDrifted, "a"), g)
	run(t, st, at(2, drift.StatusDrifted, "a"), g)
	if !slices.Equal(g.kinds(), []Kind{New, None}) {
		t.Fatalf("calls %v", g.kinds())
	}
}

type failingBatch struct {
	*fake
	fail    int // batches to fail
	batches [][]Notification
}

func (f *failingBatch) NotifyBatch(_ context.Context, ns []Notification, _ int) (Receipt, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, ns)
	if len(f.batches) <= f.fail {
		return Receipt{}, true, errors.New("503")
	}
	return Receipt{Sent: true}, false, nil
}

// TestStageBatchOwes: a batch reporter gets only what it owes; a failed
// batch stays owed whole.
func TestStageBatchOwes(t *testing.T) {
	t.Parallel()
	st := &MemState{}
	b := &failingBatch{fake: &fake{name: "digest"}, fail: 1}
	mk := func(ws string, d int, s drift.Status, fp string) Delivery {
		r := at(d, s, fp)
		r.Workspace = ws
		return Delivery{Cur: r}
	}
	var s sleeps
	var logs bytes.Buffer
	deliver := func(ds ...Delivery) []Result {
		return newTestDispatcher([]Reporter{b}, &s, &logs, WithState(st), WithBackoff(Backoff{Attempts: 1})).DeliverAll(context.Background(), ds)
	}
	if res := deliver(mk("a", 1, drift.StatusDrifted, "1"), mk("b", 1, drift.StatusClean, "")); len(res) != 1 || res[0].Err == nil {
		t.Fatalf("failing batch: %+v", res)
	}
	if res := deliver(mk("a", 2, drift.StatusDrifted, "1"), mk("b", 2, drift.StatusDrifted, "2")); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("second batch: %+v", res)
	}
	deliver(mk("a", 3, drift.StatusDrifted, "1"), mk("b", 3, drift.StatusDrifted, "2"))
	if len(b.batches) != 2 || len(b.batches[1]) != 2 || b.batches[1][0].Cur.Workspace != "a" || b.batches[1][1].Cur.Workspace != "b" {
		t.Fatalf("batches: %d, second %+v", len(b.batches), b.batches)
	}
}
