//go:build linux

package workdir

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// livePID starts a process that lives as long as the test.
func livePID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

func TestFindStale(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mark := func(name string, o *owner, extra ...string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if o != nil {
			b, _ := json.Marshal(o)
			if err := os.WriteFile(filepath.Join(p, ownerFile), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range extra {
			if err := os.WriteFile(filepath.Join(p, f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	other := livePID(t)
	old := time.Now().Add(-2 * unownedGrace)

	mark("aaaaaaaaaaaaaaaaaaaaaaaa", &owner{PID: deadPID(t), Start: "1"}) // dead owner
	mark("bbbbbbbbbbbbbbbbbbbbbbbb", &owner{PID: other, Start: "1"})      // PID reused by another process
	mark("cccccccccccccccccccccccc", &owner{PID: other, Start: procStart(other)})
	mark("dddddddddddddddddddddddd", nil) // unmarked, empty, old
	if err := os.Chtimes(filepath.Join(root, "dddddddddddddddddddddddd"), old, old); err != nil {
		t.Fatal(err)
	}
	mark("eeeeeeeeeeeeeeeeeeeeeeee", nil)             // unmarked, empty, young
	mark("ffffffffffffffffffffffff", nil, "main.tf")  // unmarked, not empty
	mark("not-a-scan-dir", &owner{PID: deadPID(t)})   // not ours by name
	mark("111111111111111111111111", &owner{PID: -1}) // garbled
	d, err := Prepare(context.Background(), Spec{Name: "ws", Dir: t.TempDir()}, Options{Root: root, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	stale, err := FindStale(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range stale {
		got = append(got, s.ScanID)
		if s.Path != filepath.Join(root, s.ScanID) {
			t.Errorf("Path %q", s.Path)
		}
	}
	want := []string{"aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb", "dddddddddddddddddddddddd"}
	if !slices.Equal(got, want) {
		t.Errorf("stale %v, want %v", got, want)
	}

	if stale, err := FindStale(filepath.Join(root, "missing")); err != nil || stale != nil {
		t.Errorf("missing root: %v, %v", stale, err)
	}
}
