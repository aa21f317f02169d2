package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/server"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	m := ts.metrics

	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	m.Observe(synthetic("network", at, drift.StatusDrifted, 3, 2))
	m.Observe(synthetic("dns", at, drift.StatusClean, 0, 1))
	m.Observe(synthetic("dns", at.Add(time.Hour), drift.StatusClean, 0, 0))
	// A failed scan after drift keeps the drift gauges: it says nothing
	// about drift.
	m.Observe(synthetic("billing", at, drift.StatusDrifted, 2, 0))
	m.Observe(synthetic("billing", at.Add(time.Hour), drift.StatusError, 0, 0))
	m.ScanStarted()
	m.ScanStarted()
	m.ScanStarted()
	m.ScanFinished()
	m.Delivered("github", nil)
	m.Delivered("github", errors.New("502 Bad Gateway"))
	m.Delivered("slack", nil)

	_, body := ts.get(t, "/metrics")
	for _, want := range []string{
		`driftd_workspace_drifted_resources{workspace="network"} 3`,
		`driftd_workspace_pending_changes{workspace="network"} 2`,
		`driftd_workspace_drifted_resources{workspace="dns"} 0`,
		`driftd_workspace_pending_changes{workspace="dns"} 0`,
		`driftd_workspace_drifted_resources{workspace="billing"} 2`,
		`driftd_workspace_status{status="drifted",workspace="network"} 1`,
		`driftd_workspace_status{status="clean",workspace="network"} 0`,
		`driftd_workspace_status{status="error",workspace="network"} 0`,
		`driftd_workspace_status{status="error",workspace="billing"} 1`,
		`driftd_workspace_status{status="drifted",workspace="billing"} 0`,
		`driftd_workspace_last_scan_timestamp_seconds{workspace="dns"} 1.7954244e+09`,
		`driftd_workspace_last_scan_duration_seconds{workspace="dns"} 9`,
		// billing's last scan failed; the one before did not.
		`driftd_workspace_last_success_timestamp_seconds{workspace="billing"} 1.7954208e+09`,
		`driftd_workspace_last_success_timestamp_seconds{workspace="dns"} 1.7954244e+09`,
		`driftd_scans_total{status="clean",workspace="dns"} 2`,
		`driftd_scans_total{status="drifted",workspace="billing"} 1`,
		`driftd_scans_total{status="error",workspace="billing"} 1`,
		`driftd_scan_errors_total{workspace="billing"} 1`,
		`driftd_scan_errors_total{workspace="dns"} 0`,
		`driftd_scans_in_flight 2`,
		`driftd_reporter_deliveries_total{reporter="github"} 2`,
		`driftd_reporter_failures_total{reporter="github"} 1`,
		`driftd_reporter_deliveries_total{reporter="slack"} 1`,
		`driftd_reporter_failures_total{reporter="slack"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	m.Forget("billing")
	_, body = ts.get(t, "/metrics")
	if strings.Contains(body, `workspace="billing"`) {
		t.Error("/metrics still has billing after Forget")
	}
	if !strings.Contains(body, `driftd_workspace_drifted_resources{workspace="network"} 3`) {
		t.Error("Forget(billing) dropped network")
	}
}

func TestMetricsOwnRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := server.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	// A second set on the same registry collides; on a fresh one it does
	// not, so two daemons in one process (tests) never share state.
	if _, err := server.NewMetrics(reg); err == nil {
		t.Error("registering twice on one registry: no error")
	}
	if _, err := server.NewMetrics(prometheus.NewRegistry()); err != nil {
		t.Errorf("fresh registry: %v", err)
	}
}

func TestMetricsRestore(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	ts.metrics.Restore(store.ScanOf(fixture(t, "network")))
	_, body := ts.get(t, "/metrics")
	for _, want := range []string{
		`driftd_workspace_drifted_resources{workspace="network"} 3`,
		`driftd_workspace_status{status="drifted",workspace="network"} 1`,
		`driftd_workspace_last_scan_duration_seconds{workspace="network"} 41.2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "driftd_scans_total{") {
		t.Error("Restore counted a scan")
	}
}
