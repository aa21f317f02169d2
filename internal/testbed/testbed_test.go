package testbed_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/internal/testbed"
	"github.com/driftd/driftd/internal/testbed/provider"
)

// fullTF exercises every attribute kind the provider has.
const fullTF = `
resource "testbed_object" "web" {
  name    = "web"
  content = "hello"
  secret  = "s3cr3t-value"
  tags    = { env = "dev", team = "core" }
  ports   = [80, 443]
  enabled = true
  rule {
    port        = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
  settings = {
    tier     = "gold"
    password = "hunter2-pass"
  }
}

# Only the required attribute: nulls must survive a round trip.
resource "testbed_object" "bare" {
  name = "bare"
}
`

// plan runs a real plan (-refresh-only when asked) and returns `show -json`.
func plan(t *testing.T, ws *testbed.Workspace, refreshOnly bool) *tfjson.Plan {
	t.Helper()
	p, err := tryPlan(t.Context(), ws, refreshOnly)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tryPlan(ctx context.Context, ws *testbed.Workspace, refreshOnly bool) (*tfjson.Plan, error) {
	args := []string{"plan", "-input=false", "-no-color", "-lock=false", "-out=tfplan"}
	if refreshOnly {
		args = append(args, "-refresh-only")
	}
	if _, err := ws.Run(ctx, args...); err != nil {
		return nil, err
	}
	out, err := ws.Run(ctx, "show", "-json", "tfplan")
	if err != nil {
		return nil, err
	}
	var p tfjson.Plan
	if err := json.Unmarshal(out, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func changesByAddress(rcs []*tfjson.ResourceChange) map[string]*tfjson.ResourceChange {
	m := map[string]*tfjson.ResourceChange{}
	for _, rc := range rcs {
		m[rc.Address] = rc
	}
	return m
}

func TestCleanAfterApply(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "clean", fullTF)

	for _, refreshOnly := range []bool{true, false} {
		p := plan(t, ws, refreshOnly)
		if len(p.ResourceDrift) != 0 {
			t.Errorf("refreshOnly=%v: resource_drift = %d entries, want none", refreshOnly, len(p.ResourceDrift))
		}
		for _, rc := range p.ResourceChanges {
			if !rc.Change.Actions.NoOp() {
				t.Errorf("refreshOnly=%v: %s has actions %v, want no-op", refreshOnly, rc.Address, rc.Change.Actions)
			}
		}
	}
}

func TestInPlaceDrift(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "inplace", fullTF)

	for attr, v := range map[string]any{"tags.env": "prod", "rule.0.port": 8443, "secret": "rotated-outside"} {
		if err := env.SetAttribute("web", attr, v); err != nil {
			t.Fatal(err)
		}
	}
	p := plan(t, ws, true)
	drift := changesByAddress(p.ResourceDrift)
	if len(drift) != 1 {
		t.Fatalf("resource_drift has %d entries, want 1 (testbed_object.web)", len(drift))
	}
	rc := drift["testbed_object.web"]
	if rc == nil || !rc.Change.Actions.Update() {
		t.Fatalf("testbed_object.web drift = %+v, want action update", rc)
	}
	before, after := rc.Change.Before.(map[string]any), rc.Change.After.(map[string]any)
	if got := after["tags"].(map[string]any)["env"]; got != "prod" {
		t.Errorf("after.tags.env = %v, want prod", got)
	}
	if got := before["tags"].(map[string]any)["env"]; got != "dev" {
		t.Errorf("before.tags.env = %v, want dev", got)
	}
	if got := after["rule"].([]any)[0].(map[string]any)["port"]; got != 8443.0 {
		t.Errorf("after.rule[0].port = %v, want 8443", got)
	}
	for name, sens := range map[string]any{"before_sensitive": rc.Change.BeforeSensitive, "after_sensitive": rc.Change.AfterSensitive} {
		m, _ := sens.(map[string]any)
		if m["secret"] != true {
			t.Errorf("%s.secret = %v, want true", name, m["secret"])
		}
		if s, _ := m["settings"].(map[string]any); s["password"] != true {
			t.Errorf("%s.settings.password = %v, want true", name, m["settings"])
		}
	}
}

func TestDeletedOutsideTerraform(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*testbed.Env) error
	}{
		{"file deleted", func(e *testbed.Env) error { return e.DeleteObject("web") }},
		{"recreated with new generation", func(e *testbed.Env) error { return e.Recreate("web") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testbed.New(t)
			ws := env.Workspace(t, "deleted", fullTF)
			if err := tt.mutate(env); err != nil {
				t.Fatal(err)
			}

			var p *tfjson.Plan
			for _, refreshOnly := range []bool{true, false} {
				p = plan(t, ws, refreshOnly)
				rc := changesByAddress(p.ResourceDrift)["testbed_object.web"]
				if rc == nil || !rc.Change.Actions.Delete() {
					t.Fatalf("refreshOnly=%v: resource_drift[testbed_object.web] = %+v, want action delete", refreshOnly, rc)
				}
			}
			// The last plan was a normal one: it recreates what is gone.
			if rc := changesByAddress(p.ResourceChanges)["testbed_object.web"]; rc == nil || !rc.Change.Actions.Create() {
				t.Errorf("resource_changes[testbed_object.web] = %+v, want action create", rc)
			}
			if rc := changesByAddress(p.ResourceChanges)["testbed_object.bare"]; rc == nil || !rc.Change.Actions.NoOp() {
				t.Errorf("resource_changes[testbed_object.bare] = %+v, want no-op", rc)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "lifecycle", fullTF)
	ctx := t.Context()

	// In-place update keeps the generation.
	if err := ws.SetMainTF(strings.Replace(fullTF, `content = "hello"`, `content = "bye"`, 1)); err != nil {
		t.Fatal(err)
	}
	if err := ws.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := env.Object("web")
	if err != nil {
		t.Fatal(err)
	}
	if o["content"] != "bye" || o["generation"] != json.Number("1") {
		t.Errorf("after update: content=%v generation=%v, want bye, 1", o["content"], o["generation"])
	}

	// Import by id reads back every attribute: the next plan is empty.
	if _, err := ws.Run(ctx, "state", "rm", "testbed_object.web"); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Run(ctx, "import", "-input=false", "-no-color", "testbed_object.web", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Run(ctx, "plan", "-input=false", "-no-color", "-detailed-exitcode"); err != nil {
		t.Errorf("plan after import is not empty: %v", err)
	}

	// A new name replaces the object.
	if err := ws.SetMainTF(strings.Replace(fullTF, `name    = "web"`, `name    = "web2"`, 1)); err != nil {
		t.Fatal(err)
	}
	if err := ws.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Object("web"); err == nil {
		t.Error("object web still exists after replacement")
	}
	if _, err := env.Object("web2"); err != nil {
		t.Errorf("object web2 after replacement: %v", err)
	}

	if _, err := ws.Run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"web2", "bare"} {
		if _, err := env.Object(id); err == nil {
			t.Errorf("object %s exists after destroy", id)
		}
	}
}

func TestReadLatency(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	ws := env.Workspace(t, "latency", fullTF)

	const latency = time.Second
	env.ReadLatency = latency
	start := time.Now()
	plan(t, ws, true)
	// Lower bound only: machines are slow in unpredictable ways.
	if d := time.Since(start); d < latency {
		t.Errorf("refresh took %v with read_latency %v, want at least that", d, latency)
	}
}

func TestSimulatedFailures(t *testing.T) {
	t.Parallel()
	t.Run("read via env", func(t *testing.T) {
		t.Parallel()
		env := testbed.New(t)
		ws := env.Workspace(t, "failread", fullTF)
		env.Fail = provider.FailRead
		_, err := tryPlan(t.Context(), ws, true)
		if err == nil || !strings.Contains(err.Error(), provider.FailSummary) {
			t.Fatalf("plan error = %v, want %q", err, provider.FailSummary)
		}
	})
	t.Run("configure via provider attribute", func(t *testing.T) {
		t.Parallel()
		env := testbed.New(t)
		ws, err := env.NewWorkspace("failconf", "provider \"testbed\" {\n  fail = \"configure\"\n}\n"+fullTF)
		if err != nil {
			t.Fatal(err)
		}
		err = ws.Apply(t.Context())
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || !strings.Contains(err.Error(), provider.FailSummary) {
			t.Fatalf("apply error = %v, want terraform to fail with %q", err, provider.FailSummary)
		}
	})
}

func TestDataSource(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	env.Workspace(t, "owner", fullTF)
	reader := env.Workspace(t, "reader", `
data "testbed_object" "web" {
  name = "web"
}

output "summary" {
  value = {
    tier  = data.testbed_object.web.settings.tier
    port  = data.testbed_object.web.rule[0].port
    env   = data.testbed_object.web.tags["env"]
    ports = data.testbed_object.web.ports
  }
}

output "secret" {
  value     = data.testbed_object.web.secret
  sensitive = true
}
`)
	out, err := reader.Run(t.Context(), "output", "-json", "summary")
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"env":"dev","port":443,"ports":[80,443],"tier":"gold"}`
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("summary = %s, want %s", got, want)
	}
}

func TestProviderConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		provider string
		useRoot  bool // set the root attribute to a directory other than TESTBED_ROOT
		wantErr  string
	}{
		{name: "root attribute overrides env", useRoot: true},
		{name: "latency attribute", provider: `read_latency = "10ms"`},
		{name: "invalid fail", provider: `fail = "sometimes"`, wantErr: "testbed: invalid fail value"},
		{name: "invalid latency", provider: `read_latency = "soon"`, wantErr: "testbed: invalid read_latency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testbed.New(t)
			root := t.TempDir()
			cfg := tt.provider
			if tt.useRoot {
				cfg = "root = " + strconv.Quote(root)
			}
			ws, err := env.NewWorkspace("config", "provider \"testbed\" {\n  "+cfg+"\n}\n"+`resource "testbed_object" "x" { name = "x" }`)
			if err != nil {
				t.Fatal(err)
			}
			err = ws.Apply(t.Context())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("apply error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, errEnvRoot := env.Object("x")
			_, errAttrRoot := os.Stat(filepath.Join(root, "x.json"))
			if inAttr, inEnv := errAttrRoot == nil, errEnvRoot == nil; inAttr != tt.useRoot || inEnv == tt.useRoot {
				t.Errorf("object stored in root attribute dir: %v, in TESTBED_ROOT: %v; useRoot=%v", inAttr, inEnv, tt.useRoot)
			}
		})
	}
}

// TestTrigger: testbed_trigger is replaced, with a new id, exactly when its
// triggers change.
func TestTrigger(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	const tf = `resource "testbed_trigger" "t" {
  triggers = { v = "one" }
}`
	ws := env.Workspace(t, "trigger", tf)
	if p := plan(t, ws, false); len(p.ResourceChanges) != 1 || !p.ResourceChanges[0].Change.Actions.NoOp() {
		t.Fatalf("plan after apply: %+v, want one no-op", p.ResourceChanges)
	}
	if err := ws.SetMainTF(strings.Replace(tf, "one", "two", 1)); err != nil {
		t.Fatal(err)
	}
	rc := changesByAddress(plan(t, ws, false).ResourceChanges)["testbed_trigger.t"]
	if rc == nil || !rc.Change.Actions.Replace() {
		t.Fatalf("testbed_trigger.t = %+v, want a replacement", rc)
	}
	if got, _ := json.Marshal(rc.Change.ReplacePaths); string(got) != `[["triggers"]]` {
		t.Errorf("replace_paths = %s, want [[\"triggers\"]]", got)
	}
	if u, _ := rc.Change.AfterUnknown.(map[string]any); u["id"] != true {
		t.Errorf("after_unknown = %v, want a new id", rc.Change.AfterUnknown)
	}
}

// TestRotating: a testbed_rotating object created under a clock two hours
// behind has expired by the real clock: a refreshing plan finds it gone (as
// time_rotating's are) and creates it again; a plan without refresh
// replaces it because of rotation_rfc3339. One created under the real
// clock is clean.
func TestRotating(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	const tf = `resource "testbed_rotating" "r" {
  rotation_minutes = 60
}`
	env.Now = time.Now().Add(-2 * time.Hour)
	ws := env.Workspace(t, "rotating", tf)
	env.Now = time.Time{}

	p := plan(t, ws, false)
	if rc := changesByAddress(p.ResourceDrift)["testbed_rotating.r"]; rc == nil || !rc.Change.Actions.Delete() {
		t.Errorf("resource_drift = %+v, want testbed_rotating.r deleted", rc)
	}
	if rc := changesByAddress(p.ResourceChanges)["testbed_rotating.r"]; rc == nil || !rc.Change.Actions.Create() {
		t.Errorf("resource_changes = %+v, want testbed_rotating.r created", rc)
	}

	if _, err := ws.Run(t.Context(), "plan", "-input=false", "-no-color", "-lock=false", "-refresh=false", "-out=tfplan"); err != nil {
		t.Fatal(err)
	}
	out, err := ws.Run(t.Context(), "show", "-json", "tfplan")
	if err != nil {
		t.Fatal(err)
	}
	var np tfjson.Plan
	if err := json.Unmarshal(out, &np); err != nil {
		t.Fatal(err)
	}
	rc := changesByAddress(np.ResourceChanges)["testbed_rotating.r"]
	if rc == nil || !rc.Change.Actions.Replace() {
		t.Fatalf("without refresh: %+v, want testbed_rotating.r replaced", rc)
	}
	if got, _ := json.Marshal(rc.Change.ReplacePaths); string(got) != `[["rotation_rfc3339"]]` {
		t.Errorf("replace_paths = %s, want [[\"rotation_rfc3339\"]]", got)
	}

	if err := ws.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, rc := range plan(t, ws, false).ResourceChanges {
		if !rc.Change.Actions.NoOp() {
			t.Errorf("after a fresh apply: %s %v, want no-op", rc.Address, rc.Change.Actions)
		}
	}
}

// TestPutObject: an object no workspace manages, changed by PutObject, is
// what a data source reads.
func TestPutObject(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	if err := env.PutObject("ext", map[string]any{"content": "v1"}); err != nil {
		t.Fatal(err)
	}
	ws := env.Workspace(t, "put", `data "testbed_object" "ext" {
  name = "ext"
}

output "content" {
  value = data.testbed_object.ext.content
}`)
	if err := env.PutObject("ext", map[string]any{"content": "v2"}); err != nil {
		t.Fatal(err)
	}
	p := plan(t, ws, false)
	if c := p.OutputChanges["content"]; c == nil || c.Before != "v1" || c.After != "v2" {
		t.Errorf("output change = %+v, want v1 → v2", c)
	}
}
