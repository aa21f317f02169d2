package deploytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// root is the driftd repository.
var root = func() string {
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return abs
}()

var (
	scheme     = runtime.NewScheme()
	schemeOnce sync.Once
)

func kubeScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	schemeOnce.Do(func() {
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			panic(err)
		}
		if err := monitoringv1.AddToScheme(scheme); err != nil {
			panic(err)
		}
	})
	return scheme
}

// object is one decoded Kubernetes object.
type object struct {
	kind, name string
	obj        runtime.Object
}

// decodeAll splits a multi-document YAML stream and decodes every object
// strictly into its k8s.io/api (or Prometheus Operator) type: an unknown
// field, a duplicate key, a wrong type or an unknown kind fails.
func decodeAll(t *testing.T, where string, stream []byte) []object {
	t.Helper()
	var out []object
	for i, doc := range bytes.Split(stream, []byte("\n---")) {
		doc = bytes.TrimPrefix(bytes.TrimSpace(doc), []byte("---"))
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			t.Fatalf("%s: document %d: %v", where, i, err)
		}
		var tm metav1.TypeMeta
		must(t, json.Unmarshal(js, &tm))
		gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
		obj, err := kubeScheme(t).New(gvk)
		if err != nil {
			t.Fatalf("%s: document %d: %v", where, i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatalf("%s: %s document %d: %v\n%s", where, tm.Kind, i, err, doc)
		}
		name := ""
		if m, ok := obj.(metav1.Object); ok {
			name = m.GetName()
		}
		out = append(out, object{kind: tm.Kind, name: name, obj: obj})
	}
	return out
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.Bytes()
}

// podSpec returns the pod spec of a workload object.
func podSpec(o object) (*corev1.PodSpec, bool) {
	switch w := o.obj.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template.Spec, true
	case *appsv1.StatefulSet:
		return &w.Spec.Template.Spec, true
	case *batchv1.Job:
		return &w.Spec.Template.Spec, true
	case *batchv1.CronJob:
		return &w.Spec.JobTemplate.Spec.Template.Spec, true
	}
	return nil, false
}

// checkPod holds every pod to the same rules: non-root, read-only root
// filesystem with /tmp and /var/lib/driftd writable, no privilege
// escalation, no capabilities, resources set, driftd's own commands.
func checkPod(t *testing.T, where string, o object) {
	t.Helper()
	spec, _ := podSpec(o)
	at := fmt.Sprintf("%s: %s %s", where, o.kind, o.name)
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v", at, psc)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: mounts a service account token driftd never uses", at)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", at, len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 {
		t.Errorf("%s: container security context %+v", at, sc)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	for _, p := range []string{"/tmp", "/var/lib/driftd", "/etc/driftd"} {
		if mounts[p] == "" {
			t.Errorf("%s: nothing mounted at %s", at, p)
		}
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: memory request and limit wanted, got %+v", at, c.Resources)
	}
	if len(c.Args) == 0 || (c.Args[0] != "serve" && c.Args[0] != "scan") {
		t.Errorf("%s: args %v, want serve or scan", at, c.Args)
	}
	if c.Args[0] == "serve" {
		for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil || (p.HTTPGet.Path != "/readyz" && p.HTTPGet.Path != "/healthz") {
				t.Errorf("%s: probes %+v %+v", at, c.ReadinessProbe, c.LivenessProbe)
			}
		}
	}
}

// env returns a container's plain environment variables.
func env(spec *corev1.PodSpec) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range spec.Containers[0].Env {
		m[e.Name] = e
	}
	return m
}

// checkShards holds sharded workloads to the shard contract: N processes
// told N, each its own index (docs/scaling.md).
func checkShards(t *testing.T, where string, o object) {
	t.Helper()
	spec, _ := podSpec(o)
	e := env(spec)
	shards := e["DRIFTD_SHARDS"].Value
	switch w := o.obj.(type) {
	case *appsv1.StatefulSet:
		if w.Spec.Replicas == nil || fmt.Sprint(*w.Spec.Replicas) != shards {
			t.Errorf("%s: StatefulSet of %v replicas with DRIFTD_SHARDS=%q", where, w.Spec.Replicas, shards)
		}
		if p := e["POD_NAME"]; p.ValueFrom == nil || p.ValueFrom.FieldRef == nil || p.ValueFrom.FieldRef.FieldPath != "metadata.name" {
			t.Errorf("%s: POD_NAME is not the pod's name: %+v", where, p)
		}
		if len(w.Spec.VolumeClaimTemplates) == 0 {
			t.Errorf("%s: replicas share no volume, but each needs its own", where)
		}
	case *batchv1.Job:
		checkIndexed(t, where, &w.Spec, shards)
	case *batchv1.CronJob:
		if shards != "" || w.Spec.JobTemplate.Spec.CompletionMode != nil {
			checkIndexed(t, where, &w.Spec.JobTemplate.Spec, shards)
		}
	}
}

func checkIndexed(t *testing.T, where string, s *batchv1.JobSpec, shards string) {
	t.Helper()
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion ||
		s.Completions == nil || fmt.Sprint(*s.Completions) != shards || s.Parallelism == nil || fmt.Sprint(*s.Parallelism) != shards {
		t.Errorf("%s: sharded Job: mode %v, completions %v, parallelism %v, DRIFTD_SHARDS=%q", where, s.CompletionMode, s.Completions, s.Parallelism, shards)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var (
	driftdOnce sync.Once
	driftdBin  string
	driftdErr  error
)

// driftd builds the driftd binary once, as `make build` does.
func driftd(t *testing.T) string {
	t.Helper()
	driftdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deploytest-")
		if err != nil {
			driftdErr = err
			return
		}
		driftdBin = filepath.Join(dir, "driftd")
		cmd := exec.Command("go", "build", "-o", driftdBin, "./cmd/driftd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			driftdErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if driftdErr != nil {
		t.Fatal(driftdErr)
	}
	return driftdBin
}

// validateConfig runs `driftd validate --offline` on a config file's text.
func validateConfig(t *testing.T, where, text string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "workspaces.yaml")
	must(t, os.WriteFile(path, []byte(text), 0o644))
	out, err := exec.Command(driftd(t), "validate", "--offline", "--config", path).CombinedOutput()
	if err != nil {
		t.Errorf("%s: driftd validate --offline: %v\n%s", where, err, out)
	}
}
