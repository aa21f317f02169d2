package server

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

// statuses are every value driftd_workspace_status's status label takes, so
// that a workspace always exports all of them (1 for the current, 0 else) and
// a query never has to tell "0" from "absent".
var statuses = [...]drift.Status{drift.StatusClean, drift.StatusDrifted, drift.StatusError}

// The per-workspace series. A GaugeVec or CounterVec keeps an object and
// its label pairs per series, about 3.7 KB per workspace for these eight;
// workspaceCollector keeps a workspaceSeries of plain values per workspace
// and makes the series at each scrape.
var (
	driftedDesc = prometheus.NewDesc("driftd_workspace_drifted_resources",
		"Resources changed outside Terraform, as of the last conclusive scan.", []string{"workspace"}, nil)
	pendingDesc = prometheus.NewDesc("driftd_workspace_pending_changes",
		"Resources with changes in code not yet applied, as of the last conclusive scan.", []string{"workspace"}, nil)
	statusDesc = prometheus.NewDesc("driftd_workspace_status",
		"Outcome of the workspace's last scan: 1 for the current status, 0 for the others.", []string{"workspace", "status"}, nil)
	lastScanDesc = prometheus.NewDesc("driftd_workspace_last_scan_timestamp_seconds",
		"Unix time at which the workspace's last scan started.", []string{"workspace"}, nil)
	lastDurationDesc = prometheus.NewDesc("driftd_workspace_last_scan_duration_seconds",
		"Wall time of the workspace's last scan.", []string{"workspace"}, nil)
	lastSuccessDesc = prometheus.NewDesc("driftd_workspace_last_success_timestamp_seconds",
		"Unix time at which the workspace's last scan that did not fail started.", []string{"workspace"}, nil)
	scansDesc = prometheus.NewDesc("driftd_scans_total",
		"Scans finished, by workspace and outcome.", []string{"workspace", "status"}, nil)
	scanErrorsDesc = prometheus.NewDesc("driftd_scan_errors_total",
		"Scans that failed.", []string{"workspace"}, nil)
)

// workspaceCollector exports every workspace's series; Metrics' methods
// change them under mu.
type workspaceCollector struct {
	mu     sync.RWMutex
	series map[string]*workspaceSeries
}

func newWorkspaceCollector() *workspaceCollector {
	return &workspaceCollector{series: map[string]*workspaceSeries{}}
}

// Bits of workspaceSeries.has: which gauges exist. A counter exists once
// created.
const (
	// hasStatus: the status gauges and the last scan's duration, set by
	// every report.
	hasStatus = 1 << iota
	// hasCounts: drifted and pending, set by reports that did not fail.
	hasCounts
	hasLastScan
	hasLastSuccess
)

// workspaceSeries is one workspace's series, as the values they export.
type workspaceSeries struct {
	drifted, pending                    float64
	lastScan, lastDuration, lastSuccess float64
	// scans counts scans by status, indexed like statuses; other by the
	// statuses outside them (nil until one is seen).
	scans  [len(statuses)]counter
	other  map[drift.Status]*counter
	errors counter
	// status indexes statuses; len(statuses) for a status outside them.
	status uint8
	has    uint8
}

// counter is a counter series: its count and when it was created (Unix
// nanoseconds, 0 while it does not exist), which the protobuf exposition
// carries as a GaugeVec's counter did.
type counter struct {
	n       uint64
	created int64
}

// touch creates the counter, at 0, if it does not exist yet.
func (c *counter) touch(now time.Time) {
	if c.created == 0 {
		c.created = now.UnixNano()
	}
}

func (c *counter) inc(now time.Time) {
	c.touch(now)
	c.n++
}

// get returns a workspace's series, adding it if new. The caller holds mu.
func (c *workspaceCollector) get(workspace string) *workspaceSeries {
	s := c.series[workspace]
	if s == nil {
		s = &workspaceSeries{}
		c.series[workspace] = s
	}
	return s
}

// restore sets a workspace's gauges from a scan (the store's summary of
// a report) and returns its series. The caller holds mu.
func (c *workspaceCollector) restore(sc store.Scan) *workspaceSeries {
	s := c.get(sc.Workspace)
	s.has |= hasStatus
	s.status = uint8(statusIndex(sc.Status))
	if sc.Status != drift.StatusError {
		s.has |= hasCounts
		s.drifted, s.pending = float64(sc.Drifted), float64(sc.Pending)
		if !sc.StartedAt.IsZero() {
			s.setLastSuccess(sc.StartedAt)
		}
	}
	if !sc.StartedAt.IsZero() {
		s.has |= hasLastScan
		s.lastScan = unixSeconds(sc.StartedAt)
	}
	s.lastDuration = sc.Duration.Seconds()
	return s
}

func (s *workspaceSeries) setLastSuccess(at time.Time) {
	s.has |= hasLastSuccess
	s.lastSuccess = unixSeconds(at)
}

// scan returns the counter of scans of a status, adding it for a status
// outside statuses.
func (s *workspaceSeries) scan(status drift.Status) *counter {
	if i := statusIndex(status); i < len(statuses) {
		return &s.scans[i]
	}
	c := s.other[status]
	if c == nil {
		if s.other == nil {
			s.other = map[drift.Status]*counter{}
		}
		c = &counter{}
		s.other[status] = c
	}
	return c
}

// statusIndex is status's index in statuses, len(statuses) when it is not
// one of them.
func statusIndex(status drift.Status) int {
	for i, st := range statuses {
		if st == status {
			return i
		}
	}
	return len(statuses)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (c *workspaceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		driftedDesc, pendingDesc, statusDesc, lastScanDesc, lastDurationDesc, lastSuccessDesc, scansDesc, scanErrorsDesc,
	} {
		ch <- d
	}
}

// Collect sends every workspace's series. Like a metric vector's, it
// holds the read lock while it sends. The series are made for the scrape
// with the fewest allocations it can: the label pairs are immutable once
// sent (the registry copies before sorting), so a workspace's are made
// once per scrape and shared by its series, and each status's once for
// good; and a workspace's series share one array.
func (c *workspaceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for ws, s := range c.series {
		name := ws
		wsPair := &dto.LabelPair{Name: &workspaceLabel, Value: &name}
		one := []*dto.LabelPair{wsPair}
		// Label pairs are sorted by name: status before workspace.
		var two [len(statuses)][]*dto.LabelPair
		for i := range statuses {
			two[i] = []*dto.LabelPair{statusPairs[i], wsPair}
		}
		out := make([]series, 0, maxSeries+len(s.other))
		add := func(d *prometheus.Desc, labels []*dto.LabelPair, v float64) {
			out = append(out, series{desc: d, labels: labels, value: v})
		}
		addCounter := func(d *prometheus.Desc, labels []*dto.LabelPair, n *counter) {
			if n.created != 0 {
				out = append(out, series{desc: d, labels: labels, value: float64(n.n), created: n.created})
			}
		}
		if s.has&hasStatus != 0 {
			for i := range statuses {
				v := 0.0
				if int(s.status) == i {
					v = 1
				}
				add(statusDesc, two[i], v)
			}
			add(lastDurationDesc, one, s.lastDuration)
		}
		if s.has&hasCounts != 0 {
			add(driftedDesc, one, s.drifted)
			add(pendingDesc, one, s.pending)
		}
		if s.has&hasLastScan != 0 {
			add(lastScanDesc, one, s.lastScan)
		}
		if s.has&hasLastSuccess != 0 {
			add(lastSuccessDesc, one, s.lastSuccess)
		}
		for i := range s.scans {
			addCounter(scansDesc, two[i], &s.scans[i])
		}
		for st, n := range s.other {
			v := string(st)
			addCounter(scansDesc, []*dto.LabelPair{{Name: &statusLabel, Value: &v}, wsPair}, n)
		}
		addCounter(scanErrorsDesc, one, &s.errors)
		for i := range out {
			ch <- &out[i]
		}
	}
}

// maxSeries is the most series a workspace has for the known statuses:
// one status gauge and one scan counter each, and six more.
const maxSeries = 2*len(statuses) + 6

// The label names, and the status label's pairs, shared by every series.
var (
	workspaceLabel, statusLabel = "workspace", "status"
	statusPairs                 = func() (ps [len(statuses)]*dto.LabelPair) {
		for i, st := range statuses {
			v := string(st)
			ps[i] = &dto.LabelPair{Name: &statusLabel, Value: &v}
		}
		return ps
	}()
)

// series is one series of a workspace at one scrape: a constant gauge, or
// a counter when created is set (Unix nanoseconds).
type series struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	value   float64
	created int64
}

func (m *series) Desc() *prometheus.Desc { return m.desc }

func (m *series) Write(out *dto.Metric) error {
	out.Label = m.labels
	if m.created == 0 {
		out.Gauge = &dto.Gauge{Value: &m.value}
		return nil
	}
	out.Counter = &dto.Counter{Value: &m.value, CreatedTimestamp: timestamppb.New(time.Unix(0, m.created))}
	return nil
}
