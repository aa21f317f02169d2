//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift/workdir"
)

// deadScan plants in root the directory a killed driftd leaves: its owner
// is a process that has exited, it holds a var file with a secret, and one
// of its processes (a provider, say) still runs. It returns the directory
// and a channel closed when that process exits.
func deadScan(t *testing.T, root, id string) (string, <-chan struct{}) {
	t.Helper()
	gone := exec.Command("true")
	must(t, gone.Run())
	dir := filepath.Join(root, id)
	must(t, os.MkdirAll(dir, 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "driftd.owner"), fmt.Appendf(nil, `{"pid":%d,"start":"1"}`, gone.Process.Pid), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "driftd.tfvars.json"), []byte(`{"password":"hunter2"}`), 0o600))
	orphan := exec.Command("sleep", "600")
	orphan.Env = []string{"PATH=" + os.Getenv("PATH"), workdir.ScanIDEnv + "=" + id}
	must(t, orphan.Start())
	exited := make(chan struct{})
	go func() { orphan.Wait(); close(exited) }()
	t.Cleanup(func() { orphan.Process.Kill(); <-exited })
	return dir, exited
}

// TestEveryCommandSweeps: `driftd check` (like scan and serve) first
// removes the directory of a scan whose driftd was killed, with its
// secrets, and kills the processes it left.
func TestEveryCommandSweeps(t *testing.T) {
	f := newFleet(t)
	ws := f.add(t, "solo", fmt.Sprintf(webTF, "solo"), true)
	env := append(cliEnv(t), f.env.Environ()...)
	work := filepath.Join(t.TempDir(), "work")
	dir, exited := deadScan(t, work, "0123456789abcdef01234567")

	if res := runCLI(t, env, "check", "--work-dir", work, "--pass-env", "TESTBED_*", ws.Dir); res.code != exitClean {
		t.Fatalf("check: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dead scan's directory (and its var file) left behind: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second): // safety net only
		t.Error("dead scan's process still running")
	}
	entries, _ := os.ReadDir(work)
	for _, e := range entries {
		t.Errorf("left in the work root: %s", e.Name())
	}
}

// processesList formats pids with their command lines, for failures.
func processesList(pids []int) string {
	var b strings.Builder
	for _, p := range pids {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		fmt.Fprintf(&b, "%d %s\n", p, strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return b.String()
}
