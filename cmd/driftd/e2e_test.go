package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/internal/testbed"
)

// fleet is a set of real, applied testbed workspaces and a config listing
// them.
type fleet struct {
	env    *testbed.Env
	config string
	extra  map[string]string // per-workspace YAML lines
	names  []string
}

func newFleet(t *testing.T) *fleet {
	return &fleet{env: testbed.New(t), extra: map[string]string{}}
}

// add creates and applies a workspace; apply=false leaves it unapplied
// (for configs terraform cannot even init).
func (f *fleet) add(t *testing.T, name, tf string, apply bool) *testbed.Workspace {
	t.Helper()
	var ws *testbed.Workspace
	if apply {
		ws = f.env.Workspace(t, name, tf)
	} else {
		var err error
		if ws, err = f.env.NewWorkspace(name, tf); err != nil {
			t.Fatal(err)
		}
	}
	f.names = append(f.names, name)
	return ws
}

func (f *fleet) writeConfig(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\ndefaults:\n  timeout: 2m\nworkspaces:\n")
	for _, n := range f.names {
		fmt.Fprintf(&b, "  - name: %s\n    dir: %s\n    env:\n      TESTBED_ROOT: %s\n      TF_CLI_CONFIG_FILE: %s\n",
			n, filepath.Join(f.env.Dir, "workspaces", n), f.env.Root, f.env.Mirror.CLIConfigFile)
		if x := f.extra[n]; x != "" {
			b.WriteString(x)
		}
	}
	path := filepath.Join(f.env.Dir, "workspaces.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env []string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(&out, &errb, env)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := a.run(ctx, args)
	return result{code, out.String(), errb.String()}
}

// cliEnv is driftd's own environment in tests: what a CI job would have,
// including a token that must never reach terraform.
func cliEnv(t *testing.T) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"DRIFTD_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache"),
		"GITHUB_TOKEN=ghp_thisMustNeverReachTerraform",
	}
}

func decodeDoc(t *testing.T, s string) render.Document {
	t.Helper()
	var doc render.Document
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatalf("json output: %v\n%s", err, s)
	}
	return doc
}

func byWorkspace(doc render.Document) map[string]*drift.Report {
	m := map[string]*drift.Report{}
	for _, r := range doc.Reports {
		m[r.Workspace] = r
	}
	return m
}

const webTF = `
resource "testbed_object" "web" {
  name    = "%[1]s-web"
  content = "v1"
  tags    = { env = "prod", team = "core" }
  ports   = [80, 443]
  rule {
    port        = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
}

resource "testbed_object" "cache" {
  name    = "%[1]s-cache"
  content = "c1"
}
`

func TestScanSeparatesDriftFromPending(t *testing.T) {
	f := newFleet(t)
	f.add(t, "clean", fmt.Sprintf(webTF, "clean"), true)

	f.add(t, "drifted", fmt.Sprintf(webTF, "drifted"), true)
	must(t, f.env.SetAttribute("drifted-web", "tags.env", "staging"))
	must(t, f.env.SetAttribute("drifted-web", "rule.0.port", 8443))
	must(t, f.env.DeleteObject("drifted-cache"))

	pending := f.add(t, "pending", fmt.Sprintf(webTF, "pending"), true)
	must(t, pending.SetMainTF(strings.Replace(fmt.Sprintf(webTF, "pending"), `content = "c1"`, `content = "c2"`, 1)))

	both := f.add(t, "both", fmt.Sprintf(webTF, "both"), true)
	must(t, f.env.SetAttribute("both-web", "tags.team", "someone-else"))
	must(t, both.SetMainTF(strings.Replace(fmt.Sprintf(webTF, "both"), `content = "v1"`, `content = "v2"`, 1)))

	recreated := f.add(t, "recreated", fmt.Sprintf(webTF, "recreated"), true)
	_ = recreated
	must(t, f.env.Recreate("recreated-cache"))

	cfg := f.writeConfig(t)
	res := runCLI(t, cliEnv(t), "scan", "--config", cfg, "--output", "json", "--concurrency", "3")
	if res.code != exitDrift {
		t.Fatalf("exit %d, want %d\nstderr: %s", res.code, exitDrift, res.stderr)
	}
	reports := byWorkspace(decodeDoc(t, res.stdout))

	check := func(name string, status drift.Status, drifted, pend []string) *drift.Report {
		t.Helper()
		r := reports[name]
		if r == nil {
			t.Fatalf("no report for %s", name)
		}
		if r.Status != status {
			t.Errorf("%s: status %s, want %s (error: %s)", name, r.Status, status, r.Error)
		}
		if got := changeList(r.Drift); !equalStrings(got, drifted) {
			t.Errorf("%s: drift %v, want %v", name, got, drifted)
		}
		if got := changeList(r.Pending); !equalStrings(got, pend) {
			t.Errorf("%s: pending %v, want %v", name, got, pend)
		}
		return r
	}
	check("clean", drift.StatusClean, nil, nil)
	r := check("drifted", drift.StatusDrifted, []string{"testbed_object.cache:delete", "testbed_object.web:update"}, nil)
	if got := attrPaths(r.Drift[1]); !equalStrings(got, []string{"rule[0].port", "tags.env"}) {
		t.Errorf("drifted web attributes %v", got)
	}
	if a := r.Drift[1].Attributes[1]; a.Before != "prod" || a.After != "staging" {
		t.Errorf("tags.env %v -> %v, want prod -> staging", a.Before, a.After)
	}
	check("pending", drift.StatusClean, nil, []string{"testbed_object.cache:update"})
	r = check("both", drift.StatusDrifted, []string{"testbed_object.web:update"}, []string{"testbed_object.web:update"})
	if got := attrPaths(r.Pending[0]); !equalStrings(got, []string{"content"}) {
		t.Errorf("both: pending attributes %v, want [content]: the drift's revert is not pending code", got)
	}
	check("recreated", drift.StatusDrifted, []string{"testbed_object.cache:delete"}, nil)

	// The same scan as text: a diff in Terraform's style and a summary line
	// per workspace, no colour when not on a terminal.
	res = runCLI(t, cliEnv(t), "scan", "--config", cfg, "drifted", "clean")
	for _, want := range []string{
		"- testbed_object.cache deleted outside Terraform",
		`~ tags.env: "prod" → "staging"`,
		"~ drifted  drifted  2 resources drifted",
		"✓ clean    clean    no drift",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "\x1b[") {
		t.Error("colour codes in piped output")
	}
	if res.stderr != "" {
		t.Errorf("piped run wrote to stderr: %q", res.stderr)
	}

	// Only unapplied code: exit 0, unless asked to fail on it.
	if res := runCLI(t, cliEnv(t), "scan", "--config", cfg, "pending"); res.code != exitClean {
		t.Errorf("pending only: exit %d, want 0", res.code)
	}
	if res := runCLI(t, cliEnv(t), "scan", "--config", cfg, "--fail-on-pending", "pending"); res.code != exitDrift {
		t.Errorf("pending with --fail-on-pending: exit %d, want 2", res.code)
	}
}

func TestCheckDirectory(t *testing.T) {
	f := newFleet(t)
	ws := f.add(t, "solo", fmt.Sprintf(webTF, "solo"), true)
	// The provider's object root reaches terraform only when passed on:
	// driftd's environment is not terraform's.
	env := append(cliEnv(t), f.env.Environ()...)
	if res := runCLI(t, env, "check", ws.Dir); res.code != exitError || !strings.Contains(res.stdout, "no object root") {
		t.Fatalf("check without --pass-env: exit %d, want 1 and the provider's error\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := runCLI(t, env, "check", "--pass-env", "TESTBED_*", ws.Dir); res.code != exitClean {
		t.Fatalf("clean check: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	must(t, f.env.SetAttribute("solo-web", "content", "edited"))
	res := runCLI(t, env, "check", ws.Dir, "--pass-env", "TESTBED_ROOT", "--output", "markdown")
	if res.code != exitDrift || !strings.Contains(res.stdout, "## Drift detected in `solo`") {
		t.Fatalf("drifted check: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, env, "check", "--refresh-only", "--pass-env", "TESTBED_ROOT", ws.Dir)
	if res.code != exitDrift || !strings.Contains(res.stdout, `content: "v1" → "edited"`) {
		t.Fatalf("refresh-only check: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// Every log line of the scan carries the report's scan id, terraform's
	// steps included.
	res = runCLI(t, env, "check", "--pass-env", "TESTBED_ROOT", "--output", "json", "--log-level", "debug", "--log-format", "json", ws.Dir)
	id := decodeDoc(t, res.stdout).Reports[0].ScanID
	if id == "" {
		t.Fatal("report has no scan id")
	}
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if len(lines) < 3 {
		t.Fatalf("expected debug logs, got %q", res.stderr)
	}
	for _, line := range lines {
		var rec map[string]any
		must(t, json.Unmarshal([]byte(line), &rec))
		if rec["scan_id"] != id || rec["workspace"] != "solo" {
			t.Errorf("log line without the scan's id (%s) or workspace: %s", id, line)
		}
	}
}

func changeList(cs []drift.ResourceChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Address+":"+string(c.Action))
	}
	return out
}

func attrPaths(c drift.ResourceChange) []string {
	var out []string
	for _, a := range c.Attributes {
		out = append(out, a.Path)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
