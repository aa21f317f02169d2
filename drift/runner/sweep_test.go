//go:build linux

package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/drift/gitsource"
	"github.com/driftd/driftd/drift/workdir"
	"github.com/driftd/driftd/internal/reliability"
)

// sleeper starts a process carrying scanID in its environment, as a
// provider plugin of that scan would. The returned channel is closed when it
// exits, *err then holding its exit error.
func sleeper(t *testing.T, scanID string) (<-chan struct{}, *error) {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), workdir.ScanIDEnv + "=" + scanID}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return done, &werr
}

func TestSweep(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{}, Options{})
	root := r.opts.WorkRoot

	// A scan of a driftd that was killed: its PID is dead, one of its
	// provider processes is still running.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	const staleID = "0123456789abcdef01234567"
	stale := filepath.Join(root, staleID)
	if err := os.MkdirAll(filepath.Join(stale, "src"), 0o700); err != nil {
		t.Fatal(err)
	}
	owner := fmt.Sprintf(`{"pid":%d,"start":"1"}`, dead.Process.Pid)
	if err := os.WriteFile(filepath.Join(stale, "driftd.owner"), []byte(owner), 0o600); err != nil {
		t.Fatal(err)
	}
	staleDone, staleErr := sleeper(t, staleID)

	// A scan of this (live) driftd, with a running process of its own.
	live, err := workdir.Prepare(context.Background(), workdir.Spec{Name: "ws", Dir: t.TempDir()}, workdir.Options{Root: root, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	liveDone, liveErr := sleeper(t, live.ScanID)

	// Something else in the root that is no scan directory.
	other := filepath.Join(root, "keep-me")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}

	if err := r.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-staleDone:
		err := *staleErr
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("stale scan's process ended with %v, want SIGKILL", err)
		}
	case <-time.After(time.Minute): // a safety net: Sweep has sent SIGKILL
		t.Error("stale scan's process still running")
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale scan dir not removed: %v", err)
	}
	select {
	case <-liveDone:
		t.Errorf("live scan's process killed: %v", *liveErr)
	case <-time.After(100 * time.Millisecond):
	}
	for _, p := range []string{live.Path, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("live data removed: %v", err)
		}
	}

	// Nothing left to do: a second sweep is a no-op.
	if err := r.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	reliability.Record(t, "killed driftd", "scan directory of a killed driftd (owner dead, a provider still running) beside a live scan's",
		"the sweep kills the dead scan's processes (SIGKILL) and removes its directory; the live scan, its process and other files untouched")
}

func TestWorkRootDefault(t *testing.T) {
	t.Parallel()
	r, err := New(Options{CacheDir: t.TempDir(), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(r.opts.CacheDir, "work"); r.opts.WorkRoot != want {
		t.Errorf("WorkRoot %q, want %q", r.opts.WorkRoot, want)
	}
	if fi, err := os.Lstat(r.opts.WorkRoot); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("work root not made private: %v, %v", fi, err)
	}
	if want := filepath.Join(r.opts.CacheDir, "git"); r.opts.GitDir != want {
		t.Errorf("GitDir %q, want %q", r.opts.GitDir, want)
	}
}

// TestNewRefusesSharedWorkRoot: a work root another user could have made
// stops the runner before any scan, with the path in the error.
func TestNewRefusesSharedWorkRoot(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "driftd-0")
	if err := os.Mkdir(root, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{CacheDir: t.TempDir(), WorkRoot: root, Environ: []string{}})
	if _, ok := errors.AsType[*workdir.RootError](err); !ok || !strings.Contains(err.Error(), root) {
		t.Fatalf("New = %v, want a *workdir.RootError naming %s", err, root)
	}
	reliability.Record(t, "work dir", "driftd started on a work root writable by all (0777)", "refused before any scan, naming the path")
}

func TestGitFailure(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	const token = "ghs_gitTokenMustNotLeak"
	spec := Spec{TerraformVersion: "1.99.0"}
	spec.Name = "ws"
	spec.Git = &gitsource.Source{URL: "http://127.0.0.1:1/org/infra.git", Ref: "release", Auth: gitsource.Auth{Token: token}}
	_, err := r.Plan(context.Background(), spec)
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("error %v, want *Error", err)
	}
	if e.Stage != StageGit {
		t.Errorf("stage %q, want %q", e.Stage, StageGit)
	}
	for _, want := range []string{"http://127.0.0.1:1/org/infra.git", "ref release"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("error %q lacks %q", e, want)
		}
	}
	if strings.Contains(e.Error(), token) || strings.Contains(fmt.Sprint(e.Err), token) {
		t.Errorf("token leaked: %v", e)
	}
	if entries, _ := os.ReadDir(r.opts.WorkRoot); len(entries) > 0 {
		t.Errorf("left behind: %v", entries)
	}
}
