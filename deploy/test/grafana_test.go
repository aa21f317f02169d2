package deploytest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var dashboardFile = filepath.Join(root, "deploy", "grafana", "driftd.json")

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int               `json:"id"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Datasource map[string]string `json:"datasource"`
	GridPos    map[string]int    `json:"gridPos"`
	Targets    []struct {
		RefID      string            `json:"refId"`
		Expr       string            `json:"expr"`
		Datasource map[string]string `json:"datasource"`
	} `json:"targets"`
}

// grafanaVar matches a dashboard variable in a query: $owner, ${owner},
// $__rate_interval.
var grafanaVar = regexp.MustCompile(`\$\{?(\w+)\}?`)

// dashboardQueries returns every PromQL expression of the dashboard, its
// variables replaced by values that parse (intervals by 5m), keyed by where
// it stands; and checks the dashboard's shape.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	must(t, err)
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	must(t, dec.Decode(&d))
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard: uid %q, title %q, %d panels", d.UID, d.Title, len(d.Panels))
	}
	subst := func(expr string) string {
		return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
			if strings.HasPrefix(strings.Trim(v, "${}"), "__") {
				return "5m"
			}
			return "x"
		})
	}
	vars := map[string]bool{}
	out := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		s, _ := q["query"].(string)
		m := regexp.MustCompile(`^label_values\((.+), *\w+\)$`).FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable %s: query %q, want label_values(METRIC, LABEL)", v.Name, s)
			continue
		}
		out["variable "+v.Name] = m[1]
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos["w"] == 0 || p.GridPos["h"] == 0 {
			t.Errorf("panel %q has no size", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource["uid"] != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %v, %d queries; want ${datasource} and some", p.Title, p.Datasource, len(p.Targets))
		}
		for _, tg := range p.Targets {
			for _, m := range grafanaVar.FindAllStringSubmatch(tg.Expr, -1) {
				if !strings.HasPrefix(m[1], "__") && !vars[m[1]] {
					t.Errorf("panel %q: $%s is not a dashboard variable", p.Title, m[1])
				}
			}
			out[fmt.Sprintf("panel %q query %s", p.Title, tg.RefID)] = subst(tg.Expr)
		}
	}
	return out
}

// TestObservabilityKit runs a real `driftd serve` over the testbed demo's
// workspaces (one drifted, one deleted outside Terraform, one that drifts
// and is put back during the test), with SLOs, owners and a webhook, and
// checks that every metric the Grafana dashboard and the Prometheus rules
// read is one the daemon exports, and that counters are read with rate()
// or increase() only.
func TestObservabilityKit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform and a daemon")
	}
	queries := dashboardQueries(t)
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("no terraform on PATH")
	}
	bin := driftd(t)

	dir := t.TempDir()
	demo := exec.Command("go", "run", "./internal/testbed/cmd/testbed", "demo", "--dir", filepath.Join(dir, "demo"), "--examples", "examples")
	demo.Dir = root
	out, err := demo.Output()
	if err != nil {
		t.Fatalf("testbed demo: %v\n%s", err, stderrOf(err))
	}
	var demoCfg struct {
		Workspaces []map[string]any `json:"workspaces"`
	}
	demoText, err := os.ReadFile(strings.TrimSpace(string(out)))
	must(t, err)
	must(t, yaml.Unmarshal(demoText, &demoCfg))

	var delivered atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
	}))
	defer hook.Close()

	owners := map[string]string{"network": "netops", "app": "apps", "storage": "storage"}
	var objects string
	for _, ws := range demoCfg.Workspaces {
		name := ws["name"].(string)
		ws["owners"] = []string{owners[name]}
		if name == "storage" {
			ws["slo"] = map[string]any{"workspace_metrics": true}
		}
		env, _ := ws["env"].(map[string]any)
		objects, _ = env["TESTBED_ROOT"].(string)
	}
	cfg := map[string]any{
		"version": 1,
		"defaults": map[string]any{
			"schedule": "@every 2s",
			// 30 minutes of scans every 2 s fit the store's default 1000.
			"slo": map[string]any{"drift_free": "99%", "window": "30m", "resolve_within": "1h"},
		},
		"server":     map[string]any{"min_interval": "1s", "shutdown_timeout": "30s"},
		"reporters":  map[string]any{"webhooks": []any{map[string]any{"name": "hook", "url": hook.URL}}},
		"workspaces": demoCfg.Workspaces,
	}
	cfgPath := filepath.Join(dir, "workspaces.yaml")
	cfgText, err := yaml.Marshal(cfg)
	must(t, err)
	must(t, os.WriteFile(cfgPath, cfgText, 0o644))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	l.Close()
	serve := exec.Command(bin, "serve", "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"), "--listen", addr, "--log-format", "json")
	serve.Env = append(os.Environ(), "HOME="+dir)
	var logs strings.Builder
	serve.Stdout, serve.Stderr = &logs, &logs
	must(t, serve.Start())
	defer func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- serve.Wait() }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			_ = serve.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("driftd serve:\n%s", logs.String())
		}
	}()

	scrape := func() (samples map[string]float64, types map[string]string) {
		samples, types = map[string]float64{}, map[string]string{}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return samples, types
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
				types[f[2]] = f[3]
			}
			if line == "" || line[0] == '#' {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			v, _ := strconv.ParseFloat(line[i+1:], 64)
			samples[line[:i]] = v
		}
		return samples, types
	}
	waitFor := func(what string, ok func(map[string]float64) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Minute) // a safety net for a loaded machine
		for time.Now().Before(deadline) {
			if s, _ := scrape(); ok(s) {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Fatalf("no %s within the safety net", what)
	}

	waitFor("first scans (network drifted, storage clean)", func(s map[string]float64) bool {
		return s[`driftd_slo_owner_drifting_workspaces{owner="netops"}`] == 1 &&
			s[`driftd_workspace_status{status="clean",workspace="storage"}`] == 1
	})
	// storage drifts outside Terraform, then is put back.
	bucket := filepath.Join(objects, "storage-bucket.json")
	orig, err := os.ReadFile(bucket)
	must(t, err)
	var obj map[string]any
	must(t, json.Unmarshal(orig, &obj))
	obj["tags"].(map[string]any)["env"] = "changed-by-hand"
	changed, err := json.Marshal(obj)
	must(t, err)
	must(t, os.WriteFile(bucket, changed, 0o644))
	waitFor("drift in storage", func(s map[string]float64) bool {
		return s[`driftd_workspace_drifted_resources{workspace="storage"}`] > 0
	})
	must(t, os.WriteFile(bucket, orig, 0o644))
	waitFor("storage's drift resolved", func(s map[string]float64) bool {
		return s[`driftd_slo_workspace_time_to_resolve_seconds{stat="max",workspace="storage"}`] > 0 &&
			s[`driftd_slo_workspace_drifting_workspaces{workspace="storage"}`] == 0
	})

	samples, types := scrape()
	exported := map[string]bool{}
	for series := range samples {
		name, _, _ := strings.Cut(series, "{")
		exported[name] = true
	}
	if delivered.Load() == 0 || !exported["driftd_reporter_deliveries_total"] {
		t.Errorf("the webhook got %d deliveries; reporter counters exported: %v", delivered.Load(), exported["driftd_reporter_deliveries_total"])
	}

	rgs := loadRules(t, rulesFile)
	recorded := map[string]bool{}
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
			queries["rule "+r.Record+r.Alert] = r.Expr
		}
	}
	used := map[string]bool{}
	for where, expr := range queries {
		for _, name := range metricNames(t, where, expr) {
			used[name] = true
			if !exported[name] && !(strings.HasPrefix(where, "rule ") && recorded[name]) {
				t.Errorf("%s reads %s, which driftd serve does not export", where, name)
			}
		}
		checkCounters(t, where, expr, types)
	}
	// The dashboard and the rules between them show every SLO figure.
	var unused []string
	for _, n := range []string{"drift_free_ratio", "error_budget_remaining_ratio", "burn_rate", "drifting_workspaces", "overdue_workspaces",
		"scan_success_ratio", "last_success_age_seconds", "time_to_detect_seconds", "time_to_resolve_seconds"} {
		if !used["driftd_slo_fleet_"+n] && !used["driftd_slo_owner_"+n] {
			unused = append(unused, n)
		}
	}
	if len(unused) > 0 {
		t.Errorf("SLO figures neither the dashboard nor the rules show: %v", unused)
	}
}

// checkCounters fails an expression that reads a counter other than
// through rate() or increase().
func checkCounters(t *testing.T, where, expr string, types map[string]string) {
	t.Helper()
	for _, name := range metricNames(t, where, expr) {
		if types[name] != "counter" {
			continue
		}
		if !regexp.MustCompile(`(rate|increase)\(` + regexp.QuoteMeta(name)).MatchString(expr) {
			t.Errorf("%s reads counter %s without rate() or increase()", where, name)
		}
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
