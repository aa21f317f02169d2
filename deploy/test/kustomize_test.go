package deploytest

import (
	"fmt"
	"path/filepath"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// TestKustomize renders the base and every overlay with kustomize's Go API
// and holds each object to the k8s.io/api types and driftd's rules.
func TestKustomize(t *testing.T) {
	tests := []struct {
		dir   string
		kinds []string // exactly these, in any order
	}{
		{"base", []string{"ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service", "ServiceMonitor", "PrometheusRule", "NetworkPolicy"}},
		{"overlays/statefulset", []string{"ServiceAccount", "ConfigMap", "StatefulSet", "Service", "Service", "ServiceMonitor", "PrometheusRule", "NetworkPolicy"}},
		{"overlays/cronjob", []string{"ServiceAccount", "ConfigMap", "CronJob", "NetworkPolicy"}},
		{"overlays/indexed-job", []string{"ServiceAccount", "ConfigMap", "Job", "NetworkPolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
			res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, "deploy", "kubernetes", tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			stream, err := res.AsYaml()
			must(t, err)
			objs := decodeAll(t, tt.dir, stream)
			checkObjects(t, tt.dir, objs, tt.kinds)
			// No namespace here: the pods take the one they run in.
			checkServedNames(t, tt.dir, objs, "team-infra", "")
		})
	}
}

// checkObjects checks a rendered set: the kinds wanted, every pod by the
// rules, shards by the contract, the config by driftd itself, and every
// ConfigMap a pod mounts present (rendered, or one of external).
func checkObjects(t *testing.T, where string, objs []object, kinds []string, external ...string) {
	t.Helper()
	count := map[string]int{}
	for _, k := range kinds {
		count[k]++
	}
	configMaps := map[string]bool{}
	for _, name := range external {
		configMaps[name] = true
	}
	dataDirs := map[string]string{} // server.data_dir by ConfigMap
	for _, o := range objs {
		count[o.kind]--
		if pr, ok := o.obj.(*monitoringv1.PrometheusRule); ok {
			checkPrometheusRule(t, where, pr)
		}
		if cm, ok := o.obj.(*corev1.ConfigMap); ok {
			configMaps[cm.Name] = true
			text, ok := cm.Data["workspaces.yaml"]
			if !ok {
				t.Errorf("%s: ConfigMap %s has no workspaces.yaml", where, cm.Name)
			}
			validateConfig(t, where, text)
			var cfg struct {
				Server struct {
					DataDir string `json:"data_dir"`
				} `json:"server"`
			}
			if yaml.Unmarshal([]byte(text), &cfg) == nil { // else validateConfig said why
				dataDirs[cm.Name] = cfg.Server.DataDir
			}
		}
	}
	for k, n := range count {
		if n != 0 {
			t.Errorf("%s: %d objects of kind %s too few (negative: too many)", where, n, k)
		}
	}
	checkScrapedOnce(t, where, objs)
	for _, o := range objs {
		spec, ok := podSpec(o)
		if !ok {
			continue
		}
		checkPod(t, where, o)
		checkShards(t, where, o)
		dataDir := ""
		for _, v := range spec.Volumes {
			if v.ConfigMap != nil && !configMaps[v.ConfigMap.Name] {
				t.Errorf("%s: %s %s mounts ConfigMap %s, which is not rendered", where, o.kind, o.name, v.ConfigMap.Name)
			}
			if v.ConfigMap != nil {
				dataDir = dataDirs[v.ConfigMap.Name]
			}
		}
		checkPodDirs(t, fmt.Sprintf("%s: %s %s", where, o.kind, o.name), spec, dataDir)
	}
}

// checkScrapedOnce: each ServiceMonitor selects exactly one Service. One
// selecting the headless Service too would scrape every replica twice, and
// every alert on its metrics would fire twice.
func checkScrapedOnce(t *testing.T, where string, objs []object) {
	t.Helper()
	for _, o := range objs {
		sm, ok := o.obj.(*monitoringv1.ServiceMonitor)
		if !ok {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		must(t, err)
		var selected []string
		for _, s := range objs {
			if svc, ok := s.obj.(*corev1.Service); ok && sel.Matches(labels.Set(svc.Labels)) {
				selected = append(selected, svc.Name)
			}
		}
		if len(selected) != 1 {
			t.Errorf("%s: ServiceMonitor %s selects the Services %v, want one", where, sm.Name, selected)
		}
	}
}
