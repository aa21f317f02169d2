package main

import (
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/server"
)

// TestRestoreMetrics: after a restart the gauges come from the store,
// and a workspace whose last scan failed gets the time of the scan before
// it that did not.
func TestRestoreMetrics(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
	must(t, err)
	defer st.Close()
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for _, r := range []*drift.Report{
		{Workspace: "a", Status: drift.StatusClean, StartedAt: t0},
		{Workspace: "a", Status: drift.StatusDrifted, StartedAt: t0.Add(time.Hour), Drift: []drift.ResourceChange{{Address: "x.y"}}},
		{Workspace: "a", Status: drift.StatusError, StartedAt: t0.Add(2 * time.Hour)},
		{Workspace: "a", Status: drift.StatusError, StartedAt: t0.Add(3 * time.Hour)},
		{Workspace: "b", Status: drift.StatusError, StartedAt: t0},
	} {
		_, err := st.SaveReport(ctx, r)
		must(t, err)
	}
	reg := prometheus.NewRegistry()
	m, err := server.NewMetrics(reg)
	must(t, err)
	restoreMetrics(ctx, st, m, slog.New(slog.DiscardHandler))
	mfs, err := reg.Gather()
	must(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "driftd_workspace_last_success_timestamp_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			got[mt.GetLabel()[0].GetValue()] = mt.GetGauge().GetValue()
		}
	}
	// a: its drifted scan; b never succeeded.
	if want := map[string]float64{"a": float64(t0.Add(time.Hour).Unix())}; !maps.Equal(got, want) {
		t.Errorf("last success restored as %v, want %v", got, want)
	}
}

// countingHistory counts the scans restoring the metrics reads.
type countingHistory struct {
	metricsHistory
	read int
}

func (c *countingHistory) ScansBack(ctx context.Context, workspace string, fn func(store.Scan) bool) error {
	return c.metricsHistory.ScansBack(ctx, workspace, func(sc store.Scan) bool {
		c.read++
		return fn(sc)
	})
}

// TestRestoreMetricsReadsBackNoFurther: restoring reads the history only
// of workspaces whose last scan failed, and only back to the newest scan
// that did not fail.
func TestRestoreMetricsReadsBackNoFurther(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
	must(t, err)
	defer st.Close()
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	var rs []*drift.Report
	for i := range 100 {
		rs = append(rs, &drift.Report{Workspace: "clean", Status: drift.StatusClean, StartedAt: t0.Add(time.Duration(i) * time.Hour)},
			&drift.Report{Workspace: "failing", Status: drift.StatusClean, StartedAt: t0.Add(time.Duration(i) * time.Hour)})
	}
	for i := range 3 {
		rs = append(rs, &drift.Report{Workspace: "failing", Status: drift.StatusError, StartedAt: t0.Add(time.Duration(100+i) * time.Hour)})
	}
	_, err = st.SaveReports(ctx, rs)
	must(t, err)
	m, err := server.NewMetrics(prometheus.NewRegistry())
	must(t, err)
	h := &countingHistory{metricsHistory: st}
	restoreMetrics(ctx, h, m, slog.New(slog.DiscardHandler))
	// The three failures and the clean scan before them, of 203 scans.
	if h.read != 4 {
		t.Errorf("restoring the metrics read %d scans, want 4", h.read)
	}
}
