//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/drift/workdir"
	"github.com/driftd/driftd/internal/reliability"
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
	t.Parallel()
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
	reliability.Record(t, "killed driftd", "scan directory of a killed driftd (a var file with a secret, a process still running) when driftd check starts",
		"removed and its process killed before the check runs")
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

// TestKillNineLeavesNothing: while a `driftd scan` plans (slow provider
// reads), another driftd command sweeps the same work root and leaves that
// live scan's directory alone; then the scanning driftd is killed with -9:
// terraform and its provider die with it, and the next command removes its
// directory.
func TestKillNineLeavesNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a real driftd")
	}
	f := newFleet(t)
	slow := f.add(t, "slow", fmt.Sprintf(webTF, "slow"), true)
	must(t, slow.SetMainTF("provider \"testbed\" {\n  read_latency = \"600s\"\n}\n"+fmt.Sprintf(webTF, "slow")))
	f.add(t, "quick", fmt.Sprintf(webTF, "quick"), true)
	cfg := f.writeConfig(t)
	env := cliEnv(t)
	work := filepath.Join(t.TempDir(), "work")

	cmd := exec.Command(driftdBinary(t), "scan", "--config", cfg, "--work-dir", work, "slow")
	cmd.Env = env
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })

	scanID := waitForProvider(t, work, cmd.Process.Pid, "")

	if res := runCLI(t, env, "scan", "--config", cfg, "--work-dir", work, "quick"); res.code != exitClean {
		t.Fatalf("concurrent scan: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	select {
	case <-done:
		t.Fatal("the slow scan ended early")
	default:
	}
	if _, err := os.Stat(filepath.Join(work, scanID, "src", "main.tf")); err != nil {
		t.Fatalf("a live scan lost its directory to another driftd's sweep: %v", err)
	}
	reliability.Record(t, "killed driftd", "another driftd scan sweeping the work root while a scan plans", "the live scan's directory left alone; it plans on")

	must(t, cmd.Process.Signal(syscall.SIGKILL))
	<-done
	var left []int
	deadline := time.Now().Add(60 * time.Second) // safety net only
	for left = processesWith(workdir.ScanIDEnv + "=" + scanID); len(left) > 0 && time.Now().Before(deadline); left = processesWith(workdir.ScanIDEnv + "=" + scanID) {
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Fatalf("processes outlived the killed driftd:\n%s", processesList(left))
	}

	if res := runCLI(t, env, "scan", "--config", cfg, "--work-dir", work, "quick"); res.code != exitClean {
		t.Fatalf("scan after the kill: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, scanID)); !os.IsNotExist(err) {
		t.Errorf("the killed scan's directory was not swept: %v", err)
	}
	reliability.Record(t, "killed driftd", "driftd scan killed (SIGKILL) while its provider plans",
		"terraform and the provider exit with it (guard process, parent-death signal); the next scan removes its directory")
}

// waitForProvider waits until the scan that driftd process pid runs in the
// work root has a provider running and, unless file is "", that file in
// its directory, and returns the scan's id.
func waitForProvider(t *testing.T, work string, pid int, file string) string {
	t.Helper()
	var scanID string
	waitFor(t, 120*time.Second, "the scan's provider", func() bool {
		scanID = scanOf(t, work, pid)
		if scanID == "" {
			return false
		}
		if _, err := os.Stat(filepath.Join(work, scanID, file)); file != "" && err != nil {
			return false
		}
		for _, p := range processesWith(workdir.ScanIDEnv + "=" + scanID) {
			if c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); strings.Contains(string(c), "terraform-provider-testbed") {
				return true
			}
		}
		return false
	})
	return scanID
}

// scanOf returns the id of the scan directory in root that pid owns, or "".
func scanOf(t *testing.T, root string, pid int) string {
	t.Helper()
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(root, e.Name(), "driftd.owner"))
		var o struct{ PID int }
		if err == nil && json.Unmarshal(b, &o) == nil && o.PID == pid {
			return e.Name()
		}
	}
	return ""
}

// TestBackendCredentialsNotAtRest: a workspace whose backend_config holds
// a database password (Terraform's pg backend, a real PostgreSQL) is
// scanned twice with one cache: the second scan reuses the first init, and
// after each no file under the cache dir holds the password.
func TestBackendCredentialsNotAtRest(t *testing.T) {
	t.Parallel()
	p := newPGFleet(t, "pgcred")
	must(t, p.env.SetAttribute("pgcred-web", "tags.env", "staging"))
	cfg := p.writeConfig(t, p.entry("pgcred", nil, ""))
	env := cliEnv(t)
	cache := strings.TrimPrefix(env[2], "DRIFTD_CACHE_DIR=")
	searched := reliability.Times(t, "work dir", "scan with a PostgreSQL password in backend_config (pg backend), the next reusing its init",
		"the password in no file under the cache dir after either scan")
	for i, wantReused := range []bool{false, true} {
		searched.Add(1)
		res := runCLI(t, env, "scan", "--config", cfg, "--output", "json", "--log-level", "debug", "--log-format", "json")
		wantDrift(t, fmt.Sprintf("scan %d", i), byWorkspace(decodeDoc(t, res.stdout))["pgcred"])
		if reused := strings.Contains(res.stderr, `"init_reused":true`); reused != wantReused {
			t.Errorf("scan %d: init reused %v, want %v", i, reused, wantReused)
		}
		filepath.WalkDir(cache, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			if b, _ := os.ReadFile(path); strings.Contains(string(b), p.srv.Password) {
				t.Errorf("scan %d: %s holds the database password", i, path)
			}
			return nil
		})
	}
}

// TestKilledLockedScanRecovered: a `driftd scan` planning with lock: true
// (state in a real PostgreSQL) is killed with -9. Its lock record is in its
// directory while it plans; the next scan's sweep takes it over and probes
// the lock, which the pg backend released with terraform's session, and the
// scan, with lock: true, finds the drift.
func TestKilledLockedScanRecovered(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a real driftd")
	}
	p := newPGFleet(t, "pgkill")
	must(t, p.env.SetAttribute("pgkill-web", "tags.env", "staging"))
	slow := p.writeConfig(t, p.entry("pgkill", map[string]string{"TESTBED_READ_LATENCY": "600s"}, "    lock: true\n"))
	plain := p.writeConfig(t, p.entry("pgkill", nil, "    lock: true\n"))
	env := cliEnv(t)
	work := filepath.Join(t.TempDir(), "work")

	cmd := exec.Command(driftdBinary(t), "scan", "--config", slow, "--work-dir", work)
	cmd.Env = env
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	waitForProvider(t, work, cmd.Process.Pid, "driftd.lock.json")
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	<-done

	res := runCLI(t, env, "scan", "--config", plain, "--work-dir", work, "--output", "json", "--log-format", "json", "--log-level", "info")
	wantDrift(t, "the scan after the kill", byWorkspace(decodeDoc(t, res.stdout))["pgkill"])
	for _, want := range []string{"a killed scan was planning with the state lock", "the state lock a killed scan may have held is free"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, res.stderr)
		}
	}
	if strings.Contains(res.stdout+res.stderr, p.srv.Password) {
		t.Error("the database password leaked")
	}
	p.checkState(t, "a killed locked scan and its recovery")
	reliability.Record(t, "killed driftd", "driftd scan killed (SIGKILL) mid-plan with lock: true, state in PostgreSQL",
		"the next scan takes its lock record over, finds the lock free, plans with lock: true and finds the drift; state bytes unchanged; password in no output")
}
