package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/reliability"
)

// fakeScan runs one scan of the workspace in dir with the fake terraform and
// returns the result and the subcommands terraform ran.
func fakeScan(t *testing.T, r *Runner, spec Spec, env map[string]string) (*Result, []string, error) {
	t.Helper()
	logDir := t.TempDir()
	spec.Env = map[string]string{"FAKE_LOG": logDir}
	for k, v := range env {
		spec.Env[k] = v
	}
	res, err := r.Plan(context.Background(), spec)
	b, _ := os.ReadFile(filepath.Join(logDir, "calls"))
	return res, strings.Fields(string(b)), err
}

// fakeSpec is a spec for the fake terraform of a new workspace holding an
// empty main.tf.
func fakeSpec(t *testing.T) Spec {
	t.Helper()
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "main.tf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return Spec{TerraformVersion: "1.99.0"}.with(ws, nil)
}

// scanInits scans spec once per entry of wantInit, checking whether init ran.
func scanInits(t *testing.T, r *Runner, spec Spec, wantInit ...bool) {
	t.Helper()
	for i, want := range wantInit {
		_, calls, err := fakeScan(t, r, spec, nil)
		if err != nil {
			t.Fatalf("scan %d: %v", i, err)
		}
		if got := slices.Contains(calls, "init"); got != want {
			t.Errorf("scan %d: init ran = %v, want %v (calls %v)", i, got, want, calls)
		}
	}
}

// TestDataDirReuse scans one workspace again and again, changing one input
// of init at a time: init runs exactly when something it depends on changed
// or when the last init failed.
func TestDataDirReuse(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	write := func(name, text string) func() {
		return func() {
			if err := os.WriteFile(filepath.Join(ws, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("main.tf", `terraform { backend "s3" {} }`)()
	write(".terraform.lock.hcl", "# v1\n")()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	spec := Spec{TerraformVersion: "1.99.0", BackendConfig: map[string]string{"bucket": "a"}}
	spec.Name, spec.Dir = "ws", ws

	steps := []struct {
		name     string
		change   func()
		backend  string
		env      map[string]string
		wantInit bool
		wantErr  bool
	}{
		{name: "first scan", wantInit: true},
		{name: "unchanged", wantInit: false},
		{name: "lock file changed", change: write(".terraform.lock.hcl", "# v2\n"), wantInit: true},
		{name: "unchanged after lock change", wantInit: false},
		{name: "backend config changed", backend: "b", wantInit: true},
		{name: "tf file changed", backend: "b", change: write("main.tf", `terraform { backend "s3" { key = "k" } }`), wantInit: true},
		{name: "tf file added", backend: "b", change: write("extra.tf.json", `{}`), wantInit: true},
		{name: "non-tf file added", backend: "b", change: write("README.md", "x"), wantInit: false},
		{name: "init fails", backend: "b", change: write(".terraform.lock.hcl", "# v3\n"), env: map[string]string{"FAKE_INIT_FAIL": "1"}, wantInit: true, wantErr: true},
		{name: "after a failed init", backend: "b", wantInit: true},
		{name: "unchanged at last", backend: "b", wantInit: false},
	}
	for _, st := range steps {
		if st.change != nil {
			st.change()
		}
		spec := spec
		if st.backend != "" {
			spec.BackendConfig = map[string]string{"bucket": st.backend}
		}
		res, calls, err := fakeScan(t, r, spec, st.env)
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: err = %v", st.name, err)
		}
		if got := slices.Contains(calls, "init"); got != st.wantInit {
			t.Errorf("%s: init ran = %v, want %v (calls %v)", st.name, got, st.wantInit, calls)
		}
		if err == nil && res.InitReused == st.wantInit {
			t.Errorf("%s: InitReused = %v", st.name, res.InitReused)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, ".terraform")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("workspace got a .terraform: %v", err)
	}
}

// TestDataDirLockFileRestored: a workspace without a dependency lock file
// gets the one its first init wrote when init is skipped (terraform plan
// refuses to run without it).
func TestDataDirLockFileRestored(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	spec := fakeSpec(t)
	scanInits(t, r, spec, true, false)
	if _, err := os.Stat(filepath.Join(spec.Dir, ".terraform.lock.hcl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file written into the workspace: %v", err)
	}
}

// TestDataDirBusy: while another scan (another driftd) holds the
// workspace's data dir, a scan inits a private one and leaves the shared
// one alone.
func TestDataDirBusy(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	spec := fakeSpec(t)
	ws := spec.Dir
	if _, _, err := fakeScan(t, r, spec, nil); err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(r.data.root, workspaceID(spec))
	f, err := os.OpenFile(filepath.Join(entry, "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := tryLock(f, false); !ok || err != nil {
		t.Fatalf("lock: %v %v", ok, err)
	}
	before := listTree(t, entry)

	logDir := t.TempDir()
	res, err := r.Plan(context.Background(), Spec{TerraformVersion: "1.99.0"}.with(ws, map[string]string{"FAKE_LOG": logDir}))
	if err != nil {
		t.Fatal(err)
	}
	if res.InitReused {
		t.Error("busy data dir reused")
	}
	env, _ := os.ReadFile(filepath.Join(logDir, "plan.env"))
	if !strings.Contains(string(env), "TF_DATA_DIR="+filepath.Join(r.opts.WorkRoot, res.ScanID, "data")+"\n") {
		t.Errorf("plan did not use the scan's private data dir:\n%s", env)
	}
	if got := listTree(t, entry); !slices.Equal(before, got) {
		t.Errorf("busy data dir changed:\nbefore %v\nafter  %v", before, got)
	}
	// Close alone would leave the lock held while a child forked by a
	// parallel test holds a copy of f (see unlock).
	unlock(f)
	if _, calls, err := fakeScan(t, r, spec, nil); err != nil || slices.Contains(calls, "init") {
		t.Errorf("after release: calls %v, err %v", calls, err)
	}
}

// TestDataDirStale: a reused data dir whose providers vanished (plan says
// init is needed) is initialised again within the same scan.
func TestDataDirStale(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	spec := fakeSpec(t)
	if _, _, err := fakeScan(t, r, spec, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(r.data.root, workspaceID(spec), "tf", "providers")); err != nil {
		t.Fatal(err)
	}
	res, calls, err := fakeScan(t, r, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"plan", "init", "plan", "show"}; !slices.Equal(calls, want) || res.InitReused {
		t.Errorf("calls %v (reused %v), want %v", calls, res.InitReused, want)
	}
	if _, calls, err := fakeScan(t, r, spec, nil); err != nil || slices.Contains(calls, "init") {
		t.Errorf("next scan: calls %v, err %v", calls, err)
	}
}

func TestCacheMismatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		stderr, provider string
		ok               bool
	}{
		{"Error: Failed to query available provider packages", "", false},
		{"Error: Required plugins are not installed", "", false},
		{`Error: Failed to install provider from shared cache

Error while importing driftd.test/driftd/testbed v0.1.0 from the shared cache
directory: the provider cache at
/tmp/x/data/53c4f33a2e896df7402356538777033d/tf/providers
has a copy of driftd.test/driftd/testbed 0.1.0 that doesn't match any of the
checksums recorded in the dependency lock file.`, "driftd.test/driftd/testbed 0.1.0", true},
		{"has a copy of x that doesn't match any of the\nchecksums recorded", "", true},
	} {
		provider, ok := cacheMismatch(tt.stderr)
		if provider != tt.provider || ok != tt.ok {
			t.Errorf("cacheMismatch(%q) = %q, %v", tt.stderr, provider, ok)
		}
	}
}

// TestDataDirRelativeCacheDir: `driftd scan --cache-dir .cache` must keep
// its data dirs there, not under the scan's directory where terraform runs
// (which is removed after the scan): the second scan reuses the first init.
func TestDataDirRelativeCacheDir(t *testing.T) {
	t.Chdir(t.TempDir())
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{CacheDir: "cache", WorkRoot: "work"})
	scanInits(t, r, fakeSpec(t), true, false)
}

// TestDataDirPrune: Sweep removes the data dirs no scan has used for
// dataDirMaxAge, keeps recent ones and those a scan holds, and a pruned
// workspace is initialised afresh on its next scan.
func TestDataDirPrune(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	specs := map[string]Spec{}
	for _, name := range []string{"old", "held", "recent"} {
		specs[name] = fakeSpec(t)
		scanInits(t, r, specs[name], true)
	}
	entry := func(name string) string { return filepath.Join(r.data.root, workspaceID(specs[name])) }
	long := time.Now().Add(-dataDirMaxAge - time.Hour)
	for _, name := range []string{"old", "held"} {
		if err := os.Chtimes(filepath.Join(entry(name), "lock"), long, long); err != nil {
			t.Fatal(err)
		}
	}
	held, err := os.OpenFile(filepath.Join(entry("held"), "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if ok, err := tryLock(held, false); !ok || err != nil {
		t.Fatalf("lock: %v %v", ok, err)
	}

	if err := r.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"old": false, "held": true, "recent": true} {
		_, err := os.Stat(entry(name))
		if got := err == nil; got != want {
			t.Errorf("%s: entry kept = %v, want %v", name, got, want)
		}
	}
	scanInits(t, r, specs["old"], true)
	scanInits(t, r, specs["recent"], false)
}

// TestDataDirBackendCredentials: the backend configuration init records in
// the data dir (backend_config's password included) is kept for reuse
// without the password; the scan that reuses it gets it back whole, and
// between scans, or after a killed one and a sweep, no file of the cache
// holds the password.
func TestDataDirBackendCredentials(t *testing.T) {
	t.Parallel()
	const password = "pw-MustNotRestOnDisk"
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	spec := fakeSpec(t)
	spec.BackendConfig = map[string]string{"password": password, "bucket": "tfstate"}
	searched := reliability.Times(t, "work dir", "cache searched for a backend_config password after a scan, a scan reusing its init, and a killed scan and sweep",
		"not in any file: the kept init record holds no backend_config value, restored 0600 only for the scan that reuses it")
	noPassword := func(when string) {
		t.Helper()
		searched.Add(1)
		filepath.WalkDir(r.opts.CacheDir, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			if b, _ := os.ReadFile(p); strings.Contains(string(b), password) {
				t.Errorf("%s: %s holds the password", when, p)
			}
			return nil
		})
	}

	logDir := t.TempDir()
	spec.Env = map[string]string{"FAKE_LOG": logDir}
	if _, err := r.Plan(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(logDir, "plan.tfstate"))
	if err != nil || !strings.Contains(string(first), password) {
		t.Fatalf("the first plan did not see init's backend record: %q, %v", first, err)
	}
	noPassword("after a scan")

	res, calls, err := fakeScan(t, r, spec, nil)
	if err != nil || !res.InitReused || slices.Contains(calls, "init") {
		t.Fatalf("second scan: reused %v, calls %v, %v; want init skipped", res != nil && res.InitReused, calls, err)
	}
	noPassword("after a reusing scan")

	// A scan killed while it held the entry leaves the record behind,
	// password included; the next sweep removes it, and the entry is still
	// reused.
	logDir = t.TempDir()
	spec.Env = map[string]string{"FAKE_LOG": logDir}
	d, err := r.data.acquire(spec, mustInitKey(t, r, spec))
	if err != nil || !d.reusable {
		t.Fatalf("acquire: reusable %v, %v", d != nil && d.reusable, err)
	}
	if b, err := os.ReadFile(d.backendState()); err != nil || !sameJSON(b, first) {
		t.Fatalf("restored record %q, %v; want the first init's", b, err)
	}
	if fi, err := os.Stat(d.backendState()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored record mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	unlock(d.lock) // killed: no release
	if err := r.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	noPassword("after a killed scan and a sweep")
	if _, calls, err := fakeScan(t, r, spec, nil); err != nil || slices.Contains(calls, "init") {
		t.Errorf("scan after the sweep: calls %v, %v; want init skipped", calls, err)
	}
}

// mustInitKey is the init key of a scan of spec, as Plan computes it on
// the scan's copy of the code (which has the same files).
func mustInitKey(t *testing.T, r *Runner, spec Spec) string {
	t.Helper()
	key, err := initKey(Terraform, "1.99.0", spec.Dir, spec.Dir, spec.BackendConfig)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestStripBackend(t *testing.T) {
	t.Parallel()
	state := []byte(`{"version":3,"serial":1,"lineage":"x","backend":{"type":"pg","config":{"conn_str":"postgres://u:pw@h/db","schema_name":null,"skip_index_creation":true},"hash":18446744073709551615}}`)
	tests := []struct {
		name    string
		cfg     map[string]string
		removed []string
		wantErr string
	}{
		{name: "string removed", cfg: map[string]string{"conn_str": "postgres://u:pw@h/db"}, removed: []string{"conn_str"}},
		{name: "bool kept", cfg: map[string]string{"conn_str": "postgres://u:pw@h/db", "skip_index_creation": "true"}, removed: []string{"conn_str"}},
		{name: "no backend_config", cfg: nil, removed: []string{}},
		{name: "recorded otherwise", cfg: map[string]string{"conn_str": "postgres://other"}, wantErr: "another value"},
		{name: "not recorded", cfg: map[string]string{"password": "x"}, wantErr: `"password" is not in it`},
	}
	for _, tt := range tests {
		saved, err := stripBackend(state, tt.cfg)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if strings.Contains(string(saved.State), "pw@") == slices.Contains(tt.removed, "conn_str") || !slices.Equal(saved.Removed, tt.removed) {
			t.Errorf("%s: saved %s removed %v, want %v removed", tt.name, saved.State, saved.Removed, tt.removed)
		}
		back, err := fillBackend(saved, tt.cfg)
		if err != nil || !sameJSON(back, state) {
			t.Errorf("%s: restored %s, %v; want the original", tt.name, back, err)
		}
	}
}
