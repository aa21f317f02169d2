package deploytest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	corev1 "k8s.io/api/core/v1"

	"github.com/driftd/driftd/drift/workdir"
)

// imageEnv is the environment the image gives driftd: the final stage's
// ENV lines.
func imageEnv(t *testing.T) map[string]string {
	t.Helper()
	d := parseDockerfile(t)
	env := map[string]string{}
	for _, c := range d.stages[len(d.stages)-1].Commands {
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				env[kv.Key] = kv.Value
			}
		}
	}
	return env
}

// driftdDirs are the directories driftd writes to in an environment, as
// the CLI resolves them without flags: the store (server.data_dir, else
// $XDG_STATE_HOME/driftd), the cache ($DRIFTD_CACHE_DIR, else the user
// cache dir) with the lock records of killed scans in its locks/, and the
// work root of per-scan directories ($DRIFTD_WORK_DIR, else the default),
// where a killed scan's lock record stays until the next start.
func driftdDirs(t *testing.T, env map[string]string, dataDir string) map[string]string {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	cache := env["DRIFTD_CACHE_DIR"]
	if cache == "" {
		t.Fatal("no DRIFTD_CACHE_DIR: the cache would be in the user cache dir, a guess about HOME")
	}
	work := env["DRIFTD_WORK_DIR"]
	if work == "" {
		work = workdir.DefaultRoot(environ, cache)
	}
	if dataDir == "" {
		dataDir = filepath.Join(env["XDG_STATE_HOME"], "driftd")
	}
	return map[string]string{"store": dataDir, "cache": cache, "lock records": filepath.Join(cache, "locks"), "work root": work}
}

// under says whether path is dir or inside it.
func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// TestImageWritesToItsVolume: everything driftd keeps across a restart
// (store, cache, the lock records of killed scans and the scans'
// directories that hold them until the next start) is on the image's
// volume, not the read-only root filesystem or /tmp.
func TestImageWritesToItsVolume(t *testing.T) {
	d := parseDockerfile(t)
	var volumes []string
	for _, c := range d.stages[len(d.stages)-1].Commands {
		if v, ok := c.(*instructions.VolumeCommand); ok {
			volumes = append(volumes, v.Volumes...)
		}
	}
	for what, dir := range driftdDirs(t, imageEnv(t), "") {
		if !slices.ContainsFunc(volumes, func(v string) bool { return under(dir, v) }) {
			t.Errorf("the %s (%s) is on no volume of %v", what, dir, volumes)
		}
	}
}

// checkPodDirs: in a pod running the image, the directories driftd keeps
// across a restart are on its data volume (mounted at /var/lib/driftd),
// writable, with the container's environment over the image's.
func checkPodDirs(t *testing.T, at string, spec *corev1.PodSpec, dataDir string) {
	t.Helper()
	env := imageEnv(t)
	for _, e := range spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	var data *corev1.VolumeMount
	for i, m := range spec.Containers[0].VolumeMounts {
		if m.MountPath == "/var/lib/driftd" {
			data = &spec.Containers[0].VolumeMounts[i]
		}
	}
	if data == nil || data.ReadOnly {
		t.Errorf("%s: no writable data volume at /var/lib/driftd: %+v", at, data)
		return
	}
	for what, dir := range driftdDirs(t, env, dataDir) {
		if !under(dir, data.MountPath) {
			t.Errorf("%s: the %s (%s) is not on the data volume (%s)", at, what, dir, data.MountPath)
		}
	}
}
