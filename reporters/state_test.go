package reporters_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/reporters"
)

// The store keeps reporter bookkeeping in the daemon; it must be a State.
var _ reporters.State = (*store.Store)(nil)

func TestMemStateMissingIsNil(t *testing.T) {
	t.Parallel()
	var s reporters.MemState
	var bm reporters.Bookmark
	found, err := reporters.LoadJSON(context.Background(), &s, "w", "slack", &bm)
	if err != nil || found {
		t.Fatalf("found %v err %v", found, err)
	}
	if err := s.PutState(context.Background(), "w", "slack", []byte(`{"status":"drifted","fingerprint":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if found, err := reporters.LoadJSON(context.Background(), &s, "w", "slack", &bm); !found || err != nil || bm.Fingerprint != "a" {
		t.Fatalf("found %v err %v bm %+v", found, err, bm)
	}
}

// TestStoreKeepsWhatWasToldAcrossRestarts: with the store (driftd serve),
// a daemon restarted between scans keeps the first-seen time and what was
// told: the same drift is not told again, a change is told with what
// changed.
func TestStoreKeepsWhatWasToldAcrossRestarts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "driftd.db")
	day := func(d int) time.Time { return time.Date(2026, 3, d, 2, 0, 0, 0, time.UTC) }
	rc := drift.ResourceChange{Address: "x.y", Action: drift.ActionUpdate, Attributes: []drift.AttributeChange{{Path: "a", Before: "1", After: "2"}}}
	rc2 := rc
	rc2.Attributes = []drift.AttributeChange{{Path: "a", Before: "1", After: "3"}}
	var got []reporters.Notification
	rec := recorder{notify: func(n reporters.Notification) { got = append(got, n) }}
	for i, cur := range []*drift.Report{
		{Workspace: "w", Status: drift.StatusDrifted, Fingerprint: "a", Drift: []drift.ResourceChange{rc}, StartedAt: day(1)},
		{Workspace: "w", Status: drift.StatusDrifted, Fingerprint: "a", Drift: []drift.ResourceChange{rc}, StartedAt: day(2)},
		{Workspace: "w", Status: drift.StatusDrifted, Fingerprint: "b", Drift: []drift.ResourceChange{rc2}, StartedAt: day(3)},
	} {
		st, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{rec}, reporters.WithState(st))
		if res := d.Deliver(context.Background(), cur); res[0].Err != nil {
			t.Fatalf("run %d: %v", i, res[0].Err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[1].Kind != reporters.Changed || !got[1].FirstSeen.Equal(day(1)) || len(got[1].Changes().Modified) != 1 {
		t.Fatalf("notifications %+v: want new, then changed (first seen day 1, one resource drifted differently)", got)
	}
}

type recorder struct{ notify func(reporters.Notification) }

func (recorder) Name() string { return "webhook[test]" }
func (r recorder) Notify(_ context.Context, n reporters.Notification) (reporters.Receipt, bool, error) {
	r.notify(n)
	return reporters.Receipt{Sent: true}, false, nil
}
