package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goreleaser/goreleaser/v2/pkg/config"
)

// TestGoreleaserConfig loads .goreleaser.yaml with goreleaser's own loader
// (strict: an unknown or misplaced key fails, as in `goreleaser check`)
// and checks what the release must hold: linux and darwin on amd64 and
// arm64, a static binary, the Makefile's version variables, checksums, an
// SBOM, and archive files that exist.
//
// Full `goreleaser check` is not run: goreleaser's whole module (cloud
// SDKs, signing, publishers) would add minutes to a cold `make test`; its
// defaults and deprecation checks live in internal packages no other
// module may import.
func TestGoreleaserConfig(t *testing.T) {
	p, err := config.Load(filepath.Join(root, ".goreleaser.yaml"))
	must(t, err)
	if p.Version != 2 || len(p.Builds) != 1 {
		t.Fatalf("version %d, %d builds", p.Version, len(p.Builds))
	}
	b := p.Builds[0]
	for _, want := range []string{"linux", "darwin"} {
		if !slices.Contains(b.Goos, want) {
			t.Errorf("goos %v lacks %s", b.Goos, want)
		}
	}
	for _, want := range []string{"amd64", "arm64"} {
		if !slices.Contains(b.Goarch, want) {
			t.Errorf("goarch %v lacks %s", b.Goarch, want)
		}
	}
	if b.Main != "./cmd/driftd" || !slices.Contains(b.Env, "CGO_ENABLED=0") || !slices.Contains(b.BuildDetails.Flags, "-trimpath") {
		t.Errorf("build: main %q, env %v, flags %v", b.Main, b.Env, b.BuildDetails.Flags)
	}
	// The same -X variables as the Makefile, and they exist in main.
	ldflags := strings.Join(b.BuildDetails.Ldflags, " ")
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	must(t, err)
	re := regexp.MustCompile(`-X (main\.\w+)=`)
	vars := func(s string) []string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	want := []string{"main.commit", "main.date", "main.version"}
	if got := vars(ldflags); !slices.Equal(got, want) {
		t.Errorf("goreleaser sets %v, want %v", got, want)
	}
	if got := vars(string(mk)); !slices.Equal(got, want) {
		t.Errorf("the Makefile sets %v, want %v", got, want)
	}
	src, err := os.ReadFile(filepath.Join(root, "cmd", "driftd", "version.go"))
	must(t, err)
	if !strings.Contains(string(src), "var version, commit, date string") {
		t.Error("cmd/driftd no longer declares version, commit and date for the linker")
	}
	if p.Checksum.Algorithm != "sha256" || len(p.SBOMs) == 0 || p.SBOMs[0].Artifacts != "archive" {
		t.Errorf("checksum %+v, sboms %+v", p.Checksum, p.SBOMs)
	}
	for _, a := range p.Archives {
		for _, f := range a.Files {
			m, err := filepath.Glob(filepath.Join(root, f.Source))
			if err != nil || len(m) == 0 {
				t.Errorf("archive file %q matches nothing", f.Source)
			}
		}
	}
}

// TestGoreleaserStrict: the loader used above does refuse a misspelt key.
func TestGoreleaserStrict(t *testing.T) {
	_, err := config.LoadReader(strings.NewReader("version: 2\nbuilds:\n  - goos: [linux]\n    goarchs: [amd64]\n"))
	if err == nil || !strings.Contains(err.Error(), "goarchs") {
		t.Errorf("misspelt key: %v", err)
	}
}
