package deploytest

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

var chartDir = filepath.Join(root, "deploy", "helm", "driftd")

func render(t *testing.T, ch *chart.Chart, values map[string]any) (map[string]string, error) {
	t.Helper()
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: "driftd", Namespace: "ops", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, vals)
}

// TestHelmChart renders the chart with Helm's SDK for each way of running
// driftd, decodes every object strictly and holds it to the same rules as
// the kustomize overlays; `helm lint` (its Go package) finds nothing.
func TestHelmChart(t *testing.T) {
	ch, err := loader.Load(chartDir)
	must(t, err)
	tests := []struct {
		name   string
		values map[string]any
		kinds  []string
	}{
		{"defaults", nil, []string{"ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service", "NetworkPolicy"}},
		{"serve sharded, monitored", map[string]any{"shards": 3, "serviceMonitor": map[string]any{"enabled": true}, "prometheusRule": map[string]any{"enabled": true}},
			[]string{"ServiceAccount", "ConfigMap", "StatefulSet", "Service", "Service", "ServiceMonitor", "PrometheusRule", "NetworkPolicy"}},
		{"serve without volume or policy", map[string]any{"persistence": map[string]any{"enabled": false}, "networkPolicy": map[string]any{"enabled": false}, "secretName": ""},
			[]string{"ServiceAccount", "ConfigMap", "Deployment", "Service"}},
		{"cronjob", map[string]any{"mode": "cronjob", "timeZone": "Europe/Berlin"}, []string{"ServiceAccount", "ConfigMap", "CronJob", "NetworkPolicy"}},
		{"cronjob sharded", map[string]any{"mode": "cronjob", "shards": 4, "existingConfigMap": "mine"}, []string{"ServiceAccount", "CronJob", "NetworkPolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := render(t, ch, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for name := range files {
				names = append(names, name)
			}
			sort.Strings(names)
			var stream strings.Builder
			for _, name := range names {
				if strings.HasSuffix(name, ".yaml") {
					stream.WriteString("\n---\n" + files[name])
				}
			}
			objs := decodeAll(t, tt.name, []byte(stream.String()))
			var external []string
			if cm, ok := tt.values["existingConfigMap"].(string); ok {
				external = append(external, cm)
			}
			checkObjects(t, tt.name, objs, tt.kinds, external...)
			notes := files["driftd/templates/NOTES.txt"]
			if strings.TrimSpace(notes) == "" {
				t.Error("no NOTES.txt")
			}
			checkServedNames(t, tt.name, objs, "ops", notes)
			lintChart(t, tt.values)
		})
	}
}

func lintChart(t *testing.T, values map[string]any) {
	t.Helper()
	res := lint.All(chartDir, values, "ops", false)
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

// TestHelmChartRefuses: values that cannot take effect fail the render
// with a message saying why, never a chart that silently ignores them.
func TestHelmChartRefuses(t *testing.T) {
	ch, err := loader.Load(chartDir)
	must(t, err)
	tests := []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"shard": 3}, "shard"}, // a typo of shards
		{map[string]any{"mode": "daemon"}, "mode"},
		{map[string]any{"shards": 0}, "shards"},
		{map[string]any{"persistence": map[string]any{"existingClaim": "mine"}, "shards": 2}, "each replica needs its own volume"},
		{map[string]any{"mode": "cronjob", "serviceMonitor": map[string]any{"enabled": true}}, "serviceMonitor.enabled needs mode: serve"},
		{map[string]any{"mode": "cronjob", "prometheusRule": map[string]any{"enabled": true}}, "prometheusRule.enabled needs mode: serve"},
		{map[string]any{"prometheusRule": map[string]any{"enable": true}}, "enable"},
		{map[string]any{"prometheusRule": map[string]any{"labels": map[string]any{"release": 1}}}, "release"},
		{map[string]any{"image": map[string]any{"tags": "v1"}}, "tags"},
	}
	for _, tt := range tests {
		_, err := render(t, ch, tt.values)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("values %v: %v, want an error about %q", tt.values, err, tt.want)
		}
	}
}
