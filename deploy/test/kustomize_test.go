package deploytest

import (
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestKustomize renders the base and every overlay with kustomize's Go API
// and holds each object to the k8s.io/api types and driftd's rules.
func TestKustomize(t *testing.T) {
	tests := []struct {
		dir   string
		kinds []string // exactly these, in any order
	}{
		{"base", []string{"ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service", "ServiceMonitor", "NetworkPolicy"}},
		{"overlays/statefulset", []string{"ServiceAccount", "ConfigMap", "StatefulSet", "Service", "Service", "ServiceMonitor", "NetworkPolicy"}},
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
	for _, o := range objs {
		count[o.kind]--
		if cm, ok := o.obj.(*corev1.ConfigMap); ok {
			configMaps[cm.Name] = true
			text, ok := cm.Data["workspaces.yaml"]
			if !ok {
				t.Errorf("%s: ConfigMap %s has no workspaces.yaml", where, cm.Name)
			}
			validateConfig(t, where, text)
		}
	}
	for k, n := range count {
		if n != 0 {
			t.Errorf("%s: %d objects of kind %s too few (negative: too many)", where, n, k)
		}
	}
	for _, o := range objs {
		spec, ok := podSpec(o)
		if !ok {
			continue
		}
		checkPod(t, where, o)
		checkShards(t, where, o)
		for _, v := range spec.Volumes {
			if v.ConfigMap != nil && !configMaps[v.ConfigMap.Name] {
				t.Errorf("%s: %s %s mounts ConfigMap %s, which is not rendered", where, o.kind, o.name, v.ConfigMap.Name)
			}
		}
	}
}
