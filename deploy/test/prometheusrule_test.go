package deploytest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
)

var update = flag.Bool("update", false, "rewrite the chart's and the kustomize base's copies of deploy/prometheus/rules.yaml")

// The copies of rules.yaml that ship as PrometheusRules: neither Helm nor
// kustomize (by default) reads a file outside its own directory.
var (
	chartRulesFile     = filepath.Join(chartDir, "files", "rules.yaml")
	kustomizeRulesFile = filepath.Join(root, "deploy", "kubernetes", "base", "prometheusrule.yaml")
)

// kustomizeRuleHeader opens the kustomize base's PrometheusRule; rules.yaml
// follows, indented under spec.
const kustomizeRuleHeader = `# Generated from deploy/prometheus/rules.yaml (docs/slo.md explains its
# rules and alerts): edit that file, then regenerate this one with
#   cd deploy/test && go test -run TestPrometheusRuleCopies -update
# Needs the Prometheus Operator's CRDs; drop it from your kustomization
# without them.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: driftd
spec:
`

// kustomizeRule is the kustomize base's PrometheusRule made of rules.yaml's
// text: every line indented by two spaces, comments too, so that one
// source reads the same everywhere.
func kustomizeRule(rules []byte) []byte {
	var b bytes.Buffer
	b.WriteString(kustomizeRuleHeader)
	for _, line := range strings.SplitAfter(string(rules), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	return b.Bytes()
}

// TestPrometheusRuleCopies: the chart's and the kustomize base's copies of
// rules.yaml are exactly what it makes them (-update rewrites them).
func TestPrometheusRuleCopies(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	must(t, err)
	for path, want := range map[string][]byte{chartRulesFile: rules, kustomizeRulesFile: kustomizeRule(rules)} {
		if *update {
			must(t, os.WriteFile(path, want, 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not made from deploy/prometheus/rules.yaml as it is now: run\n  cd deploy/test && go test -run TestPrometheusRuleCopies -update", path)
		}
	}
}

// checkPrometheusRule: a rendered PrometheusRule holds exactly the groups
// of rules.yaml, both read by Prometheus's rule parser.
func checkPrometheusRule(t *testing.T, where string, pr *monitoringv1.PrometheusRule) {
	t.Helper()
	js, err := json.Marshal(pr.Spec)
	must(t, err)
	where += ": PrometheusRule " + pr.Name
	got, want := parseRules(t, where, js).Groups, loadRules(t, rulesFile).Groups
	if len(got) != len(want) {
		t.Errorf("%s: %d rule groups, want %d as in rules.yaml", where, len(got), len(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if len(g.Rules) != len(w.Rules) {
			t.Errorf("%s: group %s has %d rules, want %d as in rules.yaml", where, g.Name, len(g.Rules), len(w.Rules))
			continue
		}
		for j := range w.Rules {
			if !reflect.DeepEqual(g.Rules[j], w.Rules[j]) {
				t.Errorf("%s: group %s rule %d:\n got  %+v\n want %+v", where, g.Name, j, g.Rules[j], w.Rules[j])
			}
		}
		g.Rules, w.Rules = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: group %d:\n got  %+v\n want %+v", where, i, g, w)
		}
	}
}

// TestHelmPrometheusRule: prometheusRule.labels reach the PrometheusRule
// (the operator selects rules by them) beside the chart's own labels.
func TestHelmPrometheusRule(t *testing.T) {
	ch, err := loader.Load(chartDir)
	must(t, err)
	files, err := render(t, ch, map[string]any{"prometheusRule": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}})
	must(t, err)
	objs := decodeAll(t, "prometheusRule", []byte(files["driftd/templates/prometheusrule.yaml"]))
	if len(objs) != 1 {
		t.Fatalf("%d objects rendered, want the PrometheusRule", len(objs))
	}
	pr := objs[0].obj.(*monitoringv1.PrometheusRule)
	if pr.Labels["release"] != "prometheus" || pr.Labels["app.kubernetes.io/name"] != "driftd" {
		t.Errorf("labels %v, want release=prometheus and the chart's", pr.Labels)
	}
	checkPrometheusRule(t, "prometheusRule", pr)
}
