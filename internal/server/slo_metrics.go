package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/drift/slo"
)

// SLOSource returns the SLO figures now; a reader of the store's history
// (slo.Tracker) behind it.
type SLOSource func(ctx context.Context) (*slo.Fleet, error)

// sloScrapeTimeout bounds the store reads of one scrape.
const sloScrapeTimeout = 10 * time.Second

// sloScope is one of the three sets of SLO series: the fleet's (no label),
// each owner's, and each workspace's that asks for them.
type sloScope struct {
	name, label string
}

var sloScopes = []sloScope{{"fleet", ""}, {"owner", "owner"}, {"workspace", "workspace"}}

// sloValue is one sample of a gauge: its value and the gauge's extra label
// value, if it has one.
type sloValue struct {
	v     float64
	label string
}

// sloGauge is one SLO figure, exported for every scope it applies to as
// driftd_slo_<scope>_<name>.
type sloGauge struct {
	name, help string
	// extra is a label of the gauge's own (window, stat), or "".
	extra string
	// aggregate says the gauge means nothing for one workspace.
	aggregate bool
	values    func(s *slo.Summary) []sloValue
}

func one(v float64) []sloValue { return []sloValue{{v: v}} }

func maybe(v float64, ok bool) []sloValue {
	if !ok {
		return nil
	}
	return one(v)
}

// stats exports the mean and the maximum of drift episodes' durations,
// none without episodes.
func stats(st slo.Stats) []sloValue {
	mean, ok := st.Mean()
	if !ok {
		return nil
	}
	return []sloValue{{mean.Seconds(), "mean"}, {st.Max.Seconds(), "max"}}
}

// objective is the drift-free objective of a summary: the one its
// workspaces share, else the one their summed budget stands for.
func objective(s *slo.Summary) (float64, bool) {
	if s.DriftFreeObjective > 0 {
		return s.DriftFreeObjective, true
	}
	return s.Budget.Objective()
}

var sloGauges = []sloGauge{
	{name: "workspaces", help: "Workspaces with an SLO.", aggregate: true,
		values: func(s *slo.Summary) []sloValue { return one(float64(s.Workspaces)) }},
	{name: "observed_workspaces", help: "Workspaces with an SLO and a known drift state (a scan that did not fail).",
		values: func(s *slo.Summary) []sloValue { return one(float64(s.Workspaces - s.Unobserved)) }},
	{name: "drifting_workspaces", help: "Workspaces whose last scan that did not fail found drift.",
		values: func(s *slo.Summary) []sloValue { return one(float64(s.Drifting)) }},
	{name: "allowed_drifting_workspaces", help: "Sum of (1 - drift-free objective) over the observed workspaces: how many may drift at once, on average, within their objectives. drifting/allowed is the burn rate now.",
		values: func(s *slo.Summary) []sloValue { return one(s.Allowance) }},
	{name: "overdue_workspaces", help: "Workspaces drifting for longer than their slo.resolve_within.",
		values: func(s *slo.Summary) []sloValue { return one(float64(s.Overdue)) }},
	{name: "oldest_drift_seconds", help: "How long the oldest current drift has lasted, from the scan that found it; 0 without drift.",
		values: func(s *slo.Summary) []sloValue { return one(s.OldestDrift.Seconds()) }},
	{name: "drift_free_ratio", help: "Share of the window's observed time without drift.",
		values: func(s *slo.Summary) []sloValue { return maybe(s.Budget.DriftFree()) }},
	{name: "objective_ratio", help: "Drift-free objective (for several workspaces with different objectives, the one their summed error budget stands for).",
		values: func(s *slo.Summary) []sloValue { return maybe(objective(s)) }},
	{name: "error_budget_remaining_ratio", help: "Share of the window's error budget left: 1 without drift, 0 when used up, negative beyond.",
		values: func(s *slo.Summary) []sloValue { return maybe(s.Budget.Remaining()) }},
	{name: "burn_rate", help: "How fast drift used the error budget over the last window (1h, 6h, 1d, 3d): 1 uses it up exactly over the SLO's window.", extra: "window",
		values: func(s *slo.Summary) []sloValue {
			var out []sloValue
			for i, b := range s.Burn {
				if v, ok := b.BurnRate(); ok {
					out = append(out, sloValue{v, slo.Lookbacks[i].Name})
				}
			}
			return out
		}},
	{name: "scan_success_ratio", help: "Share of the window's scans that did not fail.",
		values: func(s *slo.Summary) []sloValue { return maybe(s.ScanSuccess()) }},
	{name: "last_success_age_seconds", help: "Age of the last scan that did not fail (of the oldest such, for several workspaces; for a workspace whose every scan failed, of its first scan).",
		values: func(s *slo.Summary) []sloValue { return maybe(s.Freshness.Seconds(), s.Fresh) }},
	{name: "time_to_detect_seconds", help: "Drift found in the window: from the last clean scan to the scan that found it (mean and max).", extra: "stat",
		values: func(s *slo.Summary) []sloValue { return stats(s.Detect) }},
	{name: "time_to_resolve_seconds", help: "Drift resolved in the window: from the scan that found it to the first clean scan (mean and max).", extra: "stat",
		values: func(s *slo.Summary) []sloValue { return stats(s.Resolve) }},
}

// sloCollector exports the SLO figures at every scrape.
type sloCollector struct {
	src SLOSource
	log *slog.Logger
	// descs[scope][gauge]; nil where a gauge does not apply to a scope.
	descs [][]*prometheus.Desc
}

func newSLOCollector(src SLOSource, log *slog.Logger) *sloCollector {
	c := &sloCollector{src: src, log: log}
	for _, sc := range sloScopes {
		row := make([]*prometheus.Desc, len(sloGauges))
		for i, g := range sloGauges {
			if g.aggregate && sc.name == "workspace" {
				continue
			}
			var labels []string
			if sc.label != "" {
				labels = append(labels, sc.label)
			}
			if g.extra != "" {
				labels = append(labels, g.extra)
			}
			row[i] = prometheus.NewDesc(fmt.Sprintf("driftd_slo_%s_%s", sc.name, g.name), g.help, labels, nil)
		}
		c.descs = append(c.descs, row)
	}
	return c
}

// WatchSLOs exports the figures src returns as driftd_slo_* gauges at each
// scrape: the fleet's, each owner's, and those of the workspaces that ask
// for their own (slo.workspace_metrics). When src fails, the scrape goes
// on without them and the error is logged.
func (m *Metrics) WatchSLOs(src SLOSource, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := m.reg.Register(newSLOCollector(src, log)); err != nil {
		return fmt.Errorf("register SLO metrics: %w", err)
	}
	return nil
}

func (c *sloCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, row := range c.descs {
		for _, d := range row {
			if d != nil {
				ch <- d
			}
		}
	}
}

func (c *sloCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), sloScrapeTimeout)
	defer cancel()
	f, err := c.src(ctx)
	if err != nil {
		c.log.Error("SLO metrics left out of this scrape", "error", err)
		return
	}
	c.emit(ch, 0, "", &f.Fleet)
	for i := range f.Owners {
		c.emit(ch, 1, f.Owners[i].Owner, &f.Owners[i].Summary)
	}
	for i := range f.Workspaces {
		if w := &f.Workspaces[i]; w.Export {
			c.emit(ch, 2, w.Workspace, &w.Summary)
		}
	}
}

// emit sends one scope's gauges for one summary; key is the owner or
// workspace ("" for the fleet).
func (c *sloCollector) emit(ch chan<- prometheus.Metric, scope int, key string, s *slo.Summary) {
	for i, g := range sloGauges {
		d := c.descs[scope][i]
		if d == nil {
			continue
		}
		for _, v := range g.values(s) {
			var labels []string
			if key != "" {
				labels = append(labels, key)
			}
			if g.extra != "" {
				labels = append(labels, v.label)
			}
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v.v, labels...)
		}
	}
}
