package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/driftd/driftd/internal/logbuf"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/internal/testbed"
	"github.com/driftd/driftd/internal/testbed/provider"
)

// These tests run the real terraform binary against the testbed provider,
// installed from a local filesystem mirror (no network).

func testbedRunner(t *testing.T, env *testbed.Env, opts Options) *Runner {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	opts.WorkRoot = t.TempDir()
	opts.Environ = append(env.Environ(), "GITHUB_TOKEN=ghp_must_not_leak")
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testbedSpec(ws *testbed.Workspace) Spec {
	return Spec{}.withTestbed(ws)
}

func (s Spec) withTestbed(ws *testbed.Workspace) Spec {
	s.Name, s.Dir = ws.Name, ws.Dir
	s.PassEnv = []string{"TESTBED_*"}
	return s
}

// listTree lists every path under dir (relative) with its size, so that an
// added, removed or grown file shows.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		size := int64(0)
		if fi.Mode().IsRegular() {
			size = fi.Size()
		}
		out = append(out, fmt.Sprint(rel, " ", fi.Mode(), " ", size))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const objectTF = `
resource "testbed_object" "web" {
  name    = "web"
  content = "hello"
  tags    = { env = "dev" }
}
`

// TestReadOnly scans a local-state workspace with drift and checks that
// nothing in the workspace changed: state byte-identical, no state lock
// file, no .terraform/ or lock file added. The first scan inits; the later
// ones reuse its data dir, which must hold no state either.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "readonly", objectTF)
	if err := env.SetAttribute("web", "content", "changed outside"); err != nil {
		t.Fatal(err)
	}
	// The testbed's own apply ran init in the workspace; start from a tree
	// without its artefacts, as a fresh checkout would be.
	for _, p := range []string{".terraform", ".terraform.lock.hcl"} {
		if err := os.RemoveAll(filepath.Join(ws.Dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	state, err := os.ReadFile(ws.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	before := listTree(t, ws.Dir)
	r := testbedRunner(t, env, Options{})

	for i, tt := range []struct {
		name string
		spec Spec
	}{
		{"default", testbedSpec(ws)},
		{"default again", testbedSpec(ws)},
		{"lock", Spec{Lock: true, LockTimeout: 5 * time.Second}.withTestbed(ws)},
		{"refresh-only", Spec{RefreshOnly: true, Lock: true}.withTestbed(ws)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Plan(t.Context(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.TerraformVersion == "" || res.Duration <= 0 {
				t.Errorf("result = %+v", res)
			}
			if !hasDrift(res.Plan, "testbed_object.web") {
				t.Errorf("no drift for testbed_object.web in plan")
			}
			if res.InitReused != (i > 0) {
				t.Errorf("InitReused = %v", res.InitReused)
			}
			after, err := os.ReadFile(ws.StatePath())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(state, after) {
				t.Error("state file changed")
			}
			if _, err := os.Stat(filepath.Join(ws.Dir, ".terraform.tfstate.lock.info")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("state lock info left: %v", err)
			}
			if got := listTree(t, ws.Dir); !slices.Equal(before, got) {
				t.Errorf("workspace tree changed:\nbefore %v\nafter  %v", before, got)
			}
		})
	}
	if o, err := env.Object("web"); err != nil || o["content"] != "changed outside" {
		t.Errorf("object changed by a scan: %v, %v", o, err)
	}
	if entries, _ := os.ReadDir(r.opts.WorkRoot); len(entries) != 0 {
		t.Errorf("scan directories left: %v", entries)
	}
	// With a local backend the data dir's terraform.tfstate is the backend's
	// configuration; the workspace's state must not be copied anywhere.
	err = filepath.WalkDir(r.data.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("changed outside")) {
			t.Errorf("%s holds the workspace's objects", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPluginCacheMismatch: the shared plugin cache holds a copy of the
// testbed provider that is not the one the lock file records (a provider
// rebuilt under the same version, or a corrupt cache). The scan installs the
// provider privately, warns naming it, and succeeds; the next scan reuses
// that init.
func TestPluginCacheMismatch(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "mismatch", objectTF)
	if _, err := os.Stat(filepath.Join(ws.Dir, ".terraform.lock.hcl")); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	bad := filepath.Join(cache, "plugins", "driftd.test", "driftd", "testbed", testbed.ProviderVersion,
		runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-testbed_v"+testbed.ProviderVersion)
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs logbuf.Buffer
	r := testbedRunner(t, env, Options{CacheDir: cache, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := range 2 {
		res, err := r.Plan(t.Context(), testbedSpec(ws))
		if err != nil {
			t.Fatalf("scan %d: %v", i, err)
		}
		if res.InitReused != (i > 0) {
			t.Errorf("scan %d: InitReused = %v", i, res.InitReused)
		}
	}
	if got := logs.String(); strings.Count(got, "does not match the dependency lock file") != 1 ||
		!strings.Contains(got, "driftd.test/driftd/testbed") {
		t.Errorf("want one warning naming the provider, logs:\n%s", got)
	}
}

func hasDrift(p *tfjson.Plan, addr string) bool {
	for _, rc := range p.ResourceDrift {
		if rc.Address == addr {
			return true
		}
	}
	return false
}

// TestTimeoutKillsProviders: a provider read that takes an hour, a 3s
// timeout. The scan must fail as a timeout, and no process of the scan
// (terraform, the provider) may survive.
func TestTimeoutKillsProviders(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "slow", objectTF)
	r := testbedRunner(t, env, Options{KillGrace: 2 * time.Second})
	// A first scan fills the plugin cache so that init is quick.
	if _, err := r.Plan(t.Context(), testbedSpec(ws)); err != nil {
		t.Fatal(err)
	}
	// On a loaded machine init alone may take 3s; the timeout grows until
	// it strikes during plan, while the provider sleeps in its read.
	for timeout := 3 * time.Second; ; timeout *= 2 {
		spec := Spec{Timeout: timeout}.withTestbed(ws)
		spec.Env = map[string]string{provider.EnvReadLatency: "1h"}
		// The provider's read lasts an hour: only the timeout ends it.
		_, err := r.Plan(t.Context(), spec)
		var e *Error
		if !errors.As(err, &e) || e.Stage != StageTimeout {
			t.Fatalf("err = %v, want a timeout", err)
		}
		t.Logf("%v", err)
		if pids := scanPIDs(t, e.ScanID); len(pids) > 0 {
			t.Errorf("processes of scan %s survive: %v", e.ScanID, pids)
		}
		if strings.Contains(e.Diagnostics, "during plan") || timeout > 20*time.Second {
			break
		}
	}
}

// TestPluginCacheConcurrency: ten workspaces, half with a dependency lock
// file and half without, planned 4 at a time against one initially empty
// plugin cache, three times over.
func TestPluginCacheConcurrency(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	var wss []*testbed.Workspace
	for i := range 10 {
		name := "cache" + string(rune('a'+i))
		ws, err := env.NewWorkspace(name, strings.ReplaceAll(objectTF, `"web"`, `"`+name+`"`))
		if err != nil {
			t.Fatal(err)
		}
		wss = append(wss, ws)
	}
	if err := forEach(t.Context(), wss, 4, func(ctx context.Context, i int, ws *testbed.Workspace) error {
		if err := ws.Apply(ctx); err != nil {
			return err
		}
		if i%2 == 0 {
			return nil
		}
		for _, p := range []string{".terraform", ".terraform.lock.hcl"} {
			if err := os.RemoveAll(filepath.Join(ws.Dir, p)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := testbedRunner(t, env, Options{})
	for round := range 3 {
		var mu sync.Mutex
		shared := 0
		err := forEach(t.Context(), wss, 4, func(ctx context.Context, _ int, ws *testbed.Workspace) error {
			res, err := r.Plan(ctx, Spec{Timeout: 2 * time.Minute}.withTestbed(ws))
			if err == nil && res.Plan == nil {
				err = errors.New("no plan")
			}
			if err == nil && res.InitShared {
				mu.Lock()
				shared++
				mu.Unlock()
			}
			return err
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// Of the five workspaces with a lock file, the first to take the
		// cache lock inits; the others wait for it and use its init set.
		if want := map[int]int{0: 4}[round]; shared != want {
			t.Errorf("round %d: %d scans used an init set, want %d", round, shared, want)
		}
	}
	if m, _ := os.ReadDir(r.cache.markers); len(m) != 1 {
		t.Errorf("provider set markers = %v, want one (all lock files are alike)", m)
	}
}

// forEach runs f over items, n at a time, and joins the errors.
func forEach[T any](ctx context.Context, items []T, n int, f func(context.Context, int, T) error) error {
	sem := make(chan struct{}, n)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, i, it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestProviderFailure(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "failing", objectTF)
	r := testbedRunner(t, env, Options{})
	spec := testbedSpec(ws)
	spec.Env = map[string]string{provider.EnvFail: provider.FailConfigure}
	_, err := r.Plan(t.Context(), spec)
	var e *Error
	if !errors.As(err, &e) || e.Stage != StagePlan {
		t.Fatalf("err = %v, want a plan *Error", err)
	}
	if !strings.HasPrefix(e.Diagnostics, "Error: "+provider.FailSummary) || strings.ContainsAny(e.Diagnostics, "│╷╵\x1b") {
		t.Errorf("diagnostics not clean:\n%s", e.Diagnostics)
	}
}

const varsTF = `
variable "region" {
  type = string
}
variable "token" {
  type = string
  validation {
    condition     = !startswith(var.token, "forbidden")
    error_message = "The token ${var.token} is not accepted."
  }
}
resource "terraform_data" "t" {
  input = length(var.token)
}
output "region" {
  value = var.region
}
`

// TestVars: vars reach Terraform (through driftd's var file) and their values
// never appear in an error.
func TestVars(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws, err := env.NewWorkspace("vars", varsTF)
	if err != nil {
		t.Fatal(err)
	}
	r := testbedRunner(t, env, Options{})
	spec := testbedSpec(ws)
	spec.Vars = map[string]string{"region": "eu-west-1", "token": "fine-token-1234"}
	res, err := r.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if oc := res.Plan.OutputChanges["region"]; oc == nil || oc.After != "eu-west-1" {
		t.Errorf("output region = %+v", oc)
	}

	spec.Vars = map[string]string{"region": "eu-west-1", "token": "forbidden-token-5678"}
	// Values that are not credentials stay readable, in words of their
	// own and inside others ("accepted").
	spec.Env = map[string]string{"MODE": "accept", "STAGE": "The"}
	_, err = r.Plan(t.Context(), spec)
	var e *Error
	if !errors.As(err, &e) || e.Stage != StagePlan {
		t.Fatalf("err = %v, want a plan *Error", err)
	}
	if strings.Contains(err.Error(), "forbidden-token-5678") || !strings.Contains(err.Error(), "The token (sensitive value) is not accepted.") {
		t.Errorf("var value not redacted, or more than it:\n%s", err)
	}
}

// TestShowSkippedWhenClean: a plan file with nothing in it is read directly
// and `terraform show -json` does not run; once the object drifts, show
// runs and the drift is in the plan.
func TestShowSkippedWhenClean(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "showskip", strings.ReplaceAll(objectTF, `"web"`, `"showskip"`))
	r := testbedRunner(t, env, Options{})

	res, err := r.Plan(t.Context(), testbedSpec(ws))
	if err != nil {
		t.Fatal(err)
	}
	if !res.ShowSkipped || res.Plan == nil || res.Plan.TerraformVersion != res.TerraformVersion {
		t.Fatalf("clean workspace: ShowSkipped = %v, plan = %+v, terraform %s", res.ShowSkipped, res.Plan, res.TerraformVersion)
	}
	if len(res.Plan.ResourceChanges)+len(res.Plan.ResourceDrift)+len(res.Plan.OutputChanges) != 0 {
		t.Errorf("clean plan has entries: %+v", res.Plan)
	}

	if err := env.SetAttribute("showskip", "content", "changed outside"); err != nil {
		t.Fatal(err)
	}
	if res, err = r.Plan(t.Context(), testbedSpec(ws)); err != nil {
		t.Fatal(err)
	}
	if res.ShowSkipped || !hasDrift(res.Plan, "testbed_object.showskip") {
		t.Errorf("drifted workspace: ShowSkipped = %v, drift found = %v", res.ShowSkipped, hasDrift(res.Plan, "testbed_object.showskip"))
	}
}

// TestPluginTLS: by default every provider start of a scan, plan and show
// alike, gets no TLS and makes its socket in the scan's private tmp/; with
// PluginTLS the providers get Terraform's mutual TLS and the usual temp dir.
// Either way the drift is found.
func TestPluginTLS(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "plugintls", strings.ReplaceAll(objectTF, `"web"`, `"plugintls"`))
	if err := env.SetAttribute("plugintls", "content", "changed outside"); err != nil {
		t.Fatal(err)
	}
	r := testbedRunner(t, env, Options{})

	for _, tlsOn := range []bool{false, true} {
		startLog := filepath.Join(t.TempDir(), "starts.jsonl")
		spec := testbedSpec(ws)
		spec.PluginTLS = tlsOn
		spec.Env = map[string]string{provider.EnvStartupLog: startLog}
		res, err := r.Plan(t.Context(), spec)
		if err != nil {
			t.Fatalf("PluginTLS %v: %v", tlsOn, err)
		}
		if res.ShowSkipped || !hasDrift(res.Plan, "testbed_object.plugintls") {
			t.Errorf("PluginTLS %v: ShowSkipped = %v, drift found = %v", tlsOn, res.ShowSkipped, hasDrift(res.Plan, "testbed_object.plugintls"))
		}
		data, err := os.ReadFile(startLog)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		// A plan starts the provider more than once, and show once more.
		if len(lines) < 2 {
			t.Fatalf("PluginTLS %v: %d provider starts logged, want at least 2:\n%s", tlsOn, len(lines), data)
		}
		private := filepath.Join(r.opts.WorkRoot, res.ScanID, "tmp")
		for _, l := range lines {
			var rec provider.StartupRecord
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("start log line %q: %v", l, err)
			}
			if rec.TLS != tlsOn || (rec.TempDir == private) == tlsOn {
				t.Errorf("PluginTLS %v: provider started with TLS %v and temp dir %s (scan's private one: %s)", tlsOn, rec.TLS, rec.TempDir, private)
			}
		}
	}
}

// TestShowSkippedWhenKnown: a drifted plan has a key; planning again with
// that key known skips show and returns no plan; other drift, another key
// and show again.
func TestShowSkippedWhenKnown(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "known", strings.ReplaceAll(objectTF, `"web"`, `"known"`))
	if err := env.SetAttribute("known", "content", "changed outside"); err != nil {
		t.Fatal(err)
	}
	r := testbedRunner(t, env, Options{})

	first, err := r.Plan(t.Context(), testbedSpec(ws))
	if err != nil {
		t.Fatal(err)
	}
	if first.PlanKey == "" || first.PlanKnown || first.ShowSkipped || !hasDrift(first.Plan, "testbed_object.known") {
		t.Fatalf("first scan: key %q, known %v, show skipped %v, drift found %v", first.PlanKey, first.PlanKnown, first.ShowSkipped, hasDrift(first.Plan, "testbed_object.known"))
	}

	spec := testbedSpec(ws)
	spec.KnownPlan = first.PlanKey
	again, err := r.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if again.PlanKey != first.PlanKey || !again.PlanKnown || !again.ShowSkipped || again.Plan != nil {
		t.Errorf("same drift, key known: key %q (first %q), known %v, show skipped %v, plan %v", again.PlanKey, first.PlanKey, again.PlanKnown, again.ShowSkipped, again.Plan)
	}

	if err := env.SetAttribute("known", "content", "changed again"); err != nil {
		t.Fatal(err)
	}
	other, err := r.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if other.PlanKey == first.PlanKey || other.PlanKnown || other.ShowSkipped || !hasDrift(other.Plan, "testbed_object.known") {
		t.Errorf("other drift: key %q (first %q), known %v, show skipped %v, drift found %v", other.PlanKey, first.PlanKey, other.PlanKnown, other.ShowSkipped, hasDrift(other.Plan, "testbed_object.known"))
	}
}

// TestWorkspaceSelect: Spec.Workspace plans that Terraform workspace's
// state; a later scan without it plans the default again on the same data
// dir; a workspace that does not exist is an error, not an empty plan.
func TestWorkspaceSelect(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "wsel", strings.Replace(objectTF, `name    = "web"`, `name    = "web-${terraform.workspace}"`, 1))
	for _, args := range [][]string{{"workspace", "new", "-no-color", "staging"}, {"apply", "-auto-approve", "-input=false", "-no-color"}, {"workspace", "select", "-no-color", "default"}} {
		if _, err := ws.Run(t.Context(), args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.SetAttribute("web-staging", "content", "changed in staging"); err != nil {
		t.Fatal(err)
	}
	r := testbedRunner(t, env, Options{})

	for i, tt := range []struct {
		workspace string
		drift     bool
	}{
		{"staging", true},
		{"", false},        // the data dir kept, staging no longer selected
		{"default", false}, // named
		{"staging", true},
	} {
		spec := testbedSpec(ws)
		spec.Workspace = tt.workspace
		res, err := r.Plan(t.Context(), spec)
		if err != nil {
			t.Fatalf("%d %q: %v", i, tt.workspace, err)
		}
		if got := hasDrift(res.Plan, "testbed_object.web"); got != tt.drift {
			t.Errorf("%d %q: drift %v, want %v", i, tt.workspace, got, tt.drift)
		}
		if len(res.Plan.ResourceChanges) > 0 && !tt.drift {
			t.Errorf("%d %q: planned changes %v", i, tt.workspace, res.Plan.ResourceChanges[0].Address)
		}
		if i > 0 && !res.InitReused {
			t.Errorf("%d %q: init not reused", i, tt.workspace)
		}
	}

	spec := testbedSpec(ws)
	spec.Workspace = "nope"
	_, err := r.Plan(t.Context(), spec)
	var e *Error
	if !errors.As(err, &e) || e.Stage != StageWorkspace || !strings.Contains(e.Diagnostics, `Workspace "nope" doesn't exist`) {
		t.Errorf("err = %v, want a workspace *Error", err)
	}
	if o, err := env.Object("web-nope"); err == nil {
		t.Errorf("an object for the missing workspace: %v", o)
	}
}
