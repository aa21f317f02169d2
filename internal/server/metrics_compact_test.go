package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/server"
)

// metricsCall is one call on Metrics in a sequence under test.
type metricsCall func(m *server.Metrics)

func observe(r *drift.Report) metricsCall { return func(m *server.Metrics) { m.Observe(r) } }
func restore(r *drift.Report) metricsCall {
	return func(m *server.Metrics) { m.Restore(store.ScanOf(r)) }
}
func forget(ws string) metricsCall { return func(m *server.Metrics) { m.Forget(ws) } }
func lastSuccess(ws string, at time.Time) metricsCall {
	return func(m *server.Metrics) { m.RestoreLastSuccess(ws, at) }
}

// report is a synthetic report of d drifted resources and pending
// changes of the given causes, started at at and lasting took.
func report(ws string, status drift.Status, at time.Time, took time.Duration, d int, causes ...drift.Cause) *drift.Report {
	r := synthetic(ws, at, status, d, len(causes))
	r.Duration = took
	for i, c := range causes {
		r.Pending[i].Cause = c
	}
	return r
}

// TestMetricsExposition pins the whole text exposition for sequences of
// calls: which series exist when, their values, names, help and types.
// The expectations (testdata/metrics/<case>.prom) were produced by the
// GaugeVec/CounterVec implementation that the compact collector replaced.
func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC)
	later := at.Add(90 * time.Minute)
	var zero time.Time
	cases := []struct {
		name  string
		calls []metricsCall
	}{
		{name: "nothing"},
		{name: "one clean scan", calls: []metricsCall{
			observe(report("net", drift.StatusClean, at, 41200*time.Millisecond, 0, drift.CauseCode, "", drift.CauseDrift)),
		}},
		{name: "drifted then failed", calls: []metricsCall{
			observe(report("net", drift.StatusDrifted, at, 3*time.Second, 4, drift.CauseCode)),
			observe(report("net", drift.StatusError, later, 500*time.Millisecond, 0)),
		}},
		{name: "only failures", calls: []metricsCall{
			observe(report("net", drift.StatusError, at, time.Second, 0)),
			observe(report("net", drift.StatusError, later, 2*time.Second, 0)),
		}},
		{name: "restore counts no scan", calls: []metricsCall{
			restore(report("net", drift.StatusDrifted, at, 41200*time.Millisecond, 2)),
		}},
		{name: "restore failure then last success", calls: []metricsCall{
			restore(report("net", drift.StatusError, later, time.Second, 0)),
			lastSuccess("net", at),
		}},
		{name: "last success alone and at zero", calls: []metricsCall{
			lastSuccess("net", at),
			lastSuccess("dns", zero),
		}},
		{name: "zero start", calls: []metricsCall{
			observe(report("net", drift.StatusClean, zero, 7*time.Second, 0)),
		}},
		{name: "restore after scans keeps counters", calls: []metricsCall{
			observe(report("net", drift.StatusClean, at, time.Second, 0)),
			observe(report("net", drift.StatusError, later, time.Second, 0)),
			restore(report("net", drift.StatusDrifted, later.Add(time.Hour), 5*time.Second, 1, drift.CauseCode)),
		}},
		{name: "forget", calls: []metricsCall{
			observe(report("net", drift.StatusDrifted, at, time.Second, 1)),
			observe(report("dns", drift.StatusClean, at, time.Second, 0)),
			lastSuccess("iam", at),
			forget("net"),
			forget("iam"),
			forget("never-seen"),
		}},
		{name: "forget then scan again", calls: []metricsCall{
			observe(report("net", drift.StatusError, at, time.Second, 0)),
			observe(report("net", drift.StatusError, at, time.Second, 0)),
			forget("net"),
			observe(report("net", drift.StatusClean, later, time.Second, 0)),
		}},
		{name: "status outside the known ones", calls: []metricsCall{
			observe(report("net", drift.Status("skipped"), at, time.Second, 2, drift.CauseCode)),
			observe(report("net", drift.StatusClean, later, time.Second, 0)),
		}},
		{name: "names that need escaping", calls: []metricsCall{
			observe(report("", drift.StatusClean, at, time.Second, 0)),
			observe(report(`say "hi"\n`, drift.StatusDrifted, at, time.Second, 1)),
			observe(report("café/prod", drift.StatusError, at, time.Second, 0)),
		}},
		{name: "many scans", calls: func() []metricsCall {
			var calls []metricsCall
			for i := range 1000 {
				s := []drift.Status{drift.StatusClean, drift.StatusDrifted, drift.StatusError}[i%3]
				calls = append(calls, observe(report("net", s, at.Add(time.Duration(i)*time.Minute), time.Duration(i)*time.Millisecond, i%5)))
			}
			return calls
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			m, err := server.NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.calls {
				c(m)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, mf := range mfs {
				if _, err := expfmt.MetricFamilyToText(&got, mf); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(filepath.Join("testdata", "metrics", strings.ReplaceAll(tc.name, " ", "-")+".prom"))
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Errorf("exposition differs:\n got:\n%s\nwant:\n%s", got.String(), want)
			}
		})
	}
}

// TestMetricsCounterCreated checks that the scan counters carry the time
// each series was created (the protobuf exposition has it), set when the
// series first appears and kept as it counts on.
func TestMetricsCounterCreated(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := server.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	created := func() map[string]time.Time {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, mf := range mfs {
			for _, s := range mf.GetMetric() {
				c := s.GetCounter()
				if c == nil || !strings.HasPrefix(mf.GetName(), "driftd_scan") {
					continue
				}
				key := mf.GetName()
				for _, l := range s.GetLabel() {
					key += "," + l.GetValue()
				}
				if c.GetCreatedTimestamp() == nil {
					t.Errorf("%s: no created timestamp", key)
				}
				out[key] = c.GetCreatedTimestamp().AsTime()
			}
		}
		return out
	}
	before := time.Now()
	m.Observe(synthetic("net", at, drift.StatusClean, 0, 0))
	after := time.Now()
	first := created()
	if len(first) != 2 {
		t.Fatalf("counters after one scan: %v, want scans_total{clean} and scan_errors_total", first)
	}
	for k, v := range first {
		// The series were made by that Observe, whatever the scan's own time.
		if v.Before(before) || v.After(after) {
			t.Errorf("%s: created %v, not while the first scan was observed (%v to %v)", k, v, before, after)
		}
	}
	m.Observe(synthetic("net", at.Add(time.Hour), drift.StatusError, 0, 0))
	m.Observe(synthetic("net", at.Add(2*time.Hour), drift.StatusClean, 0, 0))
	second := created()
	if len(second) != 3 {
		t.Fatalf("counters after three scans: %v, want scans_total{clean,error} and scan_errors_total", second)
	}
	for k, v := range first {
		if !second[k].Equal(v) {
			t.Errorf("%s: created %v, then %v", k, v, second[k])
		}
	}
}

// TestMetricsMemoryPerWorkspace bounds the heap the per-workspace series
// keep: a daemon watching thousands of workspaces holds all of them for
// its lifetime. The reports and names are made before measuring, so only
// what Metrics keeps counts.
func TestMetricsMemoryPerWorkspace(t *testing.T) {
	const (
		workspaces = 5000
		// bound is bytes of heap kept per workspace with every series
		// it can have (8, 4 of them status-labelled).
		bound = 300
	)
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	var restored, scanned []*drift.Report
	for i := range workspaces {
		ws := fmt.Sprintf("ws-%04d", i)
		restored = append(restored, report(ws, drift.StatusError, at, time.Second, 0))
		scanned = append(scanned, report(ws, drift.StatusDrifted, at.Add(time.Hour), time.Second, 2, drift.CauseCode))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := server.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for i := range workspaces {
		m.Restore(store.ScanOf(restored[i]))
		m.RestoreLastSuccess(restored[i].Workspace, at.Add(-time.Hour))
		m.Observe(scanned[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	runtime.KeepAlive(restored)
	runtime.KeepAlive(scanned)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / workspaces
	t.Logf("%d bytes of heap per workspace", per)
	if per > bound {
		t.Errorf("metrics keep %d bytes per workspace, want at most %d", per, bound)
	}
}

// TestScrapeBytesPerWorkspace bounds what one gathering of the metrics
// allocates per workspace: at 5,000 workspaces every scrape makes all
// their series anew, and scrapes at once share one gathering, so this is
// what a scrape adds to the daemon's heap. Not parallel: it counts the
// bytes allocated.
func TestScrapeBytesPerWorkspace(t *testing.T) {
	const (
		workspaces = 2000
		// bound is bytes allocated per workspace by a gathering of its 11
		// series, most of them the registry's own (a message and a
		// uniqueness check per series). Const metrics took 5.9 KB.
		bound = 4000
	)
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	m, err := server.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range workspaces {
		ws := fmt.Sprintf("ws-%04d", i)
		m.Restore(store.ScanOf(report(ws, drift.StatusError, at, time.Second, 0)))
		m.RestoreLastSuccess(ws, at.Add(-time.Hour))
		m.Observe(report(ws, drift.StatusDrifted, at.Add(time.Hour), time.Second, 2, drift.CauseCode))
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	const gathers = 5
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range gathers {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := float64(after.TotalAlloc-before.TotalAlloc) / gathers / workspaces
	allocs := float64(after.Mallocs-before.Mallocs) / gathers / workspaces
	t.Logf("a gathering allocates %.0f bytes in %.0f allocations per workspace", per, allocs)
	if per > bound {
		t.Errorf("a gathering allocates %.0f bytes per workspace, want at most %d", per, bound)
	}
}

// TestScrapeRefusesInvalidLabel: a workspace name that is not UTF-8
// (configs refuse them long before) fails the scrape, not the daemon.
func TestScrapeRefusesInvalidLabel(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := server.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Observe(report("bad\xff", drift.StatusClean, time.Now(), time.Second, 0))
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "utf8") {
		t.Errorf("gathering a series labelled with invalid UTF-8: %v, want an error", err)
	}
}
