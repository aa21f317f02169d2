package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/runner/releasetest"
)

// TestInstallTerraform: `driftd install-terraform`, as the image build runs
// it, against a mirror: the binary lands in --dir and runs.
func TestInstallTerraform(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform on PATH")
	}
	out, err := exec.Command(tf, "version").Output()
	must(t, err)
	v := strings.TrimPrefix(strings.Fields(string(out))[1], "v")
	srv := releasetest.New(t, tf, v, false)
	key := filepath.Join(t.TempDir(), "key.asc")
	must(t, os.WriteFile(key, []byte(srv.PublicKey), 0o644))
	dir := filepath.Join(t.TempDir(), "bin")

	res := runCLI(t, cliEnv(t), "install-terraform", "--version", v, "--dir", dir, "--releases-url", srv.URL, "--releases-key", key)
	if res.code != exitClean || !strings.Contains(res.stdout, "terraform "+v+" installed as "+filepath.Join(dir, "terraform")) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	got, err := exec.Command(filepath.Join(dir, "terraform"), "version").Output()
	if err != nil || !strings.Contains(string(got), "v"+v) {
		t.Errorf("installed terraform: %v\n%s", err, got)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--dir", dir}, "--version is required"},
		{[]string{"--version", v, "--releases-key", filepath.Join(dir, "missing.asc")}, "--releases-key:"},
		{[]string{"--version", "1.0.0", "--dir", t.TempDir(), "--releases-url", srv.URL, "--releases-key", key}, "install terraform 1.0.0"},
	} {
		res := runCLI(t, cliEnv(t), append([]string{"install-terraform"}, tt.args...)...)
		if res.code != exitError || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tt.args, res.code, res.stderr, tt.want)
		}
	}
}
