package workdir

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/gitsource"
)

// gitRepo makes a real repository at dir with files committed on main and
// returns a function committing more files, which returns the new SHA.
func gitRepo(t *testing.T, dir string) func(files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run("init", "--quiet", "--initial-branch=main")
	return func(files map[string]string) string {
		t.Helper()
		writeTree(t, dir, files, nil)
		run("add", "--all")
		run("commit", "--quiet", "-m", "change")
		return run("rev-parse", "HEAD")
	}
}

func TestPrepareGit(t *testing.T) {
	t.Parallel()
	repo := filepath.Join(t.TempDir(), "infra")
	commit := gitRepo(t, repo)
	sha := commit(map[string]string{
		"stacks/net/main.tf": `module "x" { source = "../../modules/x" }`,
		"modules/x/main.tf":  "",
	})
	m, err := gitsource.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	spec := Spec{Name: "net", Git: &gitsource.Source{URL: "file://" + repo, Ref: "main", Path: "stacks/net"}}
	d, err := Prepare(context.Background(), spec, Options{Root: root, Mirrors: m, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Commit != sha {
		t.Errorf("Commit %q, want %q", d.Commit, sha)
	}
	if want := filepath.Join(d.Base(), "src", "stacks", "net"); d.Path != want {
		t.Errorf("Path %q, want %q", d.Path, want)
	}
	if _, err := os.Stat(filepath.Join(d.Path, "../../modules/x/main.tf")); err != nil {
		t.Errorf("module outside Path not checked out: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Base(), "src", ".git")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".git in the checkout: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Base(), ownerFile)); err != nil {
		t.Errorf("scan dir not marked: %v", err)
	}
}

func TestPrepareGitErrors(t *testing.T) {
	t.Parallel()
	m, err := gitsource.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name    string
		spec    Spec
		opts    Options
		gitErr  bool
		wantErr []string
	}{
		{
			name:    "unreachable",
			spec:    Spec{Name: "ws", Git: &gitsource.Source{URL: "file://" + missing, Ref: "main"}},
			opts:    Options{Mirrors: m},
			gitErr:  true,
			wantErr: []string{"file://" + missing, "ref main"},
		},
		{
			name:    "no mirrors",
			spec:    Spec{Name: "ws", Git: &gitsource.Source{URL: "file://" + missing}},
			wantErr: []string{"no git mirrors"},
		},
		{
			name:    "dir and git",
			spec:    Spec{Name: "ws", Dir: missing, Git: &gitsource.Source{URL: "file://" + missing}},
			opts:    Options{Mirrors: m},
			wantErr: []string{"excludes dir"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Root = t.TempDir()
			_, err := Prepare(context.Background(), tt.spec, tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := errors.AsType[*GitError](err); ok != tt.gitErr {
				t.Errorf("GitError %v, want %v: %v", ok, tt.gitErr, err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(tt.opts.Root); len(entries) > 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}
