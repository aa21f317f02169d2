package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/internal/testbed"
	"github.com/driftd/driftd/reporters/github/githubtest"
)

// showPlan plans ws with terraform itself, as another pipeline would, and
// returns `terraform show -json` of the saved plan.
func showPlan(t *testing.T, ws *testbed.Workspace) []byte {
	t.Helper()
	planFile := filepath.Join(t.TempDir(), "ci.tfplan")
	if _, err := ws.Run(t.Context(), "plan", "-out="+planFile, "-input=false", "-no-color", "-lock=false"); err != nil {
		t.Fatal(err)
	}
	out, err := ws.Run(t.Context(), "show", "-json", planFile)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runCLIStdin is runCLI with stdin.
func runCLIStdin(t *testing.T, env []string, stdin []byte, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(&out, &errb, env)
	a.stdin = bytes.NewReader(stdin)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	code := a.run(ctx, args)
	return result{code, out.String(), errb.String()}
}

// TestAnalyzePlanMadeElsewhere: driftd analyze reads a real plan's JSON,
// piped or from a file, and reports what driftd check reports on the same
// workspace: drift apart from pending code, the same exit codes, formats.
func TestAnalyzePlanMadeElsewhere(t *testing.T) {
	f := newFleet(t)
	net := f.add(t, "net", fmt.Sprintf(webTF, "net"), true)
	must(t, f.env.SetAttribute("net-web", "tags.env", "staging"))
	must(t, f.env.DeleteObject("net-cache"))
	must(t, net.SetMainTF(strings.Replace(fmt.Sprintf(webTF, "net"), `content = "v1"`, `content = "v2"`, 1)))
	planJSON := showPlan(t, net)
	file := filepath.Join(t.TempDir(), "net-plan.json")
	must(t, os.WriteFile(file, planJSON, 0o644))
	env := cliEnv(t)

	checked := runCLI(t, append(env, f.env.Environ()...), "check", net.Dir, "--pass-env", "TESTBED_*", "--output", "json")
	if checked.code != exitDrift {
		t.Fatalf("check: exit %d\n%s", checked.code, checked.stderr)
	}
	want := decodeDoc(t, checked.stdout).Reports[0]

	piped := runCLIStdin(t, env, planJSON, "analyze", "--output", "json", "-")
	fromFile := runCLI(t, env, "analyze", file, "--output", "json", "--workspace", "net")
	for _, tc := range []struct {
		name      string
		res       result
		workspace string
	}{{"piped", piped, "plan"}, {"file", fromFile, "net"}} {
		if tc.res.code != exitDrift {
			t.Fatalf("%s: exit %d, want %d\n%s", tc.name, tc.res.code, exitDrift, tc.res.stderr)
		}
		got := decodeDoc(t, tc.res.stdout).Reports[0]
		if got.Workspace != tc.workspace || got.Status != drift.StatusDrifted || got.ScanID == "" {
			t.Errorf("%s: workspace %q, status %s, scan id %q", tc.name, got.Workspace, got.Status, got.ScanID)
		}
		if !reflect.DeepEqual(got.Drift, want.Drift) || !reflect.DeepEqual(got.Pending, want.Pending) || got.Fingerprint != want.Fingerprint {
			t.Errorf("%s: report differs from check's:\ndrift %+v\nwant  %+v\npending %+v\nwant    %+v", tc.name, got.Drift, want.Drift, got.Pending, want.Pending)
		}
	}
	if got := changeList(want.Drift); !equalStrings(got, []string{"testbed_object.cache:delete", "testbed_object.web:update"}) {
		t.Errorf("drift %v", got)
	}
	if got := changeList(want.Pending); !equalStrings(got, []string{"testbed_object.web:update"}) {
		t.Errorf("pending %v", got)
	}

	text := runCLI(t, env, "analyze", file)
	for _, w := range []string{`~ tags.env: "prod" → "staging"`, "- testbed_object.cache deleted outside Terraform", "net-plan"} {
		if !strings.Contains(text.stdout, w) {
			t.Errorf("text output lacks %q:\n%s", w, text.stdout)
		}
	}
	if md := runCLI(t, env, "analyze", file, "--output", "markdown"); md.code != exitDrift || !strings.Contains(md.stdout, "tags.env") {
		t.Errorf("markdown: exit %d\n%s", md.code, md.stdout)
	}

	// Pending code only: 0, or 2 with --fail-on-pending.
	calm := f.add(t, "calm", fmt.Sprintf(webTF, "calm"), true)
	must(t, calm.SetMainTF(strings.Replace(fmt.Sprintf(webTF, "calm"), `content = "c1"`, `content = "c2"`, 1)))
	pendingOnly := showPlan(t, calm)
	if res := runCLIStdin(t, env, pendingOnly, "analyze"); res.code != exitClean {
		t.Errorf("pending only: exit %d, want %d\n%s%s", res.code, exitClean, res.stdout, res.stderr)
	}
	if res := runCLIStdin(t, env, pendingOnly, "analyze", "--fail-on-pending"); res.code != exitDrift {
		t.Errorf("pending only, --fail-on-pending: exit %d, want %d", res.code, exitDrift)
	}
}

// TestAnalyzeReportsForAConfiguredWorkspace: with --config and --workspace,
// analyze applies the workspace's ignore rules and owners and, with
// --report, tells its reporters: the GitHub fake gets exactly one issue
// however often the same plan is analysed. Sensitive values in the plan
// reach no output format, log line or issue.
func TestAnalyzeReportsForAConfiguredWorkspace(t *testing.T) {
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	f := newFleet(t)
	ws := f.add(t, "secrets", secretsTF, true)
	must(t, f.env.SetAttribute("db", "secret", "rotated-Pq7m"))
	must(t, f.env.SetAttribute("db", "settings.password", "rotated-pw-Yy3n"))
	must(t, f.env.SetAttribute("db", "tags.env", "staging"))
	must(t, f.env.SetAttribute("db", "tags.LastScanned", "today"))
	must(t, f.env.SetAttribute("leak", "content", "overwritten"))
	f.extra["secrets"] = "    owners: [alice]\n    ignore:\n      - attributes: [tags.LastScanned]\n"
	cfg := f.writeConfig(t)
	appendFile(t, cfg, fmt.Sprintf("reporters:\n  github:\n    repository: acme/infra\n    base_url: %s\n    token_env: DRIFTD_TEST_GH_TOKEN\n", gh.BaseURL()))
	planJSON := showPlan(t, ws)
	secrets := []string{"var-secret-Zq9v", "attr-secret-Xk4w", "rotated-Pq7m", "rotated-pw-Yy3n"}
	for _, s := range secrets {
		if !bytes.Contains(planJSON, []byte(s)) {
			t.Fatalf("test setup: %q not in the plan's JSON, so the test would prove nothing", s)
		}
	}
	file := filepath.Join(t.TempDir(), "plan.json")
	must(t, os.WriteFile(file, planJSON, 0o644))
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token)

	noLeak := func(args []string, res result) {
		t.Helper()
		for _, s := range append(secrets, gh.Token) {
			if strings.Contains(res.stdout+res.stderr, s) {
				t.Errorf("%v: %q leaked:\nstdout:\n%s\nstderr:\n%s", args, s, res.stdout, res.stderr)
			}
		}
	}
	for _, args := range [][]string{
		{"analyze", "--config", cfg, "--workspace", "secrets", "--report", "--log-level", "debug", file},
		{"analyze", "--config", cfg, "--workspace", "secrets", "--report", "--output", "json", "-"},
		{"analyze", "--config", cfg, "--workspace", "secrets", "--output", "markdown", "--log-level", "debug", "-"},
	} {
		res := runCLIStdin(t, env, planJSON, args...)
		if res.code != exitDrift {
			t.Fatalf("%v: exit %d\n%s\n%s", args, res.code, res.stdout, res.stderr)
		}
		noLeak(args, res)
		for _, want := range []string{"(sensitive value)", "staging", "overwritten"} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, res.stdout)
			}
		}
		if strings.Contains(res.stdout, "LastScanned") {
			t.Errorf("%v: the workspace's ignore rule was not applied:\n%s", args, res.stdout)
		}
	}

	issues := gh.Issues()
	if len(issues) != 1 {
		t.Fatalf("issues %d, want 1", len(issues))
	}
	is := issues[0]
	body := is.Body
	for _, c := range is.Comments {
		body += c
	}
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Errorf("secret %q in the issue", s)
		}
	}
	for _, want := range []string{"driftd:workspace=secrets", "tags.env", "@alice"} {
		if !strings.Contains(body, want) {
			t.Errorf("issue lacks %q:\n%s", want, body)
		}
	}
}

// TestAnalyzeBadInput: what is not a plan's JSON is a clear error, exit 1,
// nothing printed or delivered.
func TestAnalyzeBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "w.yaml")
	must(t, os.WriteFile(cfg, []byte("version: 1\nworkspaces:\n  - name: net\n    dir: .\n"), 0o644))
	tests := []struct {
		name  string
		input string
		args  []string
		want  string
	}{
		{name: "empty", input: "", want: "standard input: empty: expected the output of `terraform show -json PLANFILE`"},
		{name: "not JSON", input: "Terraform will perform the following actions:\n", want: "standard input: drift: read plan:"},
		{name: "not an object", input: `["format_version"]`, want: "standard input: drift: read plan:"},
		{name: "no format", input: `{"planned_values": {}}`, want: "format version is missing"},
		{name: "a state", input: `{"format_version":"1.0","terraform_version":"1.11.4","values":{"root_module":{}}}`,
			want: "not a plan: no planned_values"},
		{name: "future format", input: `{"format_version":"2.0","planned_values":{}}`, want: `unsupported plan format version: "2.0.0"`},
		{name: "cut short", input: `{"format_version":"1.2","planned_values":{"root_module":{`, want: "unexpected EOF"},
		{name: "missing file", args: []string{filepath.Join(dir, "nope.json")}, want: "nope.json: no such file"},
		{name: "two files", args: []string{"a.json", "b.json"}, want: "want at most one file"},
		{name: "report without config", args: []string{"--report", "-"}, want: "--report needs --config"},
		{name: "config without workspace", args: []string{"--config", cfg, "-"}, want: "--config needs --workspace"},
		{name: "unknown workspace", input: `{"format_version":"1.2","planned_values":{}}`, args: []string{"--config", cfg, "--workspace", "app", "-"},
			want: `--workspace: unknown workspace "app" (known: net)`},
		{name: "invalid name", args: []string{"--workspace", "My Net", "-"}, want: `--workspace "My Net": use lowercase letters`},
		{name: "bad output", args: []string{"--output", "yaml"}, want: "--output: want text, json or markdown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLIStdin(t, []string{"HOME=" + t.TempDir()}, []byte(tt.input), append([]string{"analyze"}, tt.args...)...)
			if res.code != exitError || !strings.Contains(res.stderr, tt.want) || res.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", res.code, res.stdout, res.stderr, tt.want)
			}
		})
	}
	// A clean plan of nothing is a valid plan.
	res := runCLIStdin(t, []string{"HOME=" + t.TempDir()}, []byte(`{"format_version":"1.2","terraform_version":"1.11.4","planned_values":{}}`), "analyze", "--output", "json")
	if res.code != exitClean {
		t.Errorf("empty plan: exit %d\n%s", res.code, res.stderr)
	}
}
