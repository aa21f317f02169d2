package server_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/server"
)

func names(rows []pageRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.name)
	}
	return out
}

func TestStatusPageFilters(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	tests := []struct {
		query     string
		want      []string
		wantChips []string // the chips' text, in order
	}{
		{"", wantOrder, []string{"7 all", "1 error", "2 drifted", "1 pending", "2 clean", "1 never scanned"}},
		{"?status=drifted", []string{"network", "iam"}, []string{"7 all", "1 error", "2 drifted", "1 pending", "2 clean", "1 never scanned"}},
		{"?owner=acme/platform", []string{"network", "dns"}, []string{"2 all", "1 drifted", "1 pending"}},
		{"?owner=%40ACME/Platform", []string{"network", "dns"}, []string{"2 all", "1 drifted", "1 pending"}},
		{"?owner=-", []string{"analytics", "storage", "queue"}, []string{"3 all", "2 clean", "1 never scanned"}},
		{"?owner=nobody", nil, []string{"0 all"}},
		{"?q=NET", []string{"network"}, []string{"1 all", "1 drifted"}},
		{"?q=credential+sources", []string{"billing"}, []string{"1 all", "1 error"}},
		{"?q=alice", []string{"dns"}, []string{"1 all", "1 pending"}},
		{"?q=a&status=clean", []string{"analytics", "storage"}, []string{"6 all", "1 error", "2 drifted", "1 pending", "2 clean"}},
		{"?status=clean&owner=acme/platform", nil, []string{"2 all", "1 drifted", "1 pending"}},
		{"?page=9", wantOrder, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			resp, body := ts.get(t, "/"+tt.query)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			checkWellFormed(t, body)
			doc := parse(t, body)
			if got := names(statusRows(doc)); !slices.Equal(got, tt.want) {
				t.Errorf("rows %v, want %v", got, tt.want)
			}
			if tt.wantChips != nil {
				var chips []string
				for _, a := range findAll(doc, func(n *html.Node) bool {
					c, _ := attr(n, "class")
					return n.DataAtom == atom.A && strings.HasPrefix(c, "badge ")
				}) {
					chips = append(chips, text(a))
				}
				if !slices.Equal(chips, tt.wantChips) {
					t.Errorf("chips %q, want %q", chips, tt.wantChips)
				}
			}
			if len(tt.want) == 0 && !strings.Contains(body, `id="no-match"`) {
				t.Error("an empty result does not say that nothing matched")
			}
			assertNoSecret(t, "status page", body)
		})
	}
}

func TestStatusPageRows(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	_, body := ts.get(t, "/")
	rows := map[string]string{}
	for _, r := range statusRows(parse(t, body)) {
		rows[r.name] = r.cells
	}
	wantCells := map[string][]string{
		// The error's first line, without the runner's prefix, and the
		// issue's title.
		"billing": {"Error: configuring Terraform AWS Provider: no valid credential sources found", "@acme/payments", "#12 Drift scan failing for workspace billing"},
		"network": {"@acme/platform", "#10 Drift detected in workspace network <b>"},
		"dns":     {"@acme/platform @alice"},
		"iam":     {"@bob"},
	}
	for ws, want := range wantCells {
		for _, w := range want {
			if !strings.Contains(rows[ws], w) {
				t.Errorf("row %s = %q, want it to contain %q", ws, rows[ws], w)
			}
		}
	}
	if strings.Contains(rows["billing"], "with provider") {
		t.Errorf("billing row shows more than the error's first line: %q", rows["billing"])
	}
	if strings.Contains(rows["iam"], "Drift detected in workspace iam") {
		t.Error("the title of an issue whose link was refused shows")
	}
	for _, want := range []string{`href="/?owner=acme%2Fplatform"`, `Drift detected in workspace network &lt;b&gt;`, `<option value="-">(no owner)</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}

func TestStatusPageBadQuery(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	for query, want := range map[string]string{
		"?status=bogus":                  `status must be one of error, drifted, pending, clean, never, got "bogus"`,
		"?page=0":                        `page must be a whole number from 1, got "0"`,
		"?page=two":                      `page must be a whole number from 1, got "two"`,
		"?q=" + strings.Repeat("x", 201): "q must be UTF-8 text of at most 200 bytes",
	} {
		resp, body := ts.get(t, "/"+query)
		if resp.StatusCode != 400 || !strings.Contains(body, want) {
			t.Errorf("GET /%.40s = %d %q, want 400 saying %q", query, resp.StatusCode, body, want)
		}
	}
}

// fleetState is the state the test fleet gives workspace i.
func fleetState(i int) (drift.Status, int, int) {
	switch {
	case i%23 == 0:
		return drift.StatusError, 0, 0
	case i%7 == 0:
		return drift.StatusDrifted, i%5 + 1, 0
	case i%11 == 0:
		return drift.StatusClean, 0, i%3 + 1
	}
	return drift.StatusClean, 0, 0
}

// openFleet fills a store with n workspaces, each with history scans an
// hour apart, saved in batches as the scale benchmark does.
func openFleet(t testing.TB, n, history int) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for i := range n {
		status, d, p := fleetState(i)
		rs := make([]*drift.Report, history)
		for h := range rs {
			rs[h] = synthetic(fmt.Sprintf("ws-%04d", i), now.Add(-time.Duration(history-h)*time.Hour), status, d, p)
		}
		if _, err := st.SaveReports(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// countingHistory counts what the pages ask of the history.
type countingHistory struct {
	server.History
	workspaces, summaries, scans, reports atomic.Int64
}

func (c *countingHistory) Workspaces(ctx context.Context) ([]store.Summary, error) {
	c.workspaces.Add(1)
	return c.History.Workspaces(ctx)
}

func (c *countingHistory) Summary(ctx context.Context, ws string) (store.Summary, bool, error) {
	c.summaries.Add(1)
	return c.History.Summary(ctx, ws)
}

func (c *countingHistory) Scans(ctx context.Context, ws string, limit int) ([]store.Scan, error) {
	c.scans.Add(1)
	return c.History.Scans(ctx, ws, limit)
}

func (c *countingHistory) LastReport(ctx context.Context, ws string) (*drift.Report, error) {
	c.reports.Add(1)
	return c.History.LastReport(ctx, ws)
}

// fleet serves n workspaces of the test fleet and configured ones never
// scanned, counting issue look-ups.
type fleet struct {
	*testServer
	hist   *countingHistory
	issues atomic.Int64
	names  []string
}

func newFleet(t testing.TB, st *store.Store, n, never int, edits ...func(*server.Options)) *fleet {
	t.Helper()
	f := &fleet{hist: &countingHistory{History: st}}
	for i := range n + never {
		f.names = append(f.names, fmt.Sprintf("ws-%04d", i))
	}
	f.testServer = newTestServer(t, f.hist, func(o *server.Options) {
		o.Workspaces = func() []string { return f.names }
		o.Owners = func(ws string) []string {
			var i int
			if _, err := fmt.Sscanf(ws, "ws-%d", &i); err != nil || i%5 == 4 {
				return nil
			}
			return []string{fmt.Sprintf("team-%d", i%4)}
		}
		o.Issues = func(ws string) server.Issue {
			f.issues.Add(1)
			return server.Issue{URL: "https://github.com/acme/infra/issues/1", Title: "Drift detected in workspace " + ws}
		}
		for _, edit := range edits {
			edit(o)
		}
	})
	return f
}

// worstFirst is the order the status page must give names, computed here
// from the fleet's definition.
func worstFirst(names []string, scanned int) []string {
	type k struct {
		name          string
		rank, d, p, i int
	}
	var ks []k
	for i, n := range names {
		if i >= scanned {
			ks = append(ks, k{name: n, rank: 4})
			continue
		}
		st, d, p := fleetState(i)
		r := 3
		switch {
		case st == drift.StatusError:
			r, d, p = 0, 0, 0
		case st == drift.StatusDrifted:
			r = 1
		case p > 0:
			r = 2
		}
		ks = append(ks, k{n, r, d, p, i})
	}
	slices.SortFunc(ks, func(a, b k) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(b.d, a.d), cmp.Compare(b.p, a.p), cmp.Compare(a.name, b.name))
	})
	var out []string
	for _, x := range ks {
		out = append(out, x.name)
	}
	return out
}

func TestStatusPagePages(t *testing.T) {
	t.Parallel()
	const scanned, never = 240, 10
	f := newFleet(t, openFleet(t, scanned, 2), scanned, never)
	want := worstFirst(f.names, scanned)

	var got []string
	for page := 1; page <= 3; page++ {
		before := f.issues.Load()
		resp, body := f.get(t, fmt.Sprintf("/?page=%d", page))
		if resp.StatusCode != 200 {
			t.Fatalf("page %d: %d", page, resp.StatusCode)
		}
		checkWellFormed(t, body)
		rows := names(statusRows(parse(t, body)))
		if n := f.issues.Load() - before; n != int64(len(rows)) {
			t.Errorf("page %d: %d issue look-ups for %d rows: the page must ask only about its rows", page, n, len(rows))
		}
		got = append(got, rows...)
		if page == 2 {
			for _, link := range []string{`href="/" rel="prev"`, `href="/?page=3" rel="next"`, "Page 2 of 3", "101–200 of 250"} {
				if !strings.Contains(body, link) {
					t.Errorf("page 2 lacks %q", link)
				}
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages 1-3 list\n%v\nwant\n%v", got, want)
	}
	// Past the end: the last page.
	_, body := f.get(t, "/?page=40")
	if rows := names(statusRows(parse(t, body))); !slices.Equal(rows, want[200:]) || !strings.Contains(body, "Page 3 of 3") {
		t.Errorf("page 40 shows %v", rows)
	}
	// Filters carry over to the pager's links, and the chips' and owners'
	// links go to their first page.
	_, body = f.get(t, "/?status=clean&q=ws-0&page=2")
	for _, link := range []string{`href="/?q=ws-0&amp;status=clean" rel="prev"`, `href="/?q=ws-0&amp;status=drifted"`, `href="/?owner=team-2&amp;q=ws-0&amp;status=clean"`} {
		if !strings.Contains(body, link) {
			t.Errorf("filtered page 2 lacks %q", link)
		}
	}
	if n := f.hist.scans.Load() + f.hist.reports.Load() + f.hist.summaries.Load(); n != 0 {
		t.Errorf("the status page read %d scan histories, reports or single summaries; it needs only Workspaces", n)
	}
}

// The status page reads the summaries, never the history: its cost does
// not grow with how much history the store keeps.
func TestStatusPageCostIndependentOfHistory(t *testing.T) {
	allocs := func(history int) float64 {
		f := newFleet(t, openFleet(t, 300, history), 300, 0)
		h := f.handler
		return testing.AllocsPerRun(20, func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost/?page=2", nil))
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
		})
	}
	short, long := allocs(1), allocs(60)
	if long > short*1.01 {
		t.Errorf("a status page view allocates %.0f times with 60 scans a workspace, %.0f with 1", long, short)
	}
	t.Logf("allocations per view of 300 workspaces: %.0f (1 scan each), %.0f (60 scans each)", short, long)
}

// TestBytesPerWorkspace: a view of the status page costs its rows plus a
// small entry for each workspace it filters and sorts (it copies no
// summary and builds no map of the fleet), and the API's list of every
// workspace holds one described workspace at a time. Not parallel: it
// counts the bytes allocated.
func TestBytesPerWorkspace(t *testing.T) {
	fleets := map[int]*fleet{}
	for _, n := range []int{300, 3000} {
		owners := map[string][]string{}
		for i := range n {
			owners[fmt.Sprintf("ws-%04d", i)] = []string{fmt.Sprintf("team-%d", i%4)}
		}
		fleets[n] = newFleet(t, openFleet(t, n, 1), n, 0, func(o *server.Options) {
			o.Owners = func(ws string) []string { return owners[ws] }
		})
	}
	perView := func(path string, n int) float64 {
		view := func() {
			w := &countingWriter{header: http.Header{}}
			fleets[n].handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://localhost"+path, nil))
			if w.code != 200 || w.n == 0 {
				t.Fatalf("status %d, %d bytes", w.code, w.n)
			}
		}
		view()
		const views = 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range views {
			view()
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / views
	}
	for _, tc := range []struct {
		path string
		max  float64
		// pooled says the bound holds only with encoding/json's pooled
		// buffers, which the race detector drops at random.
		pooled bool
	}{
		// An entry is 64 bytes; the workspace's name comes from the config.
		{"/?page=2", 100, false},
		{"/api/v1/workspaces", 1000, true},
	} {
		if tc.pooled && raceEnabled {
			t.Logf("GET %s: not measured under the race detector", tc.path)
			continue
		}
		small, large := perView(tc.path, 300), perView(tc.path, 3000)
		per := (large - small) / 2700
		if per > tc.max {
			t.Errorf("GET %s allocates %.0f bytes a workspace (%.0f for 300, %.0f for 3,000), want at most %.0f", tc.path, per, small, large, tc.max)
		}
		t.Logf("GET %s: %.0f bytes for 300 workspaces, %.0f for 3,000: %.0f a workspace", tc.path, small, large, per)
	}
}

// countingWriter is a ResponseWriter that keeps nothing of the body but
// its length, so that what a handler allocates is all that is counted.
type countingWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *countingWriter) Header() http.Header { return w.header }

func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	return len(b), nil
}
