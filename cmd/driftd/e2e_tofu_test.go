package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift"
)

// fakeTofu writes dir/tofu, a stand-in for OpenTofu, which cannot be
// installed here: it records each call's arguments (one call a line,
// tab-separated) in the returned log, answers `tofu version` as OpenTofu
// does ("OpenTofu vX"), and runs the real terraform for everything else,
// `version -json` included, whose fields OpenTofu prints alike.
func fakeTofu(t *testing.T, dir string) (bin, log string) {
	t.Helper()
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform on PATH")
	}
	bin, log = filepath.Join(dir, "tofu"), filepath.Join(dir, "argv.log")
	script := fmt.Sprintf(`#!/bin/sh
line=""
for a; do line="$line$a	"; done
echo "$line" >> '%s'
if [ "$1" = version ] && [ "$#" = 1 ]; then
	'%s' version | sed '1s/^Terraform v/OpenTofu v/'
	exit 0
fi
exec '%s' "$@"
`, log, tf, tf)
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(bin, []byte(script), 0o755))
	return bin, log
}

// tofuCalls reads the fake's log: each call's arguments.
func tofuCalls(t *testing.T, log string) [][]string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var calls [][]string
	for line := range strings.Lines(string(b)) {
		calls = append(calls, strings.Split(strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\t"), "\t"))
	}
	return calls
}

// tofuContract is every argument driftd gives terraform or tofu, by
// subcommand: flags by name (a trailing "=" takes a value), and how many
// other arguments may follow. docs/opentofu.md lists the same.
var tofuContract = map[string]struct {
	flags      []string
	positional int
}{
	"version":   {flags: []string{"-json"}},
	"init":      {flags: []string{"-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false", "-backend-config="}},
	"workspace": {flags: []string{"-no-color"}, positional: 2}, // select NAME
	"plan": {flags: []string{"-no-color", "-input=false", "-detailed-exitcode", "-lock=", "-lock-timeout=", "-parallelism=",
		"-refresh-only", "-refresh=", "-out=", "-var-file="}},
	"show":         {flags: []string{"-json", "-no-color"}, positional: 1},  // the plan file
	"force-unlock": {flags: []string{"-no-color", "-force"}, positional: 1}, // the lock ID
}

// checkContract fails the test for any call outside tofuContract.
func checkContract(t *testing.T, calls [][]string) {
	t.Helper()
	for _, call := range calls {
		c, ok := tofuContract[call[0]]
		if !ok {
			t.Errorf("tofu %q: a subcommand outside the contract", call)
			continue
		}
		positional := 0
		for _, a := range call[1:] {
			if !strings.HasPrefix(a, "-") {
				positional++
				continue
			}
			known := slices.ContainsFunc(c.flags, func(f string) bool {
				return a == f || strings.HasSuffix(f, "=") && strings.HasPrefix(a, f)
			})
			if !known {
				t.Errorf("tofu %q: flag %s outside the contract", call, a)
			}
		}
		if positional > c.positional {
			t.Errorf("tofu %q: %d arguments, the contract has %d", call, positional, c.positional)
		}
	}
}

// subcommands counts the calls of each subcommand.
func subcommands(calls [][]string) map[string]int {
	n := map[string]int{}
	for _, c := range calls {
		n[c[0]]++
	}
	return n
}

// TestScanWithOpenTofu: workspaces with tool: tofu are planned by tofu
// alone, found in the install cache, on PATH or named, with nothing but
// the arguments of the shared contract; drift, pending code and clean
// workspaces come out as with terraform, and so do the reports to GitHub.
// Every plan goes through show (driftd does not read OpenTofu's plan
// files). A data dir made by one tool is never reused by the other.
func TestScanWithOpenTofu(t *testing.T) {
	f := newFleet(t)
	f.add(t, "net", fmt.Sprintf(webTF, "net"), true)
	f.add(t, "calm", fmt.Sprintf(webTF, "calm"), true)
	code := f.add(t, "code", fmt.Sprintf(webTF, "code"), true)
	tfws := f.add(t, "tfws", fmt.Sprintf(webTF, "tfws-${terraform.workspace}"), true)
	for _, args := range [][]string{{"workspace", "new", "-no-color", "staging"}, {"apply", "-auto-approve", "-input=false", "-no-color"}, {"workspace", "select", "-no-color", "default"}} {
		if _, err := tfws.Run(t.Context(), args...); err != nil {
			t.Fatal(err)
		}
	}
	must(t, f.env.SetAttribute("net-web", "tags.env", "staging"))
	must(t, f.env.SetAttribute("tfws-staging-web", "tags.env", "changed-in-staging"))
	must(t, code.SetMainTF(strings.Replace(fmt.Sprintf(webTF, "code"), `content = "c1"`, `content = "c2"`, 1)))
	f.extra["tfws"] = "    workspace: staging\n    vars: {unused: x}\n"
	cfg := f.writeConfig(t)
	// defaults: tool: tofu, with a constraint any terraform this runs
	// on satisfies (1.5.7 and later).
	b, err := os.ReadFile(cfg)
	must(t, err)
	must(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), "defaults:\n", "defaults:\n  tool: tofu\n  terraform_version: \">= 1.5\"\n", 1)), 0o644))

	env := append(cliEnv(t), f.env.Environ()...)
	cacheDir := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "DRIFTD_CACHE_DIR="); ok {
			cacheDir = v
		}
	}
	_, log := fakeTofu(t, filepath.Join(cacheDir, "tofu", "1.99.0"))

	check := func(res result, name string) {
		t.Helper()
		if res.code != exitDrift {
			t.Fatalf("%s: exit %d, want %d\n%s\n%s", name, res.code, exitDrift, res.stdout, res.stderr)
		}
		reports := byWorkspace(decodeDoc(t, res.stdout))
		for ws, want := range map[string]struct {
			status  drift.Status
			drift   []string
			pending []string
		}{
			"net":  {drift.StatusDrifted, []string{"testbed_object.web:update"}, nil},
			"calm": {drift.StatusClean, nil, nil},
			"code": {drift.StatusClean, nil, []string{"testbed_object.cache:update"}},
			"tfws": {drift.StatusDrifted, []string{"testbed_object.web:update"}, nil},
		} {
			r := reports[ws]
			if r == nil || r.Status != want.status || !equalStrings(changeList(r.Drift), want.drift) || !equalStrings(changeList(r.Pending), want.pending) {
				t.Errorf("%s: %s: %+v", name, ws, r)
			}
		}
	}

	// From the install cache.
	check(runCLI(t, env, "scan", "--config", cfg, "--output", "json", "--concurrency", "1"), "tofu from the cache")
	calls := tofuCalls(t, log)
	checkContract(t, calls)
	n := subcommands(calls)
	// One init at least: workspaces with the same lock file share one.
	if n["init"] < 1 || n["plan"] != 4 || n["show"] != 4 || n["workspace"] != 1 {
		t.Errorf("tofu calls %v: want init, plan and show for each of 4 workspaces (show for the clean one too), one workspace select", n)
	}
	if !slices.ContainsFunc(calls, func(c []string) bool { return slices.Equal(c, []string{"version"}) }) {
		t.Errorf("tofu was not asked who it is: %q", calls)
	}
	if !slices.ContainsFunc(calls, func(c []string) bool {
		return c[0] == "workspace" && slices.Equal(c, []string{"workspace", "select", "-no-color", "staging"})
	}) {
		t.Errorf("no workspace select of staging in %q", calls)
	}

	// Again: data dirs reused, no init.
	before := len(calls)
	check(runCLI(t, env, "scan", "--config", cfg, "--output", "json", "--concurrency", "1"), "tofu again")
	if n := subcommands(tofuCalls(t, log)[before:]); n["init"] != 0 || n["plan"] != 4 {
		t.Errorf("second tofu scan: calls %v, want plans and no init", n)
	}

	// --tool terraform over the config: terraform plans, and inits again
	// (a data dir of tofu's is not reused); tofu is not called.
	before = len(tofuCalls(t, log))
	res := runCLI(t, env, "scan", "--config", cfg, "--output", "json", "--tool", "terraform", "--log-level", "debug")
	check(res, "--tool terraform")
	if after := tofuCalls(t, log); len(after) != before {
		t.Errorf("--tool terraform called tofu: %q", after[before:])
	}
	if strings.Contains(res.stderr, `"init_reused":true`) {
		t.Errorf("--tool terraform reused a data dir tofu made:\n%s", res.stderr)
	}

	// On PATH, and named with --binary.
	pathDir := t.TempDir()
	_, pathLog := fakeTofu(t, pathDir)
	must(t, os.RemoveAll(filepath.Join(cacheDir, "tofu")))
	t.Setenv("PATH", pathDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	netDir := filepath.Join(f.env.Dir, "workspaces", "net")
	for _, tc := range []struct {
		name string
		log  string
		args []string
	}{
		{"on PATH", pathLog, []string{"check", netDir, "--tool", "tofu"}},
		{"named", "", []string{"check", netDir, "--binary", ""}},
	} {
		if tc.log == "" {
			var bin string
			bin, tc.log = fakeTofu(t, t.TempDir())
			tc.args = []string{"check", netDir, "--tool", "tofu", "--binary", bin}
		}
		res := runCLI(t, env, append(tc.args, "--pass-env", "TESTBED_*")...)
		if res.code != exitDrift || !strings.Contains(res.stdout, `~ tags.env: "prod" → "staging"`) {
			t.Errorf("check, tofu %s: exit %d\n%s\n%s", tc.name, res.code, res.stdout, res.stderr)
		}
		calls := tofuCalls(t, tc.log)
		checkContract(t, calls)
		if n := subcommands(calls); n["plan"] != 1 || n["show"] != 1 {
			t.Errorf("check, tofu %s: calls %v", tc.name, n)
		}
	}
}

// TestToolErrors: a tool or binary that cannot take effect is an error
// before anything runs.
func TestToolErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "w.yaml")
	must(t, os.WriteFile(cfg, []byte("version: 1\nworkspaces:\n  - name: net\n    dir: .\n    terraform_version: \"~> 1.5.0\"\n"), 0o644))
	notExe := filepath.Join(dir, "tofu")
	must(t, os.WriteFile(notExe, []byte("#!/bin/sh\n"), 0o644))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--config", cfg, "--tool", "opentofu"}, `--tool: unknown tool "opentofu": want "terraform" or "tofu" (OpenTofu)`},
		{[]string{"scan", "--config", cfg, "--tool", "tofu"}, `workspace net: no OpenTofu release satisfies "~> 1.5.0": OpenTofu's releases start at 1.6.0`},
		{[]string{"scan", "--config", cfg, "--binary", notExe}, "--binary: " + notExe + " is not executable"},
		{[]string{"check", dir, "--tool", "tofu", "--terraform-version", "< 1.6"}, `no OpenTofu release satisfies "< 1.6"`},
		{[]string{"check", dir, "--binary", filepath.Join(dir, "nope")}, "nope does not exist"},
	} {
		res := runCLI(t, []string{"HOME=" + t.TempDir()}, tt.args...)
		if res.code != exitError || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tt.args, res.code, res.stderr, tt.want)
		}
	}
}
