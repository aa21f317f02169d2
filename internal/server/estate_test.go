package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/driftd/driftd/internal/logbuf"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/schedule"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/server"
)

// The interfaces are the real store's and scheduler's method sets.
var (
	_ server.History   = (*store.Store)(nil)
	_ server.Scheduler = (*schedule.Scheduler)(nil)
)

// now is the test estate's clock: every fixture time is before it.
var now = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// plantedSecret sits in the store where no page may look (reporter
// bookkeeping): if it shows up anywhere, the server rendered something that
// is not a report or summary field.
const plantedSecret = "ghp_PLANTEDsecretThatMustNeverRender"

// configured is the estate's workspace list, in config order; "legacy" has
// history but is no longer configured, "queue" is configured but never
// scanned.
var configured = []string{"storage", "network", "queue", "dns", "billing", "iam", "analytics"}

// owners are the estate's configured owners.
var owners = map[string][]string{
	"network": {"acme/platform"},
	"dns":     {"acme/platform", "alice"},
	"billing": {"acme/payments"},
	"iam":     {"bob"},
}

// wantOrder is the status page's order: error, drifted by count, pending,
// clean by name, never scanned.
var wantOrder = []string{"billing", "network", "iam", "dns", "analytics", "storage", "queue"}

type fakeScheduler struct {
	mu        sync.Mutex
	next      map[string]time.Time
	running   []string
	err       error
	triggered []string
}

func (f *fakeScheduler) Next(name string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.next[name]
	return t, ok
}

func (f *fakeScheduler) Running() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.running)
}

func (f *fakeScheduler) Trigger(_ context.Context, name string) (<-chan struct{}, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, false, f.err
	}
	f.triggered = append(f.triggered, name)
	done := make(chan struct{})
	close(done)
	return done, slices.Contains(f.running, name), nil
}

func (f *fakeScheduler) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.triggered)
}

// synthetic is a report with n drifted and p pending resources.
func synthetic(ws string, at time.Time, status drift.Status, n, p int) *drift.Report {
	r := &drift.Report{
		SchemaVersion: drift.SchemaVersion, Workspace: ws, Status: status,
		StartedAt: at, Duration: 9 * time.Second, TerraformVersion: "1.11.4",
		Drift: []drift.ResourceChange{}, Pending: []drift.ResourceChange{},
	}
	for i := range n {
		r.Drift = append(r.Drift, drift.ResourceChange{Address: fmt.Sprintf("null_resource.d%d", i), Type: "null_resource", Name: fmt.Sprintf("d%d", i), Action: drift.ActionUpdate})
	}
	for i := range p {
		r.Pending = append(r.Pending, drift.ResourceChange{Address: fmt.Sprintf("null_resource.p%d", i), Type: "null_resource", Name: fmt.Sprintf("p%d", i), Action: drift.ActionCreate})
	}
	if status == drift.StatusError {
		r.Error = "Error: provider exploded"
	}
	return r
}

func fixture(t *testing.T, name string) *drift.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reports", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r drift.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &r
}

// openEstate fills a real bbolt store with a small estate's history.
func openEstate(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	save := func(r *drift.Report) {
		t.Helper()
		if _, err := st.SaveReport(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// network: a drift that grew over two days, with one failed scan.
	history := []int{0, 0, 0, 1, 1, 2, 2, -1, 2, 3, 3, 2, 3}
	for i, n := range history {
		at := now.Add(-time.Duration(len(history)-i) * 4 * time.Hour)
		if n < 0 {
			save(synthetic("network", at, drift.StatusError, 0, 0))
			continue
		}
		st := drift.StatusClean
		if n > 0 {
			st = drift.StatusDrifted
		}
		save(synthetic("network", at, st, n, 0))
	}
	save(fixture(t, "network"))

	save(synthetic("billing", now.Add(-30*time.Hour), drift.StatusClean, 0, 0))
	save(synthetic("billing", now.Add(-20*time.Hour), drift.StatusDrifted, 1, 0))
	save(fixture(t, "billing"))

	save(synthetic("iam", now.Add(-26*time.Hour), drift.StatusClean, 0, 0))
	save(fixture(t, "iam"))

	save(fixture(t, "dns"))
	save(synthetic("storage", now.Add(-3*time.Hour), drift.StatusClean, 0, 0))
	save(synthetic("analytics", now.Add(-50*time.Hour), drift.StatusClean, 0, 0))
	save(synthetic("legacy", now.Add(-90*time.Hour), drift.StatusDrifted, 5, 0))

	state := fmt.Sprintf(`{"issue":11,"installation_token":%q}`, plantedSecret)
	if err := st.PutState(ctx, "iam", "github", []byte(state)); err != nil {
		t.Fatal(err)
	}
	return st
}

type testServer struct {
	*httptest.Server
	srv *server.Server
	// handler is the server's own, for requests from a chosen address.
	handler http.Handler
	sched   *fakeScheduler
	metrics *server.Metrics
	logs    *logbuf.Buffer
}

const triggerToken = "correct-horse-battery-staple"

// newTestServer serves the estate; edit tweaks the options first.
func newTestServer(t testing.TB, st server.History, edit func(*server.Options)) *testServer {
	t.Helper()
	sched := &fakeScheduler{
		next: map[string]time.Time{
			"storage": now.Add(3 * time.Hour), "network": now.Add(20 * time.Minute), "queue": now.Add(5 * time.Minute),
			"dns": now.Add(time.Hour), "billing": now.Add(10 * time.Minute), "iam": now.Add(2 * time.Hour),
			"analytics": now.Add(30 * time.Hour),
		},
		running: []string{"storage"},
	}
	m, err := server.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	opts := server.Options{
		History:    st,
		Scheduler:  sched,
		Metrics:    m,
		Workspaces: func() []string { return configured },
		Owners:     func(ws string) []string { return owners[ws] },
		Issues: func(ws string) server.Issue {
			switch ws {
			case "billing":
				return server.Issue{URL: "https://github.com/acme/infra/issues/12", Title: "Drift scan failing for workspace billing"}
			case "network":
				return server.Issue{URL: "https://github.com/acme/infra/issues/10", Title: "Drift detected in workspace network <b>"}
			case "iam":
				return server.Issue{URL: "javascript:alert(document.cookie)", Title: "Drift detected in workspace iam"}
			}
			return server.Issue{}
		},
		TriggerToken: triggerToken,
		Now:          func() time.Time { return now },
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&opts)
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, handler: srv.Handler(), sched: sched, metrics: m, logs: logs}
}

// do sends a request and returns the response with its body read.
func (ts *testServer) do(t *testing.T, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func (ts *testServer) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	return ts.do(t, http.MethodGet, path, nil)
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

func assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range []string{plantedSecret, triggerToken, "javascript:"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains %q", where, secret)
		}
	}
}
