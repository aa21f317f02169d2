package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/runner/releasetest"
)

// TestInstall: a release from a mirror lands as Dir/terraform, runnable by
// anyone, and reports the version served; a zip that does not match its
// signed checksum installs nothing.
func TestInstall(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform on PATH")
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	v, err := terraformProduct(env).GetVersion(context.Background(), tf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tamper := range []bool{false, true} {
		srv := releasetest.New(t, tf, v.String(), tamper)
		dir := filepath.Join(t.TempDir(), "bin")
		for _, constraint := range []string{v.String(), "~> " + v.String()} {
			got, err := Install(context.Background(), InstallOptions{
				Version: constraint, Dir: dir, Environ: env,
				Releases: Releases{URL: srv.URL, PublicKey: srv.PublicKey},
			})
			if tamper {
				if err == nil || !strings.Contains(err.Error(), "did not unpack (its checksum or size did not match") {
					t.Errorf("tampered zip: %v, want a checksum error", err)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("tampered zip left %v", entries)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Install(%q): %v", constraint, err)
			}
			if got != v.String() {
				t.Errorf("Install(%q) = %s, want %s", constraint, got, v)
			}
			fi, err := os.Stat(filepath.Join(dir, "terraform"))
			if err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("installed binary: %v, mode %v", err, fi.Mode())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("install left more than the binary: %v", entries)
			}
		}
		if srv.Downloads.Load() == 0 {
			t.Error("nothing was downloaded")
		}
	}
	if _, err := Install(context.Background(), InstallOptions{Version: "not a version", Dir: t.TempDir()}); err == nil {
		t.Error("a bad version was accepted")
	}
}
