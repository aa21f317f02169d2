package scan

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
)

func TestAllIsolatesFailuresAndKeepsOrder(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	plan := func(ctx context.Context, ws config.Workspace, _ string) (*Planned, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		switch ws.Name {
		case "panics":
			panic("boom")
		case "fails":
			return nil, errors.New("Error: provider exploded")
		case "nil":
			return nil, nil
		}
		return &Planned{Plan: &tfjson.Plan{TerraformVersion: "1.11.4"}, Commit: "abc"}, nil
	}
	names := []string{"a", "panics", "b", "fails", "c", "nil", "d", "e"}
	var wss []config.Workspace
	for _, n := range names {
		wss = append(wss, config.Workspace{Name: n})
	}
	var events atomic.Int32
	s := &Scanner{Plan: plan, OnEvent: func(Event) { events.Add(1) }}
	reports := s.All(context.Background(), wss, 3)

	want := map[string]drift.Status{"panics": drift.StatusError, "fails": drift.StatusError, "nil": drift.StatusError}
	for i, r := range reports {
		if r.Workspace != names[i] {
			t.Errorf("report %d is %s, want %s", i, r.Workspace, names[i])
		}
		status, ok := want[r.Workspace]
		if !ok {
			status = drift.StatusClean
		}
		if r.Status != status {
			t.Errorf("%s: status %s, want %s", r.Workspace, r.Status, status)
		}
		if status == drift.StatusClean && r.Commit != "abc" {
			t.Errorf("%s: commit %q not carried into the report", r.Workspace, r.Commit)
		}
	}
	if got := maxInFlight.Load(); got > 3 {
		t.Errorf("%d scans at once, limit 3", got)
	}
	if got := events.Load(); got != int32(2*len(names)) {
		t.Errorf("%d events, want a start and an end per workspace (%d)", got, 2*len(names))
	}
}
