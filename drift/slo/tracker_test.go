package slo_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/slo"
	"github.com/driftd/driftd/drift/store"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// countingStore counts what the Tracker reads.
type countingStore struct {
	*store.Store
	reads int // scans read by ScansAfter and ScansBack
}

func (c *countingStore) ScansBack(ctx context.Context, ws string, fn func(store.Scan) bool) error {
	return c.Store.ScansBack(ctx, ws, func(sc store.Scan) bool {
		c.reads++
		return fn(sc)
	})
}

func (c *countingStore) ScansAfter(ctx context.Context, ws string, after uint64) ([]store.Scan, error) {
	scans, err := c.Store.ScansAfter(ctx, ws, after)
	c.reads += len(scans)
	return scans, err
}

func saveAt(t *testing.T, st *store.Store, ws string, status drift.Status, at time.Time) {
	t.Helper()
	r := &drift.Report{Workspace: ws, Status: status, StartedAt: at}
	if status == drift.StatusDrifted {
		r.Drift = []drift.ResourceChange{{Address: "a.b"}}
	}
	if _, err := st.SaveReport(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func TestTracker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := &countingStore{Store: st}
	tr := slo.NewTracker(src)

	week := slo.Objective{DriftFree: 0.9, Window: 7 * 24 * time.Hour}
	targets := []slo.Target{
		{Workspace: "net", Owners: []string{"ops", "acme/net"}, Objective: week},
		{Workspace: "app", Owners: []string{"ops", "ops"}, Objective: week, Export: true},
		{Workspace: "new", Objective: week}, // never scanned, no owner
	}
	saveAt(t, st, "net", drift.StatusClean, t0)
	saveAt(t, st, "app", drift.StatusClean, t0)
	saveAt(t, st, "net", drift.StatusDrifted, t0.Add(10*time.Hour))
	saveAt(t, st, "gone", drift.StatusDrifted, t0) // not a target

	at := t0.Add(20 * time.Hour)
	f, err := tr.Compute(ctx, targets, at)
	if err != nil {
		t.Fatal(err)
	}
	if src.reads != 3 {
		t.Errorf("first Compute read %d scans, want 3", src.reads)
	}
	names := func(f *slo.Fleet) (ws, owners []string) {
		for _, w := range f.Workspaces {
			ws = append(ws, w.Workspace)
		}
		for _, o := range f.Owners {
			owners = append(owners, o.Owner)
		}
		return ws, owners
	}
	ws, owners := names(f)
	if !reflect.DeepEqual(ws, []string{"app", "net", "new"}) || !reflect.DeepEqual(owners, []string{"acme/net", "ops"}) {
		t.Errorf("workspaces %v, owners %v", ws, owners)
	}
	want := slo.Budget{Observed: 40 * time.Hour, Drifted: 10 * time.Hour, Allowed: 4 * time.Hour}
	if f.Fleet.Budget != want || f.Fleet.Workspaces != 3 || f.Fleet.Unobserved != 1 || f.Fleet.Drifting != 1 {
		t.Errorf("fleet = %+v", f.Fleet)
	}
	// app counts once for ops although listed twice.
	if ops := f.Owners[1]; ops.Budget != want || ops.Workspaces != 2 {
		t.Errorf("ops = %+v", ops)
	}
	if net := f.Owners[0]; net.Budget != (slo.Budget{Observed: 20 * time.Hour, Drifted: 10 * time.Hour, Allowed: 2 * time.Hour}) {
		t.Errorf("acme/net = %+v", net)
	}
	if !f.Workspaces[0].Export || f.Workspaces[1].Export {
		t.Errorf("Export lost: %+v", f.Workspaces)
	}

	// Only what is new is read.
	saveAt(t, st, "net", drift.StatusClean, t0.Add(22*time.Hour))
	at = t0.Add(24 * time.Hour)
	if f, err = tr.Compute(ctx, targets, at); err != nil {
		t.Fatal(err)
	}
	if src.reads != 4 {
		t.Errorf("after one more scan, %d scans read in all, want 4", src.reads)
	}
	net := f.Workspaces[1]
	if net.Budget.Drifted != 12*time.Hour || net.Resolve.Count != 1 || net.Drifting != 0 {
		t.Errorf("net after resolution = %+v", net.Summary)
	}

	// A longer window reads the history again.
	long := []slo.Target{targets[0]}
	long[0].Objective.Window = 30 * 24 * time.Hour
	if _, err = tr.Compute(ctx, long, at); err != nil {
		t.Fatal(err)
	}
	if src.reads != 7 {
		t.Errorf("after the window grew, %d scans read in all, want 7", src.reads)
	}
	// A workspace dropped from the targets is forgotten, and read again
	// when it comes back (app's one scan); a shorter window reads nothing.
	if _, err = tr.Compute(ctx, targets, at); err != nil {
		t.Fatal(err)
	}
	if src.reads != 8 {
		t.Errorf("after app came back, %d scans read in all, want 8", src.reads)
	}
}

func TestTrackerStoreError(t *testing.T) {
	t.Parallel()
	st, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := slo.NewTracker(st).Compute(ctx, nil, t0); err == nil {
		t.Error("Compute with a done context succeeded")
	}
}
