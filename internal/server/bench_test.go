package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/driftd/driftd/internal/server"
)

// BenchmarkStatusPage renders the status page of 5,000 workspaces (a day of
// hourly scans each: the page reads summaries only, so history length does
// not matter, as TestStatusPageCostIndependentOfHistory checks). The scale
// benchmark (internal/bench, -only scale) measures the same page served by
// driftd over 90 days of history.
func BenchmarkStatusPage(b *testing.B) {
	const n = 5000
	st := openFleet(b, n, 24)
	owners := make(map[string][]string, n)
	var names []string
	for i := range n {
		ws := fmt.Sprintf("ws-%04d", i)
		names = append(names, ws)
		if i%5 != 4 {
			owners[ws] = []string{fmt.Sprintf("team-%d", i%40)}
		}
	}
	ts := newTestServer(b, st, func(o *server.Options) {
		o.Workspaces = func() []string { return names }
		o.Owners = func(ws string) []string { return owners[ws] }
		o.Issues = func(ws string) server.Issue {
			return server.Issue{URL: "https://github.com/acme/infra/issues/1", Title: "Drift detected in workspace " + ws}
		}
	})
	for _, path := range []string{"/", "/?page=20", "/?status=drifted", "/?q=ws-12", "/?owner=team-7"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				ts.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost"+path, nil))
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
