//go:build unix

package workdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/reliability"
)

// TestEnsureRoot: a work root another user could have made or can write to
// is refused, naming the path, what was found and what is wanted; a missing
// one is made 0700 whatever the umask, and one of ours that only we can
// write to is made 0700.
func TestEnsureRoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, p string)
		want  string // "" = accepted
	}{
		{name: "missing", setup: func(t *testing.T, p string) {}},
		{name: "missing parents", setup: func(t *testing.T, p string) {}},
		{name: "ours 0700", setup: func(t *testing.T, p string) { mkdirMode(t, p, 0o700) }},
		{name: "pre-created 0777", setup: func(t *testing.T, p string) { mkdirMode(t, p, 0o777) }, want: "found mode 0777, owner uid"},
		{name: "ours 0755, made private", setup: func(t *testing.T, p string) { mkdirMode(t, p, 0o755) }},
		{name: "group rwx (fsGroup), made private", setup: func(t *testing.T, p string) { mkdirMode(t, p, 0o770) }},
		{name: "writable by all", setup: func(t *testing.T, p string) { mkdirMode(t, p, 0o703) }, want: "found mode 0703"},
		{name: "symlink to a private dir", setup: func(t *testing.T, p string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			mkdirMode(t, target, 0o700)
			must(t, os.Symlink(target, p))
		}, want: "found a symlink"},
		{name: "regular file", setup: func(t *testing.T, p string) { must(t, os.WriteFile(p, nil, 0o600)) }, want: "found a regular file"},
		{name: "other owner", setup: func(t *testing.T, p string) {
			if os.Geteuid() != 0 {
				t.Skip("chown to another uid needs root")
			}
			mkdirMode(t, p, 0o700)
			must(t, os.Chown(p, 4242, 4242))
		}, want: "found mode 0700, owner uid 4242"},
	}
	refused := reliability.Times(t, "work dir", "work root pre-created by another user or open to one (mode 0777 or 0703, a symlink, a regular file, another uid's)",
		"refused before use, the error naming the path, what was found and what is wanted")
	madePrivate := reliability.Times(t, "work dir", "work root of driftd's user readable or writable by its group (0755, 0770)", "made 0700")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "driftd-0")
			if tt.name == "missing parents" {
				p = filepath.Join(t.TempDir(), "a", "b", "work")
			}
			tt.setup(t, p)
			err := EnsureRoot(p)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Lstat(p)
				if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
					t.Fatalf("root %v, %v; want a 0700 directory", fi.Mode(), err)
				}
				if strings.HasSuffix(tt.name, "made private") {
					madePrivate.Add(1)
				}
				return
			}
			var rerr *RootError
			if !errors.As(err, &rerr) {
				t.Fatalf("EnsureRoot = %v, want a *RootError", err)
			}
			for _, want := range []string{p, tt.want, fmt.Sprintf("owned by uid %d", os.Geteuid()), "0700", "--work-dir"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			refused.Add(1)
		})
	}
}

func mkdirMode(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	must(t, os.Mkdir(p, mode))
	must(t, os.Chmod(p, mode)) // past the umask
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrepareRefusesSharedRoot: a scan never writes its files into a root
// another user can read or write, and leaves nothing there.
func TestPrepareRefusesSharedRoot(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "driftd-0")
	mkdirMode(t, root, 0o777)
	src := t.TempDir()
	writeTree(t, src, map[string]string{"main.tf": ""}, nil)
	_, err := Prepare(context.Background(), Spec{Name: "ws", Dir: src, Vars: map[string]string{"password": "hunter2"}}, Options{Root: root, Environ: []string{}})
	if _, ok := errors.AsType[*RootError](err); !ok {
		t.Fatalf("Prepare = %v, want a *RootError", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("written into a shared root: %v", entries)
	}
	reliability.Record(t, "work dir", "scan with a secret var prepared in a work root writable by all (0777)", "refused; nothing written there")
}

// TestWriteFileRefusesPlanted: a file driftd writes into a scan directory
// (var files, backend config) never follows or replaces what is already at
// its name, and never lands outside the directory.
func TestWriteFileRefusesPlanted(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"main.tf": ""}, nil)
	d, err := Prepare(context.Background(), Spec{Name: "ws", Dir: src}, Options{Root: t.TempDir(), Environ: []string{}})
	must(t, err)
	defer d.Close()
	target := filepath.Join(t.TempDir(), "target")
	must(t, os.WriteFile(target, []byte("original"), 0o600))
	planted := map[string]func(p string){
		"symlink to a file elsewhere": func(p string) { must(t, os.Symlink(target, p)) },
		"dangling symlink":            func(p string) { must(t, os.Symlink(target+".new", p)) },
		"file":                        func(p string) { must(t, os.WriteFile(p, []byte("planted"), 0o644)) },
	}
	refused := reliability.Times(t, "work dir", "symlink or file planted where driftd writes a var or backend file into a scan directory",
		"write refused (O_EXCL|O_NOFOLLOW); the link's target untouched, nothing created through it")
	const secret = `{"password":"hunter2"}`
	for what, plant := range planted {
		name := "driftd." + strings.ReplaceAll(what, " ", "-") + ".tfvars.json"
		plant(filepath.Join(d.Base(), name))
		if err := d.WriteFile(name, []byte(secret)); !errors.Is(err, fs.ErrExist) {
			t.Errorf("%s planted: WriteFile = %v, want it refused as existing", what, err)
			continue
		}
		refused.Add(1)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "original" {
		t.Errorf("the link's target now holds %q, %v", b, err)
	}
	if _, err := os.Lstat(target + ".new"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was created through the dangling link: %v", err)
	}
	if err := d.WriteFile("../escape.tfvars.json", []byte(secret)); err == nil {
		t.Error("wrote outside the scan directory")
	}
	must(t, d.WriteFile("driftd.tfvars.json", []byte(secret)))
	if fi, err := os.Lstat(filepath.Join(d.Base(), "driftd.tfvars.json")); err != nil || fi.Mode() != 0o600 {
		t.Errorf("written file: %v, %v; want a regular file, mode 0600", fi.Mode(), err)
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Parallel()
	runtime := t.TempDir()
	uid := fmt.Sprintf("driftd-%d", os.Getuid())
	tests := []struct {
		name     string
		environ  []string
		cacheDir string
		want     string
	}{
		{"runtime dir first", []string{"XDG_RUNTIME_DIR=" + runtime, "TMPDIR=/var/tmp"}, "/c", filepath.Join(runtime, "driftd")},
		{"missing runtime dir", []string{"XDG_RUNTIME_DIR=" + filepath.Join(runtime, "gone")}, "/c", "/c/work"},
		{"relative runtime dir", []string{"XDG_RUNTIME_DIR=run"}, "/c", "/c/work"},
		{"cache dir", []string{"TMPDIR=/var/tmp"}, "/c", "/c/work"},
		{"temp dir last", []string{"TMPDIR=/var/tmp"}, "", filepath.Join("/var/tmp", uid)},
		{"no TMPDIR", nil, "", filepath.Join("/tmp", uid)},
	}
	for _, tt := range tests {
		if got := DefaultRoot(tt.environ, tt.cacheDir); got != tt.want {
			t.Errorf("%s: DefaultRoot = %q, want %q", tt.name, got, tt.want)
		}
	}
}
