package workdir

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree creates files (path -> content) under dir, with mode 0644 unless
// the path is listed in modes.
func writeTree(t *testing.T, dir string, files map[string]string, modes map[string]os.FileMode) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if m, ok := modes[p]; ok {
			mode = m
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPrepareCopies(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"main.tf":                  `resource "terraform_data" "x" {}`,
		"scripts/run.sh":           "#!/bin/sh\n",
		"secret.auto.tfvars":       "a = 1\n",
		"terraform.tfstate":        "{}",
		"terraform.tfstate.backup": "{}",
		"terraform.tfstate.d/prod/terraform.tfstate": "{}",
		".terraform/providers/x":                     "binary",
		".terraform.lock.hcl":                        "# lock",
		".git/HEAD":                                  "ref: refs/heads/main",
		"modules/m/.terraform/modules.json":          "{}",
		"modules/m/main.tf":                          "",
	}, map[string]os.FileMode{"scripts/run.sh": 0o755, "secret.auto.tfvars": 0o600})
	if err := os.Symlink("modules/m", filepath.Join(src, "mod")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(src, "main.tf"), filepath.Join(src, "abs.tf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "modules"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "modules"), 0o755) })

	root := t.TempDir()
	d, err := Prepare(context.Background(), Spec{Name: "ws", Dir: src}, Options{Root: root, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"main.tf", "scripts/run.sh", "terraform.tfstate", "terraform.tfstate.d/prod/terraform.tfstate", ".terraform.lock.hcl", "modules/m/main.tf"} {
		if _, err := os.Stat(filepath.Join(d.Path, p)); err != nil {
			t.Errorf("%s not copied: %v", p, err)
		}
	}
	for _, p := range []string{".terraform", ".git", "terraform.tfstate.backup", "modules/m/.terraform"} {
		if _, err := os.Lstat(filepath.Join(d.Path, p)); !os.IsNotExist(err) {
			t.Errorf("%s must be skipped (err=%v)", p, err)
		}
	}
	for p, want := range map[string]os.FileMode{"scripts/run.sh": 0o755, "secret.auto.tfvars": 0o600, "main.tf": 0o644} {
		fi, err := os.Stat(filepath.Join(d.Path, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	if l, err := os.Readlink(filepath.Join(d.Path, "mod")); err != nil || l != "modules/m" {
		t.Errorf("relative symlink = %q, %v; want modules/m", l, err)
	}
	if l, err := os.Readlink(filepath.Join(d.Path, "abs.tf")); err != nil || l != filepath.Join(d.Path, "main.tf") {
		t.Errorf("absolute symlink = %q, %v; want it re-aimed into the copy", l, err)
	}
	if fi, err := os.Stat(d.DataDir); err != nil || !fi.IsDir() {
		t.Errorf("data dir: %v", err)
	}
	if !strings.HasPrefix(d.PlanFile, root) || !strings.HasPrefix(d.Path, root) {
		t.Errorf("paths outside root: %+v", d)
	}
	if m := envMap(t, d.Env); m["DRIFTD_SCAN_ID"] != d.ScanID || m["TF_DATA_DIR"] != d.DataDir {
		t.Errorf("env misses scan settings: %v", d.Env)
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("root not empty after Close: %v", entries)
	}
}

func TestPrepareWithRoot(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{"envs/prod/main.tf": `module "m" { source = "../../modules/m" }`, "modules/m/main.tf": ""}, nil)
	d, err := Prepare(context.Background(), Spec{Name: "prod", Dir: filepath.Join(repo, "envs/prod"), Root: repo}, Options{Root: t.TempDir(), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(filepath.Join(d.Path, "../../modules/m/main.tf")); err != nil {
		t.Errorf("module outside Dir not copied: %v", err)
	}
}

func TestPrepareErrorsLeaveNothing(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	tests := []struct {
		name    string
		setup   func(t *testing.T, src string) Spec
		ctx     func() context.Context
		wantErr string
	}{
		{
			name: "symlink outside tree",
			setup: func(t *testing.T, src string) Spec {
				writeTree(t, src, map[string]string{"main.tf": ""}, nil)
				if err := os.Symlink(filepath.Join(outside, "x.tf"), filepath.Join(src, "x.tf")); err != nil {
					t.Fatal(err)
				}
				return Spec{Name: "ws", Dir: src}
			},
			wantErr: "resolves to",
		},
		{
			name: "bad pass_env",
			setup: func(t *testing.T, src string) Spec {
				writeTree(t, src, map[string]string{"main.tf": ""}, nil)
				return Spec{Name: "ws", Dir: src, PassEnv: []string{"["}}
			},
			wantErr: "pass_env",
		},
		{
			name: "canceled",
			setup: func(t *testing.T, src string) Spec {
				writeTree(t, src, map[string]string{"main.tf": ""}, nil)
				return Spec{Name: "ws", Dir: src}
			},
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			wantErr: "canceled",
		},
		{
			name:    "relative dir",
			setup:   func(t *testing.T, src string) Spec { return Spec{Name: "ws", Dir: "rel"} },
			wantErr: "not absolute",
		},
		{
			name:    "dir outside root",
			setup:   func(t *testing.T, src string) Spec { return Spec{Name: "ws", Dir: outside, Root: src} },
			wantErr: "not inside root",
		},
		{
			name:    "missing dir",
			setup:   func(t *testing.T, src string) Spec { return Spec{Name: "ws", Dir: filepath.Join(src, "nope")} },
			wantErr: "no such file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := tt.setup(t, t.TempDir())
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			root := t.TempDir()
			d, err := Prepare(ctx, spec, Options{Root: root, Environ: []string{}})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Prepare = %v, %v; want error containing %q", d, err, tt.wantErr)
			}
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Errorf("left behind after error: %v", entries)
			}
		})
	}
}
