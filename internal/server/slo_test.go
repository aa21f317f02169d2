package server_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/driftd/driftd/drift/slo"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/server"
)

// sloTargets gives four of the estate's workspaces an objective:
//
//	network  clean from -52h, drifted from -40h on          owner ops
//	billing  clean -30h, drifted -20h, failed -10m          owners ops, fin; resolve within 12h
//	iam      clean -26h, drifted -30m                        owner sec; its own series
//	dns      clean -40m                                      no owner
var sloTargets = []slo.Target{
	{Workspace: "network", Owners: []string{"ops"}, Objective: slo.Objective{DriftFree: 0.99, Window: 30 * 24 * time.Hour}},
	{Workspace: "billing", Owners: []string{"ops", "fin"}, Objective: slo.Objective{DriftFree: 0.9, Window: 30 * 24 * time.Hour, ResolveWithin: 12 * time.Hour}},
	{Workspace: "iam", Owners: []string{"sec"}, Objective: slo.Objective{DriftFree: 0.99, Window: 7 * 24 * time.Hour}, Export: true},
	{Workspace: "dns", Objective: slo.Objective{DriftFree: 0.99, Window: 30 * 24 * time.Hour}},
}

func withSLO(st *store.Store) func(*server.Options) {
	tr := slo.NewTracker(st)
	return func(o *server.Options) {
		o.SLO = func(ctx context.Context) (*slo.Fleet, error) { return tr.Compute(ctx, sloTargets, now) }
	}
}

// apiSLO is the part of the JSON API's SLO summary the tests read.
type apiSLO struct {
	Owner      string
	Workspace  string
	Owners     []string
	Workspaces int
	Objective  struct {
		DriftFree     *float64      `json:"drift_free"`
		Window        time.Duration `json:"window_ns"`
		ResolveWithin time.Duration `json:"resolve_within_ns"`
	}
	DriftFree   *float64 `json:"drift_free"`
	ErrorBudget struct {
		Observed  time.Duration `json:"observed_ns"`
		Drifted   time.Duration `json:"drifted_ns"`
		Allowed   time.Duration `json:"allowed_ns"`
		Remaining *float64
	} `json:"error_budget"`
	BurnRates     map[string]*float64 `json:"burn_rates"`
	Drifting      int
	Overdue       int
	OldestDrift   time.Duration `json:"oldest_drift_ns"`
	DriftingSince time.Time     `json:"drifting_since"`
	Scans         struct {
		Total, Failed int
		Success       *float64 `json:"success_ratio"`
	}
	Freshness     *time.Duration `json:"freshness_ns"`
	LastSuccess   time.Time      `json:"last_success"`
	Unobserved    int
	TimeToDetect  struct{ Count int } `json:"time_to_detect"`
	TimeToResolve struct {
		Count int
		Late  int
	} `json:"time_to_resolve"`
}

func near(a *float64, b float64) bool { return a != nil && math.Abs(*a-b) < 1e-12 }

func TestAPISLO(t *testing.T) {
	t.Parallel()
	st := openEstate(t)
	ts := newTestServer(t, st, withSLO(st))
	h := time.Hour

	resp, body := ts.get(t, "/api/v1/slo")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/slo: %d %s", resp.StatusCode, body)
	}
	got := decode[struct {
		At     time.Time
		Fleet  apiSLO
		Owners []apiSLO
	}](t, body)
	f := got.Fleet
	observed := 52*h + 30*h + 26*h + 40*time.Minute
	drifted := 40*h + 20*h + 30*time.Minute
	if !got.At.Equal(now) || f.Workspaces != 4 || f.Drifting != 3 || f.Overdue != 1 || f.Unobserved != 0 ||
		f.ErrorBudget.Observed != observed || f.ErrorBudget.Drifted != drifted || f.OldestDrift != 40*h {
		t.Errorf("fleet = %+v", f)
	}
	if !near(f.DriftFree, 1-float64(drifted)/float64(observed)) || f.Objective.DriftFree == nil || f.Objective.Window != 0 {
		t.Errorf("fleet drift-free %v, objective %+v (windows differ: none shared)", f.DriftFree, f.Objective)
	}
	var owners []string
	for _, o := range got.Owners {
		owners = append(owners, o.Owner)
	}
	if !slices.Equal(owners, []string{"fin", "ops", "sec"}) {
		t.Fatalf("owners = %v", owners)
	}
	ops := got.Owners[1]
	// network allows 1% of 52h, billing 10% of 30h.
	allowed := time.Duration(math.Round(float64(52*h)*(1-0.99))) + time.Duration(math.Round(float64(30*h)*(1-0.9)))
	if ops.Workspaces != 2 || ops.ErrorBudget.Observed != 82*h || ops.ErrorBudget.Drifted != 60*h || ops.ErrorBudget.Allowed != allowed ||
		!near(ops.ErrorBudget.Remaining, 1-float64(60*h)/float64(allowed)) || ops.Objective.Window != 30*24*time.Hour {
		t.Errorf("ops = %+v", ops)
	}
	if fin := got.Owners[0]; fin.Overdue != 1 || fin.Scans.Total != 3 || fin.Scans.Failed != 1 || !near(fin.Scans.Success, 2.0/3) ||
		fin.Objective.ResolveWithin != 12*h || !near(fin.Objective.DriftFree, 0.9) {
		t.Errorf("fin = %+v", fin)
	}
	if len(f.BurnRates) != 4 || f.BurnRates["1h"] == nil || f.BurnRates["3d"] == nil {
		t.Errorf("fleet burn rates = %v", f.BurnRates)
	}

	resp, body = ts.get(t, "/api/v1/slo/workspaces")
	list := decode[struct{ Workspaces []apiSLO }](t, body).Workspaces
	var names []string
	for _, w := range list {
		names = append(names, w.Workspace)
	}
	if resp.StatusCode != 200 || !slices.Equal(names, []string{"billing", "dns", "iam", "network"}) {
		t.Errorf("GET /api/v1/slo/workspaces: %d, workspaces %v", resp.StatusCode, names)
	}

	resp, body = ts.get(t, "/api/v1/workspaces/iam/slo")
	iam := decode[struct{ Workspace apiSLO }](t, body).Workspace
	if resp.StatusCode != 200 || iam.Workspace != "iam" || !slices.Equal(iam.Owners, []string{"sec"}) || iam.Workspaces != 1 ||
		iam.TimeToDetect.Count != 1 || iam.Drifting != 1 || !iam.DriftingSince.Equal(now.Add(-30*time.Minute)) ||
		!iam.LastSuccess.Equal(now.Add(-30*time.Minute)) || iam.Freshness == nil || *iam.Freshness != 30*time.Minute ||
		iam.Objective.Window != 7*24*time.Hour || !near(iam.Objective.DriftFree, 0.99) {
		t.Errorf("iam: %d %+v", resp.StatusCode, iam)
	}
	resp, body = ts.get(t, "/api/v1/workspaces/billing/slo")
	if b := decode[struct{ Workspace apiSLO }](t, body).Workspace; resp.StatusCode != 200 || b.Overdue != 1 || b.OldestDrift != 20*h {
		t.Errorf("billing: %d %+v", resp.StatusCode, b)
	}
	for path, want := range map[string]string{
		"/api/v1/workspaces/queue/slo": `workspace "queue" has no slo`,
		"/api/v1/workspaces/nope/slo":  `unknown workspace "nope"`,
	} {
		resp, body = ts.get(t, path)
		if e := decode[struct{ Error string }](t, body); resp.StatusCode != 404 || e.Error != want {
			t.Errorf("GET %s = %d %s, want 404 %q", path, resp.StatusCode, body, want)
		}
	}
}

func TestAPISLOUndefinedIsNull(t *testing.T) {
	t.Parallel()
	st := openEstate(t)
	tr := slo.NewTracker(st)
	ts := newTestServer(t, st, func(o *server.Options) {
		o.SLO = func(ctx context.Context) (*slo.Fleet, error) {
			return tr.Compute(ctx, []slo.Target{{Workspace: "queue", Objective: slo.Objective{DriftFree: 0.99, Window: time.Hour}}}, now)
		}
	})
	_, body := ts.get(t, "/api/v1/workspaces/queue/slo")
	for _, want := range []string{`"drift_free": null`, `"remaining": null`, `"success_ratio": null`, `"freshness_ns": null`, `"1h": null`, `"unobserved": 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("a never scanned workspace's SLO lacks %s:\n%s", want, body)
		}
	}
}

func TestAPISLOWithout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	for _, path := range []string{"/api/v1/slo", "/api/v1/slo/workspaces", "/api/v1/workspaces/iam/slo"} {
		resp, body := ts.get(t, path)
		if resp.StatusCode != 404 || !strings.Contains(body, "SLOs are not measured") {
			t.Errorf("GET %s without SLOs = %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestSLOSourceFails(t *testing.T) {
	t.Parallel()
	broken := func(o *server.Options) {
		o.SLO = func(context.Context) (*slo.Fleet, error) {
			return nil, errors.New("store /var/lib/driftd/driftd.db: bad")
		}
	}
	ts := newTestServer(t, openEstate(t), broken)
	if err := ts.metrics.WatchSLOs(func(context.Context) (*slo.Fleet, error) { return nil, errors.New("bad") }, nil); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.get(t, "/api/v1/slo")
	if resp.StatusCode != 500 || strings.Contains(body, "/var/lib") {
		t.Errorf("GET /api/v1/slo with a failing store = %d %s", resp.StatusCode, body)
	}
	resp, body = ts.get(t, "/")
	if resp.StatusCode != 200 || strings.Contains(body, `id="slo"`) || !strings.Contains(body, "network") {
		t.Errorf("status page with a failing SLO source: %d, SLO panel or workspaces wrong", resp.StatusCode)
	}
	resp, body = ts.get(t, "/metrics")
	if resp.StatusCode != 200 || strings.Contains(body, "driftd_slo_") || !strings.Contains(body, "driftd_scans_in_flight") {
		t.Errorf("/metrics with a failing SLO source: %d\n%s", resp.StatusCode, body)
	}
}

func TestSLOMetrics(t *testing.T) {
	t.Parallel()
	st := openEstate(t)
	ts := newTestServer(t, st, nil)
	tr := slo.NewTracker(st)
	if err := ts.metrics.WatchSLOs(func(ctx context.Context) (*slo.Fleet, error) { return tr.Compute(ctx, sloTargets, now) }, nil); err != nil {
		t.Fatal(err)
	}
	_, body := ts.get(t, "/metrics")
	for _, want := range []string{
		`driftd_slo_fleet_workspaces 4`,
		`driftd_slo_fleet_observed_workspaces 4`,
		`driftd_slo_fleet_drifting_workspaces 3`,
		`driftd_slo_fleet_overdue_workspaces 1`,
		`driftd_slo_fleet_oldest_drift_seconds 144000`,
		`driftd_slo_owner_workspaces{owner="ops"} 2`,
		`driftd_slo_owner_drifting_workspaces{owner="ops"} 2`,
		`driftd_slo_owner_overdue_workspaces{owner="fin"} 1`,
		`driftd_slo_owner_objective_ratio{owner="fin"} 0.9`,
		`driftd_slo_owner_scan_success_ratio{owner="sec"} 1`,
		`driftd_slo_owner_last_success_age_seconds{owner="ops"} 72000`, // billing's drifted scan; its last one failed
		`driftd_slo_owner_time_to_detect_seconds{owner="sec",stat="max"} 91800`,
		`driftd_slo_workspace_drifting_workspaces{workspace="iam"} 1`,
		`driftd_slo_workspace_allowed_drifting_workspaces{workspace="iam"} 0.010000000000000009`,
		`driftd_slo_workspace_burn_rate{window="1h",workspace="iam"} 50`,
		`driftd_slo_workspace_objective_ratio{workspace="iam"} 0.99`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "driftd_slo_") {
			continue
		}
		for _, absent := range []string{
			`workspace="network"`,             // no series of its own: not asked for
			`driftd_slo_workspace_workspaces`, // means nothing for one workspace
			`owner=""`,                        // dns has no owner: fleet only
			`driftd_slo_owner_time_to_resolve_seconds{owner="sec"`, // nothing resolved: absent, not 0
		} {
			if strings.Contains(line, absent) {
				t.Errorf("/metrics has %s", line)
			}
		}
	}
}

func TestStatusPageSLO(t *testing.T) {
	t.Parallel()
	st := openEstate(t)
	ts := newTestServer(t, st, withSLO(st))
	_, page := ts.get(t, "/")
	checkWellFormed(t, page)
	doc := parse(t, page)
	panel := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "slo" })
	if len(panel) != 1 {
		t.Fatalf("status page has %d SLO panels", len(panel))
	}
	txt := text(panel[0])
	for _, want := range []string{"4 workspaces with an objective", "Drift-free", "Error budget left", "1 overdue", "oldest 40 h", "By owner (3)"} {
		if !strings.Contains(txt, want) {
			t.Errorf("SLO panel lacks %q:\n%s", want, txt)
		}
	}
	rows := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-owner"); return ok })
	if len(rows) != 3 {
		t.Errorf("owner rows = %d, want 3", len(rows))
	}

	_, page = ts.get(t, "/workspaces/iam")
	checkWellFormed(t, page)
	if txt := text(parse(t, page)); !strings.Contains(txt, "Drift SLO") || !strings.Contains(txt, "objective 99% over 7 days") {
		t.Errorf("iam's page lacks its SLO:\n%s", txt)
	}
	if _, page = ts.get(t, "/workspaces/queue"); strings.Contains(page, `id="slo"`) {
		t.Error("queue's page has an SLO it does not have")
	}

	// Without objectives, no panel.
	plain := newTestServer(t, st, nil)
	if _, page = plain.get(t, "/"); strings.Contains(page, `id="slo"`) {
		t.Error("status page has an SLO panel without SLOs")
	}
}

func TestReportersExportedFromStart(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	ts.metrics.InitReporters([]string{"github", "slack", "ops-hook"})
	_, body := ts.get(t, "/metrics")
	for _, r := range []string{"github", "slack", "ops-hook"} {
		for _, m := range []string{"driftd_reporter_deliveries_total", "driftd_reporter_failures_total"} {
			if want := m + `{reporter="` + r + `"} 0`; !strings.Contains(body, want+"\n") {
				t.Errorf("/metrics lacks %s before any delivery", want)
			}
		}
	}
}
