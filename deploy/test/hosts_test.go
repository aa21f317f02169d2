package deploytest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/driftd/driftd/internal/logbuf"
)

// clusterDomain is the cluster DNS domain the manifests assume.
const clusterDomain = "cluster.local"

// servedNames lists every name in-cluster clients may address a rendered
// set's daemon by: each Service's name and, for a StatefulSet's governing
// Service, each replica's, in every form cluster DNS resolves in
// namespace ns; and the host names notes (Helm's NOTES.txt) mentions,
// replica I taken as 0.
func servedNames(objs []object, ns, notes string) []string {
	var bases []string
	for _, o := range objs {
		svc, ok := o.obj.(*corev1.Service)
		if !ok {
			continue
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			bases = append(bases, svc.Name)
			continue
		}
		for _, w := range objs {
			if sts, ok := w.obj.(*appsv1.StatefulSet); ok && sts.Spec.ServiceName == svc.Name && sts.Spec.Replicas != nil {
				for i := range int(*sts.Spec.Replicas) {
					bases = append(bases, fmt.Sprintf("%s-%d.%s", sts.Name, i, svc.Name))
				}
			}
		}
	}
	var names []string
	for _, b := range bases {
		names = append(names, b, b+"."+ns, b+"."+ns+".svc", b+"."+ns+".svc."+clusterDomain)
	}
	notes = strings.ReplaceAll(notes, "-I.", "-0.")
	for _, h := range hostRE.FindAllString(notes, -1) {
		// A pattern for every name under a domain: one of them.
		names = append(names, strings.Replace(h, "*.", "any.", 1))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// hostRE finds host names with a dot in running text, and patterns such
// as *.example.com.
var hostRE = regexp.MustCompile(`\*(\.` + hostLabel + `)+\b|\b` + hostLabel + `(\.` + hostLabel + `)+\b`)

const hostLabel = `[a-z0-9]([a-z0-9-]*[a-z0-9])?`

// checkServedNames runs each daemon of a rendered set as the pod would
// (its container's arguments and environment, the ConfigMap's config)
// and asks it, by every name clients may use, for /healthz: each must be
// answered, and a stranger's name refused (421).
func checkServedNames(t *testing.T, where string, objs []object, ns, notes string) {
	t.Helper()
	configs := map[string]string{}
	for _, o := range objs {
		if cm, ok := o.obj.(*corev1.ConfigMap); ok {
			configs[cm.Name] = cm.Data["workspaces.yaml"]
		}
	}
	names := servedNames(objs, ns, notes)
	for _, o := range objs {
		spec, ok := podSpec(o)
		if !ok || spec.Containers[0].Args[0] != "serve" {
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %s %s serves, but no Service names it", where, o.kind, o.name)
		}
		config := ""
		for _, v := range spec.Volumes {
			if v.ConfigMap != nil {
				config = configs[v.ConfigMap.Name]
			}
		}
		addr := serveAsPod(t, fmt.Sprintf("%s: %s %s", where, o.kind, o.name), o, spec, ns, config)
		for _, name := range names {
			if code := getWithHost(t, addr, name+":8080"); code != http.StatusOK {
				t.Errorf("%s: %s %s answers %d to a request for %s, a name its manifests or notes give", where, o.kind, o.name, code, name)
			}
		}
		if code := getWithHost(t, addr, "rebind.attacker.example"); code != http.StatusMisdirectedRequest {
			t.Errorf("%s: %s %s answers %d to a stranger's name, want 421", where, o.kind, o.name, code)
		}
	}
}

// serveAsPod starts the real driftd with a workload's container arguments
// and environment, as Kubernetes would in namespace ns ($(VAR) expanded,
// the downward API's namespace and name filled in), config as its config
// file, on a free local port; it returns the address.
func serveAsPod(t *testing.T, where string, o object, spec *corev1.PodSpec, ns, config string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "workspaces.yaml")
	must(t, os.WriteFile(cfg, []byte(config), 0o600))
	podName := o.name + "-0"
	vars := map[string]string{}
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DRIFTD_CACHE_DIR=" + filepath.Join(dir, "cache"), "GITHUB_TOKEN=unused"}
	for _, e := range spec.Containers[0].Env {
		v := e.Value
		if f := e.ValueFrom; f != nil && f.FieldRef != nil {
			switch f.FieldRef.FieldPath {
			case "metadata.namespace":
				v = ns
			case "metadata.name":
				v = podName
			}
		}
		if e.Name == "DRIFTD_CONFIG" {
			v = cfg
		}
		vars[e.Name] = v
		environ = append(environ, e.Name+"="+v)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	var args []string
	for i, a := range spec.Containers[0].Args {
		if i > 0 && spec.Containers[0].Args[i-1] == "--listen" {
			a = addr
		}
		// Kubernetes' $(VAR) expansion, for the variables the container
		// defines.
		for k, v := range vars {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		args = append(args, a)
	}
	args = append(args, "--data-dir", filepath.Join(dir, "data"))
	cmd := exec.Command(driftd(t), args...)
	cmd.Env = environ
	var logs logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// A safety net only: serve is ready in about a second.
	deadline := time.Now().Add(time.Minute)
	for getWithHost(t, addr, "") != http.StatusOK {
		select {
		case err := <-exited:
			t.Fatalf("%s: driftd %v exited: %v\n%s", where, args, err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: driftd %v not ready\n%s", where, args, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr
}

// getWithHost is the status of GET /healthz at addr addressed to host
// ("" the address itself), 0 when there is no answer.
func getWithHost(t *testing.T, addr, host string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/healthz", nil)
	must(t, err)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
