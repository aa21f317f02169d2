package scan

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
)

func driftedPlan(after string) *tfjson.Plan {
	rc := &tfjson.ResourceChange{
		Address: "testbed_object.web", Type: "testbed_object", Name: "web",
		Change: &tfjson.Change{
			Actions: tfjson.Actions{tfjson.ActionUpdate},
			Before:  map[string]any{"content": "v1", "size": 3},
			After:   map[string]any{"content": after, "size": 3},
		},
	}
	return &tfjson.Plan{TerraformVersion: "1.11.4", ResourceDrift: []*tfjson.ResourceChange{rc}}
}

// TestReportCache: what the Scanner tells the PlanFunc it knows, and what
// it reports, as plans repeat, change, and the cache goes bad.
func TestReportCache(t *testing.T) {
	cache, err := NewReportCache(filepath.Join(t.TempDir(), "reports"))
	if err != nil {
		t.Fatal(err)
	}
	// The fake planner's plan for the next scan: its key, and its drift.
	var (
		key, content string
		gotKnown     string
		claimKnown   bool
	)
	plan := func(_ context.Context, _ config.Workspace, known string) (*Planned, error) {
		gotKnown = known
		if claimKnown || key == known && known != "" {
			return &Planned{PlanKey: key, Known: true}, nil
		}
		return &Planned{Plan: driftedPlan(content), PlanKey: key}, nil
	}
	clock := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	s := &Scanner{Plan: plan, Reports: cache, Now: func() time.Time { clock = clock.Add(time.Minute); return clock }}
	ws := config.Workspace{Name: "web", Owners: []string{"alice"}}
	perScan := func(r *drift.Report) drift.Report {
		c := *r
		c.ScanID, c.StartedAt, c.Duration = "", time.Time{}, 0
		return c
	}

	key, content = "k1", "edited"
	first := s.One(context.Background(), ws)
	if gotKnown != "" || first.Status != drift.StatusDrifted {
		t.Fatalf("first scan: known %q, status %s (%s)", gotKnown, first.Status, first.Error)
	}

	steps := []struct {
		name      string
		setup     func()
		wantKnown string
		want      drift.Status
		sameAs    *drift.Report // nil: not compared
	}{
		{"same plan", func() {}, "k1", drift.StatusDrifted, first},
		{"owners changed: reused, with the new owners", func() { ws.Owners = []string{"bob"} }, "k1", drift.StatusDrifted, nil},
		{"ignore rules changed", func() { ws.Ignore = []drift.IgnoreRule{{Attributes: []string{"size"}}} }, "", drift.StatusDrifted, nil},
		{"other drift", func() { key, content = "k2", "edited again" }, "k1", drift.StatusDrifted, nil},
		{"the other drift again", func() {}, "k2", drift.StatusDrifted, nil},
		{"corrupt cache file", func() {
			if err := os.WriteFile(cache.path("web"), []byte(`{"analysis": `), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "", drift.StatusDrifted, nil},
		{"planner claims a plan known that was not", func() {
			if err := os.Remove(cache.path("web")); err != nil {
				t.Fatal(err)
			}
			claimKnown = true
		}, "", drift.StatusError, nil},
	}
	for _, st := range steps {
		st.setup()
		r := s.One(context.Background(), ws)
		if gotKnown != st.wantKnown || r.Status != st.want {
			t.Errorf("%s: known %q, want %q; status %s, want %s (%s)", st.name, gotKnown, st.wantKnown, r.Status, st.want, r.Error)
		}
		if st.sameAs != nil && !reflect.DeepEqual(perScan(r), perScan(st.sameAs)) {
			t.Errorf("%s: report\n%+v\nwant\n%+v", st.name, perScan(r), perScan(st.sameAs))
		}
		if r.Status != drift.StatusError && (!reflect.DeepEqual(r.Owners, ws.Owners) || !r.StartedAt.Equal(clock.Add(-time.Minute))) {
			t.Errorf("%s: owners %v, started %v; want %v, %v", st.name, r.Owners, r.StartedAt, ws.Owners, clock.Add(-time.Minute))
		}
	}
}

// TestAnalysisKeyCoversOptions fails when drift.Options gains a field: a
// field that changes reports must go into analysisKey, one that is per
// scan must be set on a reused report in Scanner.One.
func TestAnalysisKeyCoversOptions(t *testing.T) {
	handled := map[string]string{
		"Workspace": "key", "RefreshOnly": "key", "Ignore": "key",
		"Owners": "set on reuse", "StartedAt": "set on reuse",
		"PreviousReads": "part of the plan file, which its key covers",
	}
	typ := reflect.TypeFor[drift.Options]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; handled[name] == "" {
			t.Errorf("drift.Options.%s: not in analysisKey and not set on a reused report", name)
		}
	}
}

// TestReportCachePrune: reports stored before the cutoff go, with temporary
// files a killed driftd left; recent ones and other files stay.
func TestReportCachePrune(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	cache, err := NewReportCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &drift.Report{Workspace: "x", Status: drift.StatusDrifted}
	for _, ws := range []string{"gone", "recent"} {
		r.Workspace = ws
		if err := cache.store(drift.Options{Workspace: ws}, "k", r); err != nil {
			t.Fatal(err)
		}
	}
	stray := filepath.Join(dir, "gone.json.123.tmp")
	other := filepath.Join(dir, "README")
	for _, p := range []string{stray, other} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-31 * 24 * time.Hour)
	for _, p := range []string{cache.path("gone"), stray, other} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	n, err := cache.Prune(time.Now().Add(-30 * 24 * time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1 removed", n, err)
	}
	for p, want := range map[string]bool{cache.path("gone"): false, stray: false, cache.path("recent"): true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: kept = %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if known, _, err := cache.lookup(drift.Options{Workspace: "recent"}); known != "k" || err != nil {
		t.Errorf("recent entry after prune: key %q, err %v", known, err)
	}
}
