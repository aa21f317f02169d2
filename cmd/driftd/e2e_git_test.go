package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/internal/testbed/provider"
)

// gitRun runs git in dir with a fixed identity and no user configuration.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func commitAll(t *testing.T, dir string) string {
	t.Helper()
	gitRun(t, dir, "add", "--all")
	gitRun(t, dir, "commit", "--quiet", "-m", "change")
	return gitRun(t, dir, "rev-parse", "HEAD")
}

// TestScanGitSource scans a workspace living in a subdirectory of a real git
// repository and using a module elsewhere in it, moves the branch, scans
// again, and checks that an unreachable repository fails its own workspace
// only.
func TestScanGitSource(t *testing.T) {
	f := newFleet(t)
	repo := filepath.Join(f.env.Dir, "repo")
	state := filepath.Join(f.env.Dir, "state", "net.tfstate")
	must(t, os.MkdirAll(repo, 0o755))
	gitRun(t, repo, "init", "--quiet", "--initial-branch=main")
	writeFiles(t, repo, map[string]string{
		".gitignore": ".terraform/\n",
		"modules/x/main.tf": fmt.Sprintf(`terraform {
  required_providers {
    testbed = { source = %q }
  }
}
variable "content" {}
resource "testbed_object" "o" {
  name    = "net-o"
  content = var.content
}
`, provider.Address),
		"stacks/net/net.tfvars": "content = \"v1\"\n",
	})
	net := f.env.OpenWorkspace("net", filepath.Join(repo, "stacks", "net"))
	must(t, net.SetMainTF(fmt.Sprintf(`terraform {
  backend "local" { path = %q }
}
variable "content" {}
module "x" {
  source  = "../../modules/x"
  content = var.content
}
`, state)))
	if _, err := net.Run(t.Context(), "init", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Run(t.Context(), "apply", "-auto-approve", "-input=false", "-no-color", "-var-file=net.tfvars"); err != nil {
		t.Fatal(err)
	}
	first := commitAll(t, repo)

	workDir := t.TempDir()
	cfg := filepath.Join(f.env.Dir, "git.yaml")
	wsEnv := fmt.Sprintf("    env:\n      TESTBED_ROOT: %s\n      TF_CLI_CONFIG_FILE: %s\n", f.env.Root, f.env.Mirror.CLIConfigFile)
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 1
defaults:
  timeout: 2m
workspaces:
  - name: net
    git: {url: "file://%s", ref: main, path: stacks/net}
    var_files: [net.tfvars]
%s  - name: gone
    git: {url: "file://%s/missing", ref: main}
%s`, repo, wsEnv, f.env.Dir, wsEnv)), 0o644))
	// One cache for both scans: the second fetches into the same mirror.
	env := append(cliEnv(t), "DRIFTD_WORK_DIR="+workDir)

	res := runCLI(t, env, "scan", "--config", cfg, "--output", "json", "--no-report")
	if res.code != exitError {
		t.Fatalf("exit %d, want %d\nstderr: %s", res.code, exitError, res.stderr)
	}
	reports := byWorkspace(decodeDoc(t, res.stdout))
	r := reports["net"]
	if r == nil || r.Status != drift.StatusClean || len(r.Pending) != 0 || r.Commit != first {
		t.Fatalf("net: %+v, want clean at %s", r, first)
	}
	g := reports["gone"]
	if g == nil || g.Status != drift.StatusError {
		t.Fatalf("gone: %+v, want an error", g)
	}
	t.Logf("gone: %s", g.Error)
	for _, want := range []string{"git", "file://" + f.env.Dir + "/missing", "ref main"} {
		if !strings.Contains(g.Error, want) {
			t.Errorf("gone: error %q lacks %q", g.Error, want)
		}
	}

	// The branch moves: new code, a change not yet applied.
	writeFiles(t, repo, map[string]string{"stacks/net/net.tfvars": "content = \"v2\"\n"})
	second := commitAll(t, repo)
	res = runCLI(t, env, "scan", "--config", cfg, "--output", "json", "--no-report", "net")
	if res.code != exitClean {
		t.Fatalf("exit %d, want %d\nstderr: %s", res.code, exitClean, res.stderr)
	}
	r = byWorkspace(decodeDoc(t, res.stdout))["net"]
	if r == nil || r.Commit != second {
		t.Fatalf("net: %+v, want commit %s", r, second)
	}
	if got, want := changeList(r.Pending), []string{"module.x.testbed_object.o:update"}; !equalStrings(got, want) {
		t.Errorf("pending %v, want %v", got, want)
	}

	if entries, _ := os.ReadDir(workDir); len(entries) > 0 {
		t.Errorf("scan directories left behind: %v", entries)
	}
}
