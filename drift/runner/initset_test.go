package runner

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/logbuf"
	"github.com/driftd/driftd/internal/testbed"
	"github.com/driftd/driftd/internal/testbed/provider"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInitSetKey(t *testing.T) {
	t.Parallel()
	var toolKey func(tool, version, workDir string, backend map[string]string) string
	dir := func(lock string) string {
		d := t.TempDir()
		if lock != "" {
			writeFile(t, filepath.Join(d, ".terraform.lock.hcl"), lock)
		}
		return d
	}
	key := func(version, workDir string, backend map[string]string) string {
		return toolKey(Terraform, version, workDir, backend)
	}
	toolKey = func(tool, version, workDir string, backend map[string]string) string {
		k, err := initSetKey(tool, version, workDir, backend)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, a2, b, none := dir("# a\n"), dir("# a\n"), dir("# b\n"), dir("")
	base := key("1.11.4", a, nil)
	tests := []struct {
		name string
		got  string
		same bool
	}{
		{"same lock file elsewhere", key("1.11.4", a2, nil), true},
		{"other lock file", key("1.11.4", b, nil), false},
		{"other terraform", key("1.11.5", a, nil), false},
		// OpenTofu's version numbers overlap Terraform's.
		{"tofu of the same version", toolKey(Tofu, "1.11.4", a, nil), false},
	}
	for _, tt := range tests {
		if (tt.got == base) != tt.same {
			t.Errorf("%s: key %q, base %q, want same = %v", tt.name, tt.got, base, tt.same)
		}
	}
	if k := key("1.11.4", a, map[string]string{"bucket": "x"}); k != "" {
		t.Errorf("backend config: key %q, want none", k)
	}
	if k := key("1.11.4", none, nil); k != "" {
		t.Errorf("no lock file: key %q, want none", k)
	}
}

// TestInitSetRecord: only a data dir of links into the shared plugin cache
// is recorded, and a recorded set makes the same links and lock file.
func TestInitSetRecord(t *testing.T) {
	t.Parallel()
	cacheDir := t.TempDir()
	plugins := filepath.Join(cacheDir, "plugins")
	sets, err := newInitSets(cacheDir, plugins)
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(plugins, "example.com", "ns", "p", "1.0.0", "linux_amd64")
	elsewhere := t.TempDir()
	link := func(dataDir, target string) {
		p := filepath.Join(dataDir, "providers", "example.com", "ns", "p", "1.0.0", "linux_amd64")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		make  func(dataDir string)
		wantN int // links recorded; -1: not recorded
	}{
		{"links into the cache", func(d string) { link(d, pkg) }, 1},
		{"no providers", func(d string) {}, 0},
		{"modules installed", func(d string) { link(d, pkg); writeFile(t, filepath.Join(d, "modules", "modules.json"), "{}") }, -1},
		{"backend state", func(d string) { link(d, pkg); writeFile(t, filepath.Join(d, "terraform.tfstate"), "{}") }, -1},
		{"workspace selected", func(d string) { link(d, pkg); writeFile(t, filepath.Join(d, "environment"), "prod") }, -1},
		{"link out of the cache", func(d string) { link(d, elsewhere) }, -1},
		{"a copied package", func(d string) {
			writeFile(t, filepath.Join(d, "providers", "example.com", "ns", "p", "1.0.0", "linux_amd64", "bin"), "x")
		}, -1},
	}
	for _, tt := range tests {
		dataDir, workDir := t.TempDir(), t.TempDir()
		tt.make(dataDir)
		writeFile(t, filepath.Join(workDir, ".terraform.lock.hcl"), "# lock "+tt.name)
		key := shortHash(tt.name)
		ok, err := sets.record(key, dataDir, workDir)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if ok != (tt.wantN >= 0) {
			t.Errorf("%s: recorded = %v", tt.name, ok)
			continue
		}
		set, err := sets.load(key)
		if err != nil || (set == nil) != !ok {
			t.Fatalf("%s: load = %v, %v", tt.name, set, err)
		}
		if !ok {
			continue
		}
		if len(set.Links) != tt.wantN {
			t.Errorf("%s: links %v", tt.name, set.Links)
		}
		newData, newWork := filepath.Join(t.TempDir(), "tf"), t.TempDir()
		if err := os.Mkdir(newData, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := set.apply(newData, newWork); err != nil {
			t.Fatalf("%s: apply: %v", tt.name, err)
		}
		if got, want := linkTree(t, newData), linkTree(t, dataDir); got != want {
			t.Errorf("%s: applied tree\n%v\nwant\n%v", tt.name, got, want)
		}
		if b, _ := os.ReadFile(filepath.Join(newWork, ".terraform.lock.hcl")); string(b) != "# lock "+tt.name {
			t.Errorf("%s: lock file %q", tt.name, b)
		}
	}

	// A set naming a link out of the cache (a file edited by hand) is refused.
	bad := filepath.Join(sets.dir, "bad.json")
	writeFile(t, bad, `{"lock":"","links":[{"path":"providers/x","target":"`+elsewhere+`"}]}`)
	if set, err := sets.load("bad"); err == nil || set != nil {
		t.Errorf("tampered set: %v, %v", set, err)
	}
}

// linkTree lists the paths under dir, with the targets of links.
func linkTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		target, _ := os.Readlink(p)
		fmt.Fprintf(&b, "%s -> %s\n", rel, target)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestInitShared scans workspaces with one dependency lock file in turn, on
// a cold cache, with real terraform: the first inits, a plain one after it
// uses its init and still finds its drift, and the ones whose configuration
// needs more of init than providers (a module call, a backend block) find
// that plan refuses the shared data dir, init for real and scan cleanly.
func TestInitShared(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	plain := func(name string) *testbed.Workspace {
		return env.Workspace(t, name, strings.ReplaceAll(objectTF, `"web"`, `"`+name+`"`))
	}
	first, drifted := plain("sharefirst"), plain("sharedrift")
	if err := env.SetAttribute("sharedrift", "content", "changed outside"); err != nil {
		t.Fatal(err)
	}

	module, err := env.NewWorkspace("sharemodule", `module "m" { source = "./m" }`)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(module.Dir, "m", "main.tf"), `terraform {
  required_providers {
    testbed = { source = "`+provider.Address+`" }
  }
}
resource "testbed_object" "m" {
  name    = "sharemodule"
  content = "hello"
}
`)
	backend, err := env.NewWorkspace("sharebackend", `terraform {
  backend "local" { path = "other.tfstate" }
}
`+strings.ReplaceAll(objectTF, `"web"`, `"sharebackend"`))
	if err != nil {
		t.Fatal(err)
	}
	for _, ws := range []*testbed.Workspace{module, backend} {
		if err := ws.Apply(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	lock, _ := os.ReadFile(filepath.Join(first.Dir, ".terraform.lock.hcl"))
	for _, ws := range []*testbed.Workspace{drifted, module, backend} {
		if b, _ := os.ReadFile(filepath.Join(ws.Dir, ".terraform.lock.hcl")); string(b) != string(lock) {
			t.Fatalf("%s: lock file differs from the first workspace's; the test needs one provider set", ws.Name)
		}
	}

	var logs logbuf.Buffer
	r := testbedRunner(t, env, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	steps := []struct {
		ws                    *testbed.Workspace
		wantShared, wantReuse bool
		wantDrift             string
	}{
		{ws: module}, // first of its provider set: inits, records nothing (modules/)
		{ws: first},  // inits and records
		{ws: drifted, wantShared: true, wantDrift: "testbed_object.sharedrift"},
		{ws: module, wantReuse: true}, // its own data dir from the first step
		{ws: backend},                 // shared, refused by plan, init
		{ws: drifted, wantReuse: true, wantDrift: "testbed_object.sharedrift"},
		{ws: backend, wantReuse: true},
	}
	for i, st := range steps {
		res, err := r.Plan(t.Context(), testbedSpec(st.ws))
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.ws.Name, err)
		}
		if res.InitShared != st.wantShared || res.InitReused != st.wantReuse {
			t.Errorf("step %d (%s): InitShared = %v, InitReused = %v", i, st.ws.Name, res.InitShared, res.InitReused)
		}
		if st.wantDrift != "" && !hasDrift(res.Plan, st.wantDrift) {
			t.Errorf("step %d (%s): drift of %s not found", i, st.ws.Name, st.wantDrift)
		}
		if st.wantDrift == "" && !res.ShowSkipped {
			t.Errorf("step %d (%s): plan not clean: %+v", i, st.ws.Name, res.Plan)
		}
	}
	if got := strings.Count(logs.String(), "plan failed on a data dir made from another workspace's init"); got != 1 {
		t.Errorf("want one fallback (the backend workspace), got %d; logs:\n%s", got, logs.String())
	}
}

// TestInitSetPrune: Sweep removes the sets no scan has recorded or used for
// dataDirMaxAge, and leaves recent ones.
func TestInitSetPrune(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	long := time.Now().Add(-dataDirMaxAge - time.Hour)
	for _, key := range []string{"old", "used", "recent"} {
		dataDir, workDir := t.TempDir(), t.TempDir()
		writeFile(t, filepath.Join(workDir, ".terraform.lock.hcl"), "# "+key)
		if ok, err := r.sets.record(key, dataDir, workDir); !ok || err != nil {
			t.Fatalf("record %s: %v %v", key, ok, err)
		}
		if key != "recent" {
			if err := os.Chtimes(r.sets.path(key), long, long); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.sets.used("used")
	stray := filepath.Join(r.sets.dir, "x.123.tmp")
	writeFile(t, stray, "")
	if err := os.Chtimes(stray, long, long); err != nil {
		t.Fatal(err)
	}
	if err := r.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{r.sets.path("old"): false, r.sets.path("used"): true, r.sets.path("recent"): true, stray: false} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: kept = %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
