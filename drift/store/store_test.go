package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

var t0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

func openStore(t *testing.T, opts store.Options) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "driftd.db")
	s, err := store.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func report(ws string, status drift.Status, at time.Time) *drift.Report {
	r := &drift.Report{
		SchemaVersion: drift.SchemaVersion,
		Workspace:     ws,
		Status:        status,
		StartedAt:     at,
		Duration:      3 * time.Second,
		Drift:         []drift.ResourceChange{},
		Pending:       []drift.ResourceChange{},
	}
	if status == drift.StatusDrifted {
		r.Drift = []drift.ResourceChange{{Address: "null_resource.a", Type: "null_resource", Name: "a", Action: drift.ActionUpdate}}
		r.Fingerprint = "fp-" + ws
	}
	if status == drift.StatusError {
		r.Error = "plan failed"
	}
	return r
}

// reopen closes s and opens its file again.
func reopen(t *testing.T, s *store.Store, path string) *store.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

func save(t *testing.T, s *store.Store, r *drift.Report) store.Scan {
	t.Helper()
	sc, err := s.SaveReport(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "nested", "driftd.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Dir(path), 0o700 | os.ModeDir},
		{path, 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.want {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.want)
		}
	}
}

func TestOpenRefusesSecondOpener(t *testing.T) {
	t.Parallel()
	_, path := openStore(t, store.Options{})
	_, err := store.Open(path, store.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrInUse) {
		t.Fatalf("second Open: got %v, want ErrInUse", err)
	}
	if want := "store " + path + " is in use by another driftd"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestOpenRejectsNegativeRetention(t *testing.T) {
	t.Parallel()
	for _, opts := range []store.Options{{MaxAge: -time.Hour}, {MaxScans: -1}} {
		if s, err := store.Open(filepath.Join(t.TempDir(), "x.db"), opts); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", opts)
		}
	}
}

func TestReportRoundTrip(t *testing.T) {
	t.Parallel()
	s, path := openStore(t, store.Options{})
	ctx := context.Background()

	if r, err := s.LastReport(ctx, "prod"); r != nil || err != nil {
		t.Fatalf("LastReport of unknown workspace = %v, %v; want nil, nil", r, err)
	}
	first := report("prod", drift.StatusClean, t0)
	second := &drift.Report{
		SchemaVersion:    drift.SchemaVersion,
		Workspace:        "prod",
		Status:           drift.StatusDrifted,
		StartedAt:        t0.Add(time.Hour),
		Duration:         1500 * time.Millisecond,
		TerraformVersion: "1.11.4",
		RefreshOnly:      true,
		Commit:           "0123abcd",
		Owners:           []string{"@org/platform"},
		Drift: []drift.ResourceChange{{
			Address: `module.net.aws_security_group.web["a"]`, Module: "module.net", Type: "aws_security_group",
			Name: "web", ProviderName: "registry.terraform.io/hashicorp/aws", Action: drift.ActionUpdate,
			Attributes: []drift.AttributeChange{
				{Path: `tags["env"]`, Before: "prod", After: "staging"},
				{Path: "port", Before: float64(443), After: float64(8443)},
				{Path: "password", Before: drift.SensitiveMarker, After: drift.SensitiveMarker, Sensitive: true},
				{Path: "enabled", Before: true, After: nil, Unknown: true},
			},
		}},
		Pending:     []drift.ResourceChange{{Address: "null_resource.b", Type: "null_resource", Name: "b", Action: drift.ActionCreate}},
		Outputs:     []drift.OutputChange{{Name: "url", Action: drift.ActionUpdate, Before: "a", After: "b"}},
		Ignored:     2,
		Fingerprint: "sha256:feed",
	}
	save(t, s, first)
	save(t, s, second)

	got, err := s.LastReport(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, second) {
		t.Errorf("LastReport after two saves:\n got %+v\nwant %+v", got, second)
	}

	// The report survives reopening.
	s2 := reopen(t, s, path)
	got, err = s2.LastReport(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, second) {
		t.Errorf("LastReport after reopen:\n got %+v\nwant %+v", got, second)
	}
}

func TestSaveReportScan(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	ctx := context.Background()

	long := strings.Repeat("é", 600) // 1200 bytes: the cut must not split a rune
	r := report("prod", drift.StatusError, t0)
	r.Error = long
	r.Commit = "abc"
	r.TerraformVersion = "1.11.4"
	r.Pending = make([]drift.ResourceChange, 3)
	got := save(t, s, r)

	want := store.Scan{
		ID: got.ID, Workspace: "prod", StartedAt: t0, Duration: 3 * time.Second, Status: drift.StatusError,
		Pending: 3, Commit: "abc", TerraformVersion: "1.11.4", Error: strings.Repeat("é", 512),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SaveReport:\n got %+v\nwant %+v", got, want)
	}
	scans, err := s.Scans(ctx, "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 1 || !reflect.DeepEqual(scans[0], want) {
		t.Errorf("Scans = %+v, want [%+v]", scans, want)
	}
	last, err := s.LastReport(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if last.Error != long {
		t.Errorf("the full report lost its error text (%d bytes)", len(last.Error))
	}
	if _, err := s.SaveReport(ctx, &drift.Report{}); err == nil {
		t.Error("SaveReport of a report without workspace succeeded")
	}
}

func TestScansNewestFirst(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	ctx := context.Background()
	var ids []uint64
	for i := range 5 {
		ids = append(ids, save(t, s, report("a", drift.StatusClean, t0.Add(time.Duration(i)*time.Hour))).ID)
		save(t, s, report("b", drift.StatusClean, t0)) // interleaved: IDs are store-wide
	}
	for _, c := range []struct {
		limit int
		want  []uint64
	}{
		{0, []uint64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{-1, []uint64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{2, []uint64{ids[4], ids[3]}},
		{9, []uint64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
	} {
		scans, err := s.Scans(ctx, "a", c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := scanIDs(scans); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Scans(limit %d) = %v, want %v", c.limit, got, c.want)
		}
	}
	if scans, err := s.Scans(ctx, "nope", 0); err != nil || len(scans) != 0 {
		t.Errorf("Scans of unknown workspace = %v, %v", scans, err)
	}
	// ScansBack reads no further than asked.
	var got []uint64
	err := s.ScansBack(ctx, "a", func(sc store.Scan) bool {
		got = append(got, sc.ID)
		return sc.ID != ids[3]
	})
	if err != nil || !reflect.DeepEqual(got, []uint64{ids[4], ids[3]}) {
		t.Errorf("ScansBack stopping at %d called fn with %v, %v", ids[3], got, err)
	}
}

func TestScansAfterOldestFirst(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	ctx := context.Background()
	var ids []uint64
	for i := range 4 {
		ids = append(ids, save(t, s, report("a", drift.StatusClean, t0.Add(time.Duration(i)*time.Hour))).ID)
		save(t, s, report("b", drift.StatusClean, t0))
	}
	for _, c := range []struct {
		after uint64
		want  []uint64
	}{
		{0, ids},
		{ids[1], ids[2:]},
		{ids[1] + 1, ids[2:]}, // b's ID, between two of a's
		{ids[3], nil},
		{^uint64(0), nil},
	} {
		scans, err := s.ScansAfter(ctx, "a", c.after)
		if err != nil {
			t.Fatal(err)
		}
		if got := scanIDs(scans); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ScansAfter(%d) = %v, want %v", c.after, got, c.want)
		}
	}
	if scans, err := s.ScansAfter(ctx, "nope", 0); err != nil || len(scans) != 0 {
		t.Errorf("ScansAfter of unknown workspace = %v, %v", scans, err)
	}
}

func scanIDs(scans []store.Scan) []uint64 {
	var ids []uint64
	for _, sc := range scans {
		ids = append(ids, sc.ID)
	}
	return ids
}

func TestRetention(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	now := t0.Add(100 * day)
	tests := []struct {
		name string
		opts store.Options
		ages []time.Duration // how long before now each scan started, oldest first
		keep []int           // indexes into ages that survive
	}{
		{"unlimited", store.Options{}, []time.Duration{400 * day, 200 * day, 0}, []int{0, 1, 2}},
		{"by count", store.Options{MaxScans: 3}, []time.Duration{5, 4, 3, 2, 1}, []int{2, 3, 4}},
		{"count of one", store.Options{MaxScans: 1}, []time.Duration{3, 2, 1}, []int{2}},
		{"under count", store.Options{MaxScans: 10}, []time.Duration{3, 2, 1}, []int{0, 1, 2}},
		{"by age", store.Options{MaxAge: 30 * day}, []time.Duration{90 * day, 31 * day, 29 * day, day}, []int{2, 3}},
		{"age boundary kept", store.Options{MaxAge: 30 * day}, []time.Duration{30 * day, day}, []int{0, 1}},
		{"newest kept however old", store.Options{MaxAge: day}, []time.Duration{9 * day, 8 * day}, []int{1}},
		{"age and count", store.Options{MaxAge: 30 * day, MaxScans: 2}, []time.Duration{40 * day, 3 * day, 2 * day, day}, []int{2, 3}},
		{"count and age", store.Options{MaxAge: 30 * day, MaxScans: 3}, []time.Duration{40 * day, 35 * day, 2 * day, day}, []int{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Another workspace's old history, written before retention
			// applied, must survive saves to "ws".
			path := filepath.Join(t.TempDir(), "driftd.db")
			s, err := store.Open(path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				save(t, s, report("other", drift.StatusClean, now.Add(-1000*day)))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			opts := tt.opts
			opts.Clock = func() time.Time { return now }
			s, err = store.Open(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			var ids []uint64
			for _, age := range tt.ages {
				ids = append(ids, save(t, s, report("ws", drift.StatusClean, now.Add(-age))).ID)
			}
			var want []uint64
			for i := len(tt.keep) - 1; i >= 0; i-- {
				want = append(want, ids[tt.keep[i]])
			}
			scans, err := s.Scans(context.Background(), "ws", 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := scanIDs(scans); !reflect.DeepEqual(got, want) {
				t.Errorf("kept %v, want %v", got, want)
			}
			other, err := s.Scans(context.Background(), "other", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(other) != 3 {
				t.Errorf("other workspace kept %d scans, want 3", len(other))
			}
		})
	}
}

// TestSetRetention: limits changed on a running store apply from the next
// save; negative ones are refused and change nothing.
func TestSetRetention(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	for i := range 5 {
		save(t, s, report("ws", drift.StatusClean, t0.Add(time.Duration(i)*time.Hour)))
	}
	count := func() int {
		t.Helper()
		scans, err := s.Scans(context.Background(), "ws", 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(scans)
	}
	if err := s.SetRetention(-time.Hour, 2); err == nil {
		t.Error("negative max age accepted")
	}
	if err := s.SetRetention(0, -1); err == nil {
		t.Error("negative max scans accepted")
	}
	save(t, s, report("ws", drift.StatusClean, t0.Add(5*time.Hour)))
	if n := count(); n != 6 {
		t.Fatalf("%d scans kept after refused limits, want 6", n)
	}
	if err := s.SetRetention(0, 2); err != nil {
		t.Fatal(err)
	}
	save(t, s, report("ws", drift.StatusClean, t0.Add(6*time.Hour)))
	if n := count(); n != 2 {
		t.Fatalf("%d scans kept under max_scans 2, want 2", n)
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	const (
		D = drift.StatusDrifted
		C = drift.StatusClean
		E = drift.StatusError
	)
	tests := []struct {
		name          string
		statuses      []drift.Status // scan i starts at hour i
		drifting      time.Time
		lastClean     time.Time
		wantLastDrift int
	}{
		{"first drifted", []drift.Status{D}, at(0), time.Time{}, 1},
		{"drifted drifted", []drift.Status{D, D}, at(0), time.Time{}, 1},
		{"drifted drifted clean", []drift.Status{D, D, C}, time.Time{}, at(2), 0},
		{"drifted drifted clean drifted", []drift.Status{D, D, C, D}, at(3), at(2), 1},
		{"clean drifted drifted", []drift.Status{C, D, D}, at(1), at(0), 1},
		{"error keeps the run", []drift.Status{D, E, D}, at(0), time.Time{}, 1},
		{"error after clean", []drift.Status{C, E}, time.Time{}, at(0), 0},
		{"error then drift", []drift.Status{E, D}, at(1), time.Time{}, 1},
		{"only errors", []drift.Status{E, E}, time.Time{}, time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openStore(t, store.Options{})
			var last store.Scan
			for i, st := range tt.statuses {
				last = save(t, s, report("ws", st, at(i)))
			}
			sums, err := s.Workspaces(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := []store.Summary{{Workspace: "ws", Last: last, DriftingSince: tt.drifting, LastClean: tt.lastClean}}
			if !reflect.DeepEqual(sums, want) {
				t.Errorf("Workspaces:\n got %+v\nwant %+v", sums, want)
			}
			if sums[0].Last.Drifted != tt.wantLastDrift {
				t.Errorf("Last.Drifted = %d, want %d", sums[0].Last.Drifted, tt.wantLastDrift)
			}
		})
	}
}

func TestWorkspacesSortedByName(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	if sums, err := s.Workspaces(context.Background()); err != nil || len(sums) != 0 {
		t.Fatalf("empty store: Workspaces = %v, %v", sums, err)
	}
	for _, ws := range []string{"staging", "prod", "dev", "prod"} {
		save(t, s, report(ws, drift.StatusClean, t0))
	}
	// State alone does not make a workspace.
	if err := s.PutState(context.Background(), "zeta", "github", []byte("1")); err != nil {
		t.Fatal(err)
	}
	sums, err := s.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sum := range sums {
		names = append(names, sum.Workspace)
	}
	if want := []string{"dev", "prod", "staging"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Workspaces = %v, want %v", names, want)
	}
}

// TestWorkspacesShared: Workspaces copies nothing (the status page reads
// every summary on every view), and a slice it returned never changes,
// whatever is saved after. Not parallel: it counts allocations.
func TestWorkspacesShared(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, store.Options{})
	for _, ws := range []string{"b", "d"} {
		save(t, s, report(ws, drift.StatusClean, t0))
	}
	lent, err := s.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(lent)
	if n := testing.AllocsPerRun(100, func() { _, _ = s.Workspaces(ctx) }); n != 0 {
		t.Errorf("Workspaces allocates %.0f times a call, want 0", n)
	}
	// A changed summary, one inserted before and one after.
	save(t, s, report("b", drift.StatusDrifted, t0.Add(time.Hour)))
	save(t, s, report("a", drift.StatusClean, t0.Add(time.Hour)))
	save(t, s, report("e", drift.StatusClean, t0.Add(time.Hour)))
	if !reflect.DeepEqual(lent, before) {
		t.Errorf("a slice Workspaces returned changed after saves:\n got %+v\nwant %+v", lent, before)
	}
	// Appending to it cannot write into the store's copy either.
	_ = append(lent, store.Summary{Workspace: "z"})
	now, err := s.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sum := range now {
		names = append(names, sum.Workspace)
	}
	if want := []string{"a", "b", "d", "e"}; !reflect.DeepEqual(names, want) || now[1].Last.Status != drift.StatusDrifted {
		t.Errorf("after the saves, Workspaces = %v (b %s), want %v (b drifted)", names, now[1].Last.Status, want)
	}
}

func TestState(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	ctx := context.Background()
	type op struct {
		put          bool
		ws, reporter string
		data         string
		wantNil      bool // for gets
		wantData     string
	}
	steps := []op{
		{ws: "prod", reporter: "github", wantNil: true},
		{put: true, ws: "prod", reporter: "github", data: `{"issue":42}`},
		{ws: "prod", reporter: "github", wantData: `{"issue":42}`},
		{ws: "prod", reporter: "slack", wantNil: true},
		{ws: "dev", reporter: "github", wantNil: true},
		{put: true, ws: "prod", reporter: "slack", data: "1700000000.000100"},
		{put: true, ws: "prod", reporter: "github", data: `{"issue":43}`},
		{ws: "prod", reporter: "github", wantData: `{"issue":43}`},
		{ws: "prod", reporter: "slack", wantData: "1700000000.000100"},
		{put: true, ws: "prod", reporter: "github", data: ""},
		{ws: "prod", reporter: "github", wantNil: true},
		{ws: "prod", reporter: "slack", wantData: "1700000000.000100"},
		{put: true, ws: "never", reporter: "github", data: ""},
	}
	for i, st := range steps {
		if st.put {
			if err := s.PutState(ctx, st.ws, st.reporter, []byte(st.data)); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			continue
		}
		got, err := s.GetState(ctx, st.ws, st.reporter)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if st.wantNil {
			if got != nil {
				t.Errorf("step %d: GetState(%s, %s) = %q, want nil", i, st.ws, st.reporter, got)
			}
			continue
		}
		if string(got) != st.wantData {
			t.Errorf("step %d: GetState(%s, %s) = %q, want %q", i, st.ws, st.reporter, got, st.wantData)
		}
	}

	// The returned bytes belong to the caller.
	got, _ := s.GetState(ctx, "prod", "slack")
	got[0] = 'X'
	if again, _ := s.GetState(ctx, "prod", "slack"); string(again) != "1700000000.000100" {
		t.Errorf("caller's write reached the store: %q", again)
	}
	if err := s.PutState(ctx, "", "github", []byte("x")); err == nil {
		t.Error("PutState with empty workspace succeeded")
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{}
	_, checks["SaveReport"] = s.SaveReport(ctx, report("ws", drift.StatusClean, t0))
	_, checks["LastReport"] = s.LastReport(ctx, "ws")
	_, checks["Scans"] = s.Scans(ctx, "ws", 0)
	_, checks["Workspaces"] = s.Workspaces(ctx)
	_, checks["GetState"] = s.GetState(ctx, "ws", "github")
	checks["PutState"] = s.PutState(ctx, "ws", "github", []byte("1"))
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with canceled ctx: %v, want context.Canceled", op, err)
		}
	}
	if sums, _ := s.Workspaces(context.Background()); len(sums) != 0 {
		t.Errorf("a canceled SaveReport wrote %v", sums)
	}
}

func TestConcurrentSaveReport(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{MaxScans: 1000})
	const goroutines, each = 8, 25
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[uint64]bool{}
	)
	for g := range goroutines {
		wg.Go(func() {
			ws := fmt.Sprintf("ws%d", g%4)
			for i := range each {
				sc, err := s.SaveReport(context.Background(), report(ws, drift.StatusDrifted, t0.Add(time.Duration(i)*time.Minute)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[sc.ID] {
					t.Errorf("ID %d handed out twice", sc.ID)
				}
				seen[sc.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != goroutines*each {
		t.Fatalf("%d distinct IDs, want %d", len(seen), goroutines*each)
	}
	sums, err := s.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 4 {
		t.Fatalf("%d workspaces, want 4", len(sums))
	}
	for _, sum := range sums {
		scans, err := s.Scans(context.Background(), sum.Workspace, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(scans) != goroutines/4*each {
			t.Errorf("%s: %d scans, want %d", sum.Workspace, len(scans), goroutines/4*each)
		}
		if sum.Last.ID != scans[0].ID {
			t.Errorf("%s: summary's last scan %d, history's newest %d", sum.Workspace, sum.Last.ID, scans[0].ID)
		}
	}
}

// history is n hourly scans of ws from start: clean, with a drifted
// stretch and a failed scan, each at a commit.
func history(ws string, start time.Time, n int) []*drift.Report {
	rs := make([]*drift.Report, n)
	for i := range rs {
		st := drift.StatusClean
		switch {
		case i%50 == 17:
			st = drift.StatusError
		case i%10 >= 7:
			st = drift.StatusDrifted
		}
		r := report(ws, st, start.Add(time.Duration(i)*time.Hour))
		r.Commit = fmt.Sprintf("%040x", i/24)
		r.TerraformVersion = "1.11.4"
		rs[i] = r
	}
	return rs
}

func TestSaveReportsIsSaveReportInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var rs []*drift.Report
	for i, r := range history("a", t0, 30) {
		rs = append(rs, r, history("b", t0.Add(time.Minute), 30)[i])
	}
	rs = append(rs, report("c", drift.StatusError, t0))
	opts := store.Options{MaxScans: 20, Clock: func() time.Time { return t0.Add(40 * time.Hour) }}
	one, _ := openStore(t, opts)
	batch, _ := openStore(t, opts)
	var want []store.Scan
	for _, r := range rs {
		want = append(want, save(t, one, r))
	}
	got, err := batch.SaveReports(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SaveReports returned\n %+v\nwant %+v", got, want)
	}
	for _, s := range []*store.Store{one, batch} {
		for _, ws := range []string{"a", "b", "c"} {
			if scans, _ := s.Scans(ctx, ws, 0); ws != "c" && len(scans) != 20 {
				t.Errorf("%s kept %d scans, want 20", ws, len(scans))
			}
		}
	}
	for _, ws := range []string{"a", "b", "c"} {
		wantScans, _ := one.Scans(ctx, ws, 0)
		gotScans, err := batch.Scans(ctx, ws, 0)
		if err != nil || !reflect.DeepEqual(gotScans, wantScans) {
			t.Errorf("%s: batch history %+v, %v\nwant %+v", ws, gotScans, err, wantScans)
		}
		wantRep, _ := one.LastReport(ctx, ws)
		gotRep, _ := batch.LastReport(ctx, ws)
		if !reflect.DeepEqual(gotRep, wantRep) {
			t.Errorf("%s: batch last report %+v, want %+v", ws, gotRep, wantRep)
		}
	}
	wantSums, _ := one.Workspaces(ctx)
	gotSums, _ := batch.Workspaces(ctx)
	if !reflect.DeepEqual(gotSums, wantSums) {
		t.Errorf("batch summaries\n %+v\nwant %+v", gotSums, wantSums)
	}
}

func TestSaveReportsAllOrNothing(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	if _, err := s.SaveReports(context.Background(), []*drift.Report{report("a", drift.StatusClean, t0), {}}); err == nil {
		t.Fatal("SaveReports with a report without workspace succeeded")
	}
	if sums, _ := s.Workspaces(context.Background()); len(sums) != 0 {
		t.Errorf("a refused batch saved %+v", sums)
	}
}

// The summaries the store keeps in memory are the file's: after writes
// in any order, a reopened store reads the same.
func TestSummariesInMemoryMatchFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, store.Options{})
	for i, ws := range []string{"m", "c", "x", "a", "c", "m"} {
		save(t, s, report(ws, []drift.Status{drift.StatusDrifted, drift.StatusClean, drift.StatusError}[i%3], t0.Add(time.Duration(i)*time.Hour)))
	}
	inMemory, err := s.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sum := range inMemory {
		names = append(names, sum.Workspace)
		one, ok, err := s.Summary(ctx, sum.Workspace)
		if err != nil || !ok || !reflect.DeepEqual(one, sum) {
			t.Errorf("Summary(%s) = %+v, %v, %v; want %+v", sum.Workspace, one, ok, err, sum)
		}
	}
	if want := []string{"a", "c", "m", "x"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Workspaces = %v, want %v", names, want)
	}
	if _, ok, err := s.Summary(ctx, "nope"); ok || err != nil {
		t.Errorf("Summary of an unknown workspace: %v, %v", ok, err)
	}
	fromFile, err := reopen(t, s, path).Workspaces(ctx)
	if err != nil || !reflect.DeepEqual(fromFile, inMemory) {
		t.Errorf("after reopen:\n got %+v, %v\nwant %+v", fromFile, err, inMemory)
	}
}

// A fleet's history costs less than a hundred bytes a scan, and
// retention keeps the file from growing once it holds what it keeps:
// freed pages are reused.
func TestHistoryFileSize(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 80,000 scans")
	}
	t.Parallel()
	const workspaces, perRound, keep = 40, 500, 500
	path := filepath.Join(t.TempDir(), "driftd.db")
	// used is the file's high-water mark: bbolt grows the file itself in
	// steps of up to 16 MiB.
	used := func() int64 {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int64
		_ = db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
		return n
	}
	var sizes []int64
	for round := range 4 {
		s, err := store.Open(path, store.Options{MaxScans: keep})
		if err != nil {
			t.Fatal(err)
		}
		for w := range workspaces {
			rs := history(fmt.Sprintf("workspace-%03d", w), t0.Add(time.Duration(round*perRound)*time.Hour), perRound)
			if _, err := s.SaveReports(context.Background(), rs); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, used())
	}
	rows := int64(workspaces * keep)
	if per := sizes[0] / rows; per > 100 {
		t.Errorf("%d scans take %d bytes, %d a scan; want at most 100", rows, sizes[0], per)
	}
	// Rounds after the first replace every scan; the file may grow by what
	// a transaction holds while the pages it frees are still in use.
	if grown := sizes[3] - sizes[1]; grown > sizes[0]/10 {
		t.Errorf("bytes used by round %v: grew %d bytes after retention took over", sizes, grown)
	}
	t.Logf("bytes used by round: %v (%d scans kept)", sizes, rows)
}

// Changes moves with every save, and only then.
func TestChanges(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, store.Options{})
	if c := s.Changes(); c != 0 {
		t.Fatalf("a new store has %d changes", c)
	}
	save(t, s, report("ws", drift.StatusClean, t0))
	c1 := s.Changes()
	if _, err := s.Workspaces(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c1 == 0 || s.Changes() != c1 {
		t.Errorf("changes %d after a save and %d after a read", c1, s.Changes())
	}
	if _, err := s.SaveReports(context.Background(), []*drift.Report{report("a", drift.StatusClean, t0), report("b", drift.StatusDrifted, t0)}); err != nil {
		t.Fatal(err)
	}
	if s.Changes() <= c1 {
		t.Errorf("changes %d after a second save, %d before", s.Changes(), c1)
	}
}
