package server

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/drift"
)

// statuses are every value driftd_workspace_status's status label takes, so
// that a workspace always exports all of them (1 for the current, 0 else) and
// a query never has to tell "0" from "absent".
var statuses = []drift.Status{drift.StatusClean, drift.StatusDrifted, drift.StatusError}

// Metrics are driftd's Prometheus metrics. The daemon updates them as scans
// run and reporters deliver; the server exposes them on /metrics. Methods are
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	drifted      *prometheus.GaugeVec
	pending      *prometheus.GaugeVec
	status       *prometheus.GaugeVec
	lastScan     *prometheus.GaugeVec
	lastDuration *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	scans        *prometheus.CounterVec
	scanErrors   *prometheus.CounterVec
	deliveries   *prometheus.CounterVec
	failures     *prometheus.CounterVec
	inFlight     prometheus.Gauge
}

// NewMetrics registers driftd's metrics on reg, which /metrics then serves.
// Use a registry of its own per daemon (prometheus.NewRegistry), not the
// global one; add Go and process collectors to it if you want them.
func NewMetrics(reg *prometheus.Registry) (*Metrics, error) {
	ws := []string{"workspace"}
	m := &Metrics{
		reg: reg,
		drifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_workspace_drifted_resources",
			Help: "Resources changed outside Terraform, as of the last conclusive scan.",
		}, ws),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_workspace_pending_changes",
			Help: "Resources with changes in code not yet applied, as of the last conclusive scan.",
		}, ws),
		status: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_workspace_status",
			Help: "Outcome of the workspace's last scan: 1 for the current status, 0 for the others.",
		}, []string{"workspace", "status"}),
		lastScan: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_workspace_last_scan_timestamp_seconds",
			Help: "Unix time at which the workspace's last scan started.",
		}, ws),
		lastDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_workspace_last_scan_duration_seconds",
			Help: "Wall time of the workspace's last scan.",
		}, ws),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_workspace_last_success_timestamp_seconds",
			Help: "Unix time at which the workspace's last scan that did not fail started.",
		}, ws),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_scans_total",
			Help: "Scans finished, by workspace and outcome.",
		}, []string{"workspace", "status"}),
		scanErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_scan_errors_total",
			Help: "Scans that failed.",
		}, ws),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_reporter_deliveries_total",
			Help: "Notifications a reporter sent or failed to send (nothing owed is not counted).",
		}, []string{"reporter"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_reporter_failures_total",
			Help: "Notifications a reporter failed to send; they stay owed to the next run.",
		}, []string{"reporter"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftd_scans_in_flight",
			Help: "Scans running now.",
		}),
	}
	for _, c := range []prometheus.Collector{
		m.drifted, m.pending, m.status, m.lastScan, m.lastDuration, m.lastSuccess,
		m.scans, m.scanErrors, m.deliveries, m.failures, m.inFlight,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// Observe records a finished scan. A failed scan updates status, time and
// counters but leaves the drifted and pending gauges alone: it says nothing
// about drift, and alerts on drift should not flap with a flaky backend.
func (m *Metrics) Observe(r *drift.Report) {
	m.Restore(r)
	m.scans.WithLabelValues(r.Workspace, string(r.Status)).Inc()
	// Touching the error counter on every scan exports it as 0 from the
	// first scan on, so rate() works before the first failure.
	errs := m.scanErrors.WithLabelValues(r.Workspace)
	if r.Status == drift.StatusError {
		errs.Inc()
	}
}

// Restore sets a workspace's gauges from a report without counting a scan:
// at start-up, from the store's last report, so that /metrics tells the
// truth before the first scan of this run.
func (m *Metrics) Restore(r *drift.Report) {
	ws := r.Workspace
	for _, s := range statuses {
		v := 0.0
		if s == r.Status {
			v = 1
		}
		m.status.WithLabelValues(ws, string(s)).Set(v)
	}
	if r.Status != drift.StatusError {
		m.drifted.WithLabelValues(ws).Set(float64(len(r.Drift)))
		m.pending.WithLabelValues(ws).Set(float64(r.PendingCode()))
		m.RestoreLastSuccess(ws, r.StartedAt)
	}
	if !r.StartedAt.IsZero() {
		m.lastScan.WithLabelValues(ws).Set(unixSeconds(r.StartedAt))
	}
	m.lastDuration.WithLabelValues(ws).Set(r.Duration.Seconds())
}

// RestoreLastSuccess sets when a workspace's last scan that did not fail
// started: at start-up, when the last report is a failure, from the scan
// before it that did not fail.
func (m *Metrics) RestoreLastSuccess(workspace string, at time.Time) {
	if !at.IsZero() {
		m.lastSuccess.WithLabelValues(workspace).Set(unixSeconds(at))
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// InitReporters exports every named reporter's counters, at 0 until it
// delivers: a rate() or an alert on failures then works from start-up,
// not only after a reporter's first delivery.
func (m *Metrics) InitReporters(names []string) {
	for _, n := range names {
		m.deliveries.WithLabelValues(n)
		m.failures.WithLabelValues(n)
	}
}

// ScanStarted counts a scan as in flight; pair it with ScanFinished.
func (m *Metrics) ScanStarted() { m.inFlight.Inc() }

// ScanFinished counts a scan as no longer in flight.
func (m *Metrics) ScanFinished() { m.inFlight.Dec() }

// Delivered records one notification a reporter sent or failed to send;
// err is its outcome.
func (m *Metrics) Delivered(reporter string, err error) {
	m.deliveries.WithLabelValues(reporter).Inc()
	f := m.failures.WithLabelValues(reporter)
	if err != nil {
		f.Inc()
	}
}

// Forget drops every series of a workspace, for workspaces removed from the
// config on reload, so that they stop showing (and alerting) forever.
func (m *Metrics) Forget(workspace string) {
	l := prometheus.Labels{"workspace": workspace}
	m.drifted.DeletePartialMatch(l)
	m.pending.DeletePartialMatch(l)
	m.status.DeletePartialMatch(l)
	m.lastScan.DeletePartialMatch(l)
	m.lastDuration.DeletePartialMatch(l)
	m.lastSuccess.DeletePartialMatch(l)
	m.scans.DeletePartialMatch(l)
	m.scanErrors.DeletePartialMatch(l)
}
