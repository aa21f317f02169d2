package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/schedule"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/server"
)

func TestNewRequiredOptions(t *testing.T) {
	t.Parallel()
	m, err := server.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	st := openEstate(t)
	tests := map[string]server.Options{
		"History":   {Scheduler: &fakeScheduler{}, Metrics: m},
		"Scheduler": {History: st, Metrics: m},
		"Metrics":   {History: st, Scheduler: &fakeScheduler{}},
	}
	for missing, opts := range tests {
		if _, err := server.New(opts); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("New without %s: err = %v", missing, err)
		}
	}
}

func TestProbes(t *testing.T) {
	t.Parallel()
	st := openEstate(t)
	tests := []struct {
		name     string
		ready    func() error
		path     string
		wantCode int
		wantBody string
	}{
		{"healthz", nil, "/healthz", 200, "ok\n"},
		{"healthz ignores readiness", func() error { return errors.New("store closed") }, "/healthz", 200, "ok\n"},
		{"readyz without check", nil, "/readyz", 200, "ok\n"},
		{"readyz ready", func() error { return nil }, "/readyz", 200, "ok\n"},
		{"readyz not ready", func() error { return errors.New("scheduler not running") }, "/readyz", 503, "not ready: scheduler not running\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, st, func(o *server.Options) { o.Ready = tt.ready })
			resp, body := ts.get(t, tt.path)
			if resp.StatusCode != tt.wantCode || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

type apiWorkspace struct {
	Name          string      `json:"name"`
	Status        string      `json:"status"`
	Running       bool        `json:"running"`
	LastScan      *store.Scan `json:"last_scan"`
	DriftingSince time.Time   `json:"drifting_since"`
	LastClean     time.Time   `json:"last_clean"`
	NextScan      time.Time   `json:"next_scan"`
	IssueURL      string      `json:"issue_url"`
}

func TestAPIWorkspaces(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	resp, body := ts.get(t, "/api/v1/workspaces")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got := decode[struct{ Workspaces []apiWorkspace }](t, body).Workspaces
	var names []string
	by := map[string]apiWorkspace{}
	for _, w := range got {
		names = append(names, w.Name)
		by[w.Name] = w
	}
	want := slices.Sorted(slices.Values(configured))
	if !slices.Equal(names, want) {
		t.Fatalf("names = %v, want %v (configured only, by name)", names, want)
	}
	if q := by["queue"]; q.Status != "never_scanned" || q.LastScan != nil || !q.NextScan.Equal(now.Add(5*time.Minute)) {
		t.Errorf("queue = %+v, want never_scanned with a next scan and no last scan", q)
	}
	b := by["billing"]
	if b.Status != "error" || b.IssueURL != "https://github.com/acme/infra/issues/12" || !b.DriftingSince.Equal(now.Add(-20*time.Hour)) {
		t.Errorf("billing = %+v", b)
	}
	if n := by["network"]; n.Status != "drifted" || n.LastScan == nil || n.LastScan.Drifted != 3 || n.LastScan.Pending != 1 {
		t.Errorf("network = %+v", n)
	}
	if !by["storage"].Running || by["dns"].Running {
		t.Error("running flags wrong: storage should run, dns not")
	}
	if u := by["iam"].IssueURL; u != "" {
		t.Errorf("iam issue URL = %q, want non-http links dropped", u)
	}
}

func TestAPIWorkspace(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	type detail struct {
		Workspace apiWorkspace
		Report    *drift.Report
	}
	resp, body := ts.get(t, "/api/v1/workspaces/network")
	if resp.StatusCode != 200 {
		t.Fatalf("network: %d %s", resp.StatusCode, body)
	}
	d := decode[detail](t, body)
	if d.Workspace.Name != "network" || d.Report == nil || len(d.Report.Drift) != 3 || d.Report.Commit == "" {
		t.Errorf("network detail = %+v", d)
	}
	resp, body = ts.get(t, "/api/v1/workspaces/queue")
	if d := decode[detail](t, body); resp.StatusCode != 200 || d.Report != nil || d.Workspace.Status != "never_scanned" {
		t.Errorf("queue: %d %s", resp.StatusCode, body)
	}
	for _, name := range []string{"nope", "legacy"} {
		resp, body = ts.get(t, "/api/v1/workspaces/"+name)
		if e := decode[struct{ Error string }](t, body); resp.StatusCode != 404 || !strings.Contains(e.Error, "unknown workspace") {
			t.Errorf("%s: %d %s, want 404 unknown workspace", name, resp.StatusCode, body)
		}
	}
}

func TestAPIScans(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	tests := []struct {
		path      string
		wantCode  int
		wantScans int
		wantError string
	}{
		{"/api/v1/workspaces/network/scans", 200, 14, ""},
		{"/api/v1/workspaces/network/scans?limit=3", 200, 3, ""},
		{"/api/v1/workspaces/queue/scans", 200, 0, ""},
		{"/api/v1/workspaces/network/scans?limit=0", 400, 0, "limit must be"},
		{"/api/v1/workspaces/network/scans?limit=abc", 400, 0, "limit must be"},
		{"/api/v1/workspaces/network/scans?limit=1001", 400, 0, "limit must be"},
		{"/api/v1/workspaces/nope/scans", 404, 0, "unknown workspace"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			resp, body := ts.get(t, tt.path)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantCode, body)
			}
			if tt.wantError != "" {
				if e := decode[struct{ Error string }](t, body); !strings.Contains(e.Error, tt.wantError) {
					t.Errorf("error %q, want it to contain %q", e.Error, tt.wantError)
				}
				return
			}
			got := decode[struct {
				Workspace string
				Scans     []store.Scan
			}](t, body)
			if got.Scans == nil || len(got.Scans) != tt.wantScans {
				t.Fatalf("%d scans (nil=%v), want %d", len(got.Scans), got.Scans == nil, tt.wantScans)
			}
			for i := 1; i < len(got.Scans); i++ {
				if !got.Scans[i].StartedAt.Before(got.Scans[i-1].StartedAt) {
					t.Errorf("scans not newest first at %d", i)
				}
			}
			if len(got.Scans) > 0 && got.Scans[0].Drifted != 3 {
				t.Errorf("newest scan drifted = %d, want 3", got.Scans[0].Drifted)
			}
		})
	}
}

func TestTrigger(t *testing.T) {
	t.Parallel()
	st := openEstate(t)
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	tests := []struct {
		name         string
		token        string // server's
		schedErr     error
		ws           string
		header       http.Header
		wantCode     int
		wantBody     string
		wantAuthHdr  bool
		wantTriggers []string
	}{
		{name: "disabled", ws: "dns", header: bearer(""), wantCode: 404, wantBody: "disabled"},
		{name: "disabled even with a token", ws: "dns", header: bearer(triggerToken), wantCode: 404, wantBody: "disabled"},
		{name: "no header", token: triggerToken, ws: "dns", wantCode: 401, wantBody: "bearer token", wantAuthHdr: true},
		{name: "wrong token", token: triggerToken, ws: "dns", header: bearer("wrong-" + triggerToken), wantCode: 401, wantAuthHdr: true},
		{name: "token prefix", token: triggerToken, ws: "dns", header: bearer(triggerToken[:5]), wantCode: 401, wantAuthHdr: true},
		{name: "basic scheme", token: triggerToken, ws: "dns", header: http.Header{"Authorization": {"Basic " + triggerToken}}, wantCode: 401, wantAuthHdr: true},
		{name: "unknown workspace is checked after auth", token: triggerToken, ws: "nope", header: bearer("x"), wantCode: 401, wantAuthHdr: true},
		{name: "unknown workspace", token: triggerToken, ws: "nope", header: bearer(triggerToken), wantCode: 404, wantBody: "unknown workspace"},
		{name: "accepted", token: triggerToken, ws: "dns", header: bearer(triggerToken), wantCode: 202, wantBody: `"joined": false`, wantTriggers: []string{"dns"}},
		{name: "scheme is case-insensitive", token: triggerToken, ws: "dns", header: http.Header{"Authorization": {"bearer " + triggerToken}}, wantCode: 202, wantTriggers: []string{"dns"}},
		{name: "joins a running scan", token: triggerToken, ws: "storage", header: bearer(triggerToken), wantCode: 202, wantBody: `"joined": true`, wantTriggers: []string{"storage"}},
		{name: "never scanned", token: triggerToken, ws: "queue", header: bearer(triggerToken), wantCode: 202, wantTriggers: []string{"queue"}},
		{name: "scheduler does not know it", token: triggerToken, schedErr: schedule.ErrUnknownJob, ws: "dns", header: bearer(triggerToken), wantCode: 404},
		{name: "shutting down", token: triggerToken, schedErr: schedule.ErrStopped, ws: "dns", header: bearer(triggerToken), wantCode: 503, wantBody: "shutting down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, st, func(o *server.Options) { o.TriggerToken = tt.token })
			ts.sched.err = tt.schedErr
			resp, body := ts.do(t, http.MethodPost, "/api/v1/workspaces/"+tt.ws+"/scan", tt.header)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantCode, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %s, want it to contain %q", body, tt.wantBody)
			}
			if resp.StatusCode != 202 && decode[struct{ Error string }](t, body).Error == "" {
				t.Errorf("error response without an error field: %s", body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); (got != "") != tt.wantAuthHdr {
				t.Errorf("WWW-Authenticate = %q, want present=%v", got, tt.wantAuthHdr)
			}
			if got := ts.sched.calls(); !slices.Equal(got, tt.wantTriggers) {
				t.Errorf("triggered %v, want %v", got, tt.wantTriggers)
			}
			assertNoSecret(t, "response", body)
			assertNoSecret(t, "log", ts.logs.String())
		})
	}
}

func TestMethodsAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/api/v1/workspaces/dns/scan", 405},
		{http.MethodPost, "/api/v1/workspaces", 405},
		{http.MethodGet, "/nope", 404},
		{http.MethodGet, "/workspaces/nope", 404},
		{http.MethodHead, "/healthz", 200},
	}
	for _, tt := range tests {
		if resp, _ := ts.do(t, tt.method, tt.path, nil); resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}

// failingHistory stands for a store that cannot be read.
type failingHistory struct{}

var errStoreBroken = errors.New("read /var/lib/driftd/driftd.db: input/output error")

func (failingHistory) Workspaces(context.Context) ([]store.Summary, error) {
	return nil, errStoreBroken
}

func (failingHistory) Summary(context.Context, string) (store.Summary, bool, error) {
	return store.Summary{}, false, errStoreBroken
}

func (failingHistory) Scans(context.Context, string, int) ([]store.Scan, error) {
	return nil, errStoreBroken
}

func (failingHistory) LastReport(context.Context, string) (*drift.Report, error) {
	return nil, errStoreBroken
}

func TestStoreFailure(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, failingHistory{}, nil)
	for _, path := range []string{"/api/v1/workspaces", "/api/v1/workspaces/dns", "/api/v1/workspaces/dns/scans", "/", "/workspaces/dns"} {
		resp, body := ts.get(t, path)
		if resp.StatusCode != 500 {
			t.Errorf("GET %s = %d, want 500", path, resp.StatusCode)
		}
		if strings.Contains(body, "/var/lib") {
			t.Errorf("GET %s leaks the store error: %s", path, body)
		}
	}
	if !strings.Contains(ts.logs.String(), "input/output error") {
		t.Error("store error not logged")
	}
}
