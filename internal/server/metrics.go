package server

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

// Metrics are driftd's Prometheus metrics. The daemon updates them as scans
// run and reporters deliver; the server exposes them on /metrics. Methods are
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	workspaces *workspaceCollector
	deliveries *prometheus.CounterVec
	failures   *prometheus.CounterVec
	inFlight   prometheus.Gauge
}

// NewMetrics registers driftd's metrics on reg, which /metrics then serves.
// Use a registry of its own per daemon (prometheus.NewRegistry), not the
// global one; add Go and process collectors to it if you want them.
func NewMetrics(reg *prometheus.Registry) (*Metrics, error) {
	m := &Metrics{
		reg:        reg,
		workspaces: newWorkspaceCollector(),
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
	for _, c := range []prometheus.Collector{m.workspaces, m.deliveries, m.failures, m.inFlight} {
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
	c := m.workspaces
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.restore(store.ScanOf(r))
	now := time.Now()
	s.scan(r.Status).inc(now)
	// The error counter exists as 0 from the first scan on, so rate()
	// works before the first failure.
	s.errors.touch(now)
	if r.Status == drift.StatusError {
		s.errors.n++
	}
}

// Restore sets a workspace's gauges from its last scan without counting
// it: at start-up, from the store's summary, so that /metrics tells the
// truth before the first scan of this run (and the daemon need not read
// every workspace's last report to get there).
func (m *Metrics) Restore(sc store.Scan) {
	c := m.workspaces
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restore(sc)
}

// RestoreLastSuccess sets when a workspace's last scan that did not fail
// started: at start-up, when the last report is a failure, from the scan
// before it that did not fail.
func (m *Metrics) RestoreLastSuccess(workspace string, at time.Time) {
	if at.IsZero() {
		return
	}
	c := m.workspaces
	c.mu.Lock()
	defer c.mu.Unlock()
	c.get(workspace).setLastSuccess(at)
}

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
	c := m.workspaces
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.series, workspace)
}
