package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// DefaultSLOWindow is an SLO's window when it names none.
const DefaultSLOWindow = 30 * 24 * time.Hour

var sloFields = []string{"drift_free", "window", "resolve_within", "workspace_metrics"}

// SLO is a workspace's drift objectives (docs/slo.md), which driftd serve
// measures from the store's history.
type SLO struct {
	// DriftFree is the share of time without drift aimed for, above 0
	// and below 1 (0.995 for "99.5%").
	DriftFree float64
	// Window is the span the objective covers, ending now.
	Window time.Duration
	// ResolveWithin is how long drift may last; 0 sets no such objective.
	ResolveWithin time.Duration
	// WorkspaceMetrics exports the workspace's own SLO series; otherwise
	// it counts in its owners' and the fleet's only.
	WorkspaceMetrics bool
}

// sloState is where a workspace's slo settings were written, for the
// checks that run once defaults are merged in and the server section is
// read.
type sloState struct {
	key, window, driftFree *field
}

// slo applies the slo mapping of f onto st, key by key over what defaults
// set; false removes the defaults' SLO.
func (d *decoder) slo(f field, st *wsState) {
	if n := d.resolve(f.val); n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var on bool
		if n.Decode(&on) == nil && !on {
			st.w.SLO, st.slo = nil, sloState{}
			return
		}
		d.errorf(n, f.path, "expected a mapping (drift_free, window, ...) or false for none, got %s", describe(n))
		return
	}
	fs, ok := d.mapping(f.val, f.path, sloFields, nil)
	if !ok {
		return
	}
	s := SLO{Window: DefaultSLOWindow}
	if st.w.SLO != nil {
		s = *st.w.SLO
	}
	st.slo.key = &f
	if g, ok := fs["drift_free"]; ok {
		// Set even when invalid: its error is reported already.
		s.DriftFree, _ = d.percent(g)
		st.slo.driftFree = &g
	}
	if g, ok := fs["window"]; ok {
		if v, ok := d.positiveDuration(g); ok {
			s.Window = v
			st.slo.window = &g
		}
	}
	if g, ok := fs["resolve_within"]; ok {
		if v, ok := d.positiveDuration(g); ok {
			s.ResolveWithin = v
		}
	}
	if g, ok := fs["workspace_metrics"]; ok {
		s.WorkspaceMetrics, _ = d.boolean(g)
	}
	st.w.SLO = &s
}

// positiveDuration reads a duration above 0.
func (d *decoder) positiveDuration(f field) (time.Duration, bool) {
	v, ok := d.duration(f)
	if ok && v <= 0 {
		d.errorf(f.val, f.path, "must be positive, got %s", describe(f.val))
		return 0, false
	}
	return v, ok
}

// percent reads a percentage above 0% and below 100% ("99.5%") as a
// share (0.995).
func (d *decoder) percent(f field) (float64, bool) {
	n := d.resolve(f.val)
	if n == nil {
		return 0, false
	}
	num, isPct := strings.CutSuffix(n.Value, "%")
	// The exponent keeps the share the closest float to the decimal written:
	// 99.9% is 0.999, not 99.9/100 = 0.9990000000000001.
	v, err := strconv.ParseFloat(strings.TrimSpace(num)+"e-2", 64)
	if n.Kind != yaml.ScalarNode || !isPct || err != nil || strings.ContainsAny(num, "eEnNxXpP_") {
		d.errorf(n, f.path, `expected a percentage like "99.5%%", got %s`, describe(n))
		return 0, false
	}
	if v <= 0 || v >= 1 {
		d.errorf(n, f.path, "must be above 0%% and below 100%% (100%% leaves no error budget), got %s", n.Value)
		return 0, false
	}
	return v, true
}

// checkSLOs runs the checks an SLO needs with defaults merged in and the
// server section read: an objective, and a window the store keeps. An
// error about a value written in defaults is reported there once.
func (d *decoder) checkSLOs(states []*wsState, ret Retention) {
	reported := map[*yaml.Node]bool{}
	once := func(n *yaml.Node, path, format string, args ...any) {
		if !reported[n] {
			reported[n] = true
			d.errorf(n, path, format, args...)
		}
	}
	for _, st := range states {
		if !d.visit() {
			return
		}
		s := st.w.SLO
		if s == nil {
			continue
		}
		key := st.slo.key
		if st.slo.driftFree == nil {
			once(key.key, key.path, `needs drift_free, the objective (e.g. drift_free: "99%%")`)
			continue
		}
		// The window's own value, or the slo key for the default window.
		at, path, what := key.key, key.path, fmt.Sprintf("the default window (%s)", fmtDuration(s.Window))
		if w := st.slo.window; w != nil {
			at, path, what = w.val, w.path, "window"
		}
		if ret.MaxAge > 0 && s.Window > ret.MaxAge {
			once(at, path, "%s is longer than server.retention.max_age (%s): the store would not keep the history it covers", what, fmtDuration(ret.MaxAge))
			continue
		}
		if ret.MaxScans > 0 && !st.scheduleBad {
			if n, over := scansIn(st.w.Schedule, s.Window, ret.MaxScans); over {
				d.errorf(at, path, "%s holds %s scans of workspace %q (schedule %q), more than server.retention.max_scans (%d) keeps: raise max_scans or shorten the window",
					what, n, st.w.Name, st.w.Schedule, ret.MaxScans)
			}
		}
	}
}

// scansIn counts a schedule's firings in a window, giving up past limit
// (then it says "more than limit").
func scansIn(spec string, window time.Duration, limit int) (string, bool) {
	if checkCron(spec) != nil {
		return "", false
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return "", false
	}
	if c, ok := sched.(cron.ConstantDelaySchedule); ok {
		if c.Delay <= 0 {
			return "", false
		}
		n := int64(window / c.Delay)
		return strconv.FormatInt(n, 10), n > int64(limit)
	}
	// Cron expressions fire at most once a minute.
	if window/time.Minute <= time.Duration(limit) {
		return "", false
	}
	// A fixed start keeps the result (and the message) stable.
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	end := t.Add(window)
	for n := 0; ; n++ {
		t = sched.Next(t)
		if t.IsZero() || t.After(end) {
			return strconv.Itoa(n), n > limit
		}
		if n == limit {
			return "more than " + strconv.Itoa(limit), true
		}
	}
}

// fmtDuration writes whole days as "30d", else as Go does.
func fmtDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
