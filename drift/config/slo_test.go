package config

import (
	"reflect"
	"testing"
	"time"
)

func TestParseSLO(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{"infra": ""})
	cfg, err := Parse(root+"/workspaces.yaml", []byte(`version: 1
defaults:
  schedule: "@hourly"
  slo:
    drift_free: 99.9%
    resolve_within: 3d
workspaces:
  - name: inherits
    dir: infra
  - name: overrides
    dir: infra
    slo:
      window: 1d12h
      workspace_metrics: true
  - name: none
    dir: infra
    slo: false
  - name: again
    dir: infra
    slo: false
  - name: fresh
    dir: infra
    slo:
      drift_free: " 95 %"
server:
  retention:
    max_age: 30d
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*SLO{
		"inherits":  {DriftFree: 0.999, Window: 30 * 24 * time.Hour, ResolveWithin: 72 * time.Hour},
		"overrides": {DriftFree: 0.999, Window: 36 * time.Hour, ResolveWithin: 72 * time.Hour, WorkspaceMetrics: true},
		"none":      nil,
		"again":     nil,
		"fresh":     {DriftFree: 0.95, Window: 30 * 24 * time.Hour, ResolveWithin: 72 * time.Hour},
	}
	for _, w := range cfg.Workspaces {
		if !reflect.DeepEqual(w.SLO, want[w.Name]) {
			t.Errorf("%s: SLO = %+v, want %+v", w.Name, w.SLO, want[w.Name])
		}
	}
	if cfg.Server.Retention.MaxAge != 30*24*time.Hour {
		t.Errorf("max_age 30d = %s", cfg.Server.Retention.MaxAge)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"15m":      15 * time.Minute,
		"30d":      30 * 24 * time.Hour,
		"1d12h":    36 * time.Hour,
		"0d":       0,
		"-2d":      -48 * time.Hour,
		"+1d":      24 * time.Hour,
		"106751d":  106751 * 24 * time.Hour,
		"1d30m15s": 24*time.Hour + 30*time.Minute + 15*time.Second,
	} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "1.5d", "1d-1h", "1d+1h", "1dd", "106752d", "106751d24h", "999999d", "1 d", "1D", "d1"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestScansIn(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, c := range []struct {
		spec   string
		window time.Duration
		limit  int
		n      string
		over   bool
	}{
		{"@hourly", 30 * day, 1000, "", false}, // at most 43200 a month: counted
		{"@every 30m", 30 * day, 1000, "1440", true},
		{"@every 1h", 30 * day, 720, "720", false},
		{"*/10 * * * *", 7 * day, 1000, "more than 1000", true},
		{"*/10 * * * *", 7 * day, 1008, "1008", false},
		{"0 9 * * 1-5", 30 * day, 10, "more than 10", true},
		{"@daily", 90 * day, 1000, "", false}, // a cron fires at most once a minute
		{"not a schedule", day, 1, "", false},
	} {
		n, over := scansIn(c.spec, c.window, c.limit)
		if over != c.over || over && n != c.n {
			t.Errorf("scansIn(%q, %s, %d) = %q, %v; want %q, %v", c.spec, c.window, c.limit, n, over, c.n, c.over)
		}
	}
}
