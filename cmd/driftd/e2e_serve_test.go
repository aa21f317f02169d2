package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/reporters/github/githubtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// driftdBinary builds driftd once per test process: the daemon tests need a
// real process to signal and kill.
func driftdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "driftd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "driftd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// daemonProc is a running `driftd serve`.
type daemonProc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
}

func startDaemon(t *testing.T, env []string, args ...string) *daemonProc {
	t.Helper()
	addr := ""
	for i, a := range args {
		if a == "--listen" {
			addr = args[i+1]
		}
	}
	return startDaemonAt(t, addr, env, args...)
}

// startDaemonAt starts a daemon that listens on addr, as its config says.
func startDaemonAt(t *testing.T, addr string, env []string, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{done: make(chan struct{}), addr: addr}
	d.cmd = exec.Command(driftdBinary(t), append([]string{"serve"}, args...)...)
	d.cmd.Env = env
	stderr, err := d.cmd.StderrPipe()
	must(t, err)
	must(t, d.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.logs.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
		d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log())
		}
	})
	waitReady(t, d.addr)
	return d
}

// waitReady waits until the daemon at addr answers /readyz with 200.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	waitFor(t, 60*time.Second, "daemon ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (d *daemonProc) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// reload sends SIGHUP and waits until the daemon logs that the reload
// ended, applied or rejected.
func (d *daemonProc) reload(t *testing.T, what string) {
	t.Helper()
	ended := func() int { return strings.Count(d.log(), `"msg":"config reload`) }
	n := ended()
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 30*time.Second, what, func() bool { return ended() > n })
}

func (d *daemonProc) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + d.addr + path)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return string(b)
}

// metric reads one sample from /metrics, -1 when absent.
func (d *daemonProc) metric(t *testing.T, name, labels string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+labels) + ` (\S+)$`)
	m := re.FindStringSubmatch(d.get(t, "/metrics"))
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	must(t, err)
	return v
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testTrigger is the daemon tests' trigger token (at least 32 characters).
const testTrigger = "let-me-in-0123456789abcdef0123456789"

func serveConfig(t *testing.T, f *fleet, gh *githubtest.Server, schedule string, extra string) string {
	t.Helper()
	cfg := f.writeConfig(t)
	data, err := os.ReadFile(cfg)
	must(t, err)
	text := strings.Replace(string(data), "defaults:\n", "defaults:\n  schedule: \""+schedule+"\"\n", 1)
	text += fmt.Sprintf(`server:
  trigger_token_env: DRIFTD_TEST_TRIGGER
  shutdown_timeout: 30s
  min_interval: 1s
%sreporters:
  github:
    repository: acme/infra
    base_url: %s
    token_env: DRIFTD_TEST_GH_TOKEN
`, extra, gh.BaseURL())
	must(t, os.WriteFile(cfg, []byte(text), 0o644))
	return cfg
}

// TestServeEndToEnd: the daemon on a seconds-scale schedule finds drift,
// the fake GitHub gets one issue, the drift is undone out of band and the
// next scan closes it; /metrics (the SLO series and reporter counters from
// start-up included), the SLO API and the status page follow; the trigger
// API checks its token; SIGTERM stops it cleanly with no process left
// behind.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon end-to-end")
	}
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	f := newFleet(t)
	f.add(t, "net", fmt.Sprintf(webTF, "net"), true)
	f.add(t, "calm", fmt.Sprintf(webTF, "calm"), true)
	// 30 minutes of scans every 2 s fit the store's default 1000.
	f.extra["net"] = "    owners: [netops]\n    slo:\n      drift_free: 99%\n      window: 30m\n      workspace_metrics: true\n"
	f.extra["calm"] = "    slo:\n      drift_free: 99.5%\n      window: 30m\n"
	cfg := serveConfig(t, f, gh, "@every 2s", "")
	addr := freeAddr(t)
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token, "DRIFTD_TEST_TRIGGER="+testTrigger)
	d := startDaemon(t, env, "--config", cfg, "--data-dir", t.TempDir(), "--listen", addr, "--log-format", "json")
	// Before any delivery, the reporter's counters are there at 0 or more
	// (a scan may have delivered already): rate() and alerts work from
	// start-up.
	for _, m := range []string{"driftd_reporter_deliveries_total", "driftd_reporter_failures_total"} {
		if v := d.metric(t, m, `{reporter="github"}`); v < 0 {
			t.Errorf("%s{reporter=\"github\"} absent at start-up", m)
		}
	}

	must(t, f.env.SetAttribute("net-web", "tags.env", "staging"))
	waitFor(t, 90*time.Second, "an issue for net", func() bool { return len(gh.OpenIssues()) == 1 })
	waitFor(t, 30*time.Second, "drift gauge", func() bool {
		return d.metric(t, "driftd_workspace_drifted_resources", `{workspace="net"}`) == 1
	})
	waitFor(t, 30*time.Second, "calm's gauge at 0", func() bool {
		return d.metric(t, "driftd_workspace_drifted_resources", `{workspace="calm"}`) == 0
	})
	if page := d.get(t, "/"); !strings.Contains(page, "net") || !strings.Contains(page, "calm") || !strings.Contains(page, "Drift SLO") {
		t.Errorf("status page lacks the workspaces or the SLO:\n%s", page)
	}
	waitFor(t, 30*time.Second, "SLO series of the drift", func() bool {
		return d.metric(t, "driftd_slo_fleet_drifting_workspaces", "") == 1 &&
			d.metric(t, "driftd_slo_owner_drifting_workspaces", `{owner="netops"}`) == 1 &&
			d.metric(t, "driftd_slo_workspace_drifting_workspaces", `{workspace="net"}`) == 1
	})
	if v := d.metric(t, "driftd_slo_fleet_workspaces", ""); v != 2 {
		t.Errorf("driftd_slo_fleet_workspaces = %v, want 2", v)
	}
	if v := d.metric(t, "driftd_slo_workspace_drifting_workspaces", `{workspace="calm"}`); v != -1 {
		t.Errorf("calm exports its own SLO series (%v) without workspace_metrics", v)
	}
	if api := d.get(t, "/api/v1/slo"); !strings.Contains(api, `"owner": "netops"`) || !strings.Contains(api, `"drifting": 1`) {
		t.Errorf("/api/v1/slo:\n%s", api)
	}

	trigger := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/workspaces/calm/scan", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := trigger("wrong"); code != http.StatusUnauthorized {
		t.Errorf("trigger with a wrong token: %d, want 401", code)
	}
	if code := trigger(""); code != http.StatusUnauthorized {
		t.Errorf("trigger without a token: %d, want 401", code)
	}
	if code := trigger(testTrigger); code != http.StatusAccepted {
		t.Errorf("trigger with the token: %d, want 202", code)
	}
	// A DNS rebinding page addresses driftd by the attacker's name.
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/workspaces", nil)
	req.Host = "rebind.attacker.example"
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("API under a foreign Host: %d, X-Frame-Options %q; want 421, DENY", resp.StatusCode, resp.Header.Get("X-Frame-Options"))
	}

	number := gh.OpenIssues()[0].Number
	must(t, f.env.SetAttribute("net-web", "tags.env", "prod"))
	waitFor(t, 90*time.Second, "the issue closed", func() bool {
		is, _ := gh.Issue(number)
		return is.State == "closed"
	})
	waitFor(t, 30*time.Second, "drift gauge back to 0", func() bool {
		return d.metric(t, "driftd_workspace_drifted_resources", `{workspace="net"}`) == 0
	})
	if n := len(gh.Issues()); n != 1 {
		t.Errorf("%d issues in all, want 1", n)
	}
	waitFor(t, 30*time.Second, "the drift resolved in the SLO", func() bool {
		return d.metric(t, "driftd_slo_fleet_drifting_workspaces", "") == 0 &&
			d.metric(t, "driftd_slo_workspace_time_to_resolve_seconds", `{stat="max",workspace="net"}`) > 0
	})
	if v := d.metric(t, "driftd_reporter_deliveries_total", `{reporter="github"}`); v < 2 {
		t.Errorf("driftd_reporter_deliveries_total{reporter=\"github\"} = %v after opening and closing an issue", v)
	}
	if v := d.metric(t, "driftd_scans_total", `{status="drifted",workspace="net"}`); v < 1 {
		t.Errorf("scans_total for net drifted = %v", v)
	}

	must(t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.done:
	case <-time.After(3 * time.Minute): // a safety net: the daemon's own limits are shorter
		t.Fatal("daemon did not stop within 3 minutes of SIGTERM")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	for _, secret := range []string{gh.Token, testTrigger} {
		if strings.Contains(d.log(), secret) {
			t.Errorf("log holds secret %q", secret)
		}
	}
	if left := processesWith("TESTBED_ROOT=" + f.env.Root); len(left) > 0 {
		t.Errorf("processes outlived the daemon: %v", left)
	}
}

// TestServeSurvivesKill9: kill -9 during a scan, then restart: the store
// opens with its history, no duplicate issue or comment appears, and no
// terraform process or scan directory is left behind.
func TestServeSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon end-to-end")
	}
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	f := newFleet(t)
	ws := f.add(t, "slow", fmt.Sprintf(webTF, "slow"), true)
	// Slow reads keep a scan in flight long enough to kill the daemon in it.
	must(t, ws.SetMainTF("provider \"testbed\" {\n  read_latency = \"2s\"\n}\n"+fmt.Sprintf(webTF, "slow")))
	must(t, f.env.SetAttribute("slow-web", "tags.env", "staging"))
	cfg := serveConfig(t, f, gh, "@every 1s", "")
	dataDir, workDir := t.TempDir(), t.TempDir()
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token, "DRIFTD_TEST_TRIGGER="+testTrigger)
	args := func() []string {
		return []string{"--config", cfg, "--data-dir", dataDir, "--work-dir", workDir, "--listen", freeAddr(t), "--log-format", "json"}
	}

	d := startDaemon(t, env, args()...)
	waitFor(t, 120*time.Second, "the issue", func() bool { return len(gh.OpenIssues()) == 1 })
	waitFor(t, 60*time.Second, "a scan in flight after the first", func() bool {
		return d.metric(t, "driftd_scans_total", `{status="drifted",workspace="slow"}`) >= 1 &&
			d.metric(t, "driftd_scans_in_flight", "") == 1
	})
	before := d.get(t, "/api/v1/workspaces/slow/scans")
	mutations := gh.Mutations()
	must(t, d.cmd.Process.Signal(syscall.SIGKILL))
	<-d.done

	d2 := startDaemon(t, env, args()...)
	if got := d2.get(t, "/api/v1/workspaces/slow/scans"); !strings.Contains(got, scanIDPrefix(before)) {
		t.Errorf("history lost across kill -9:\nbefore: %s\nafter: %s", before, got)
	}
	// Before any scan of the new process has reached GitHub (reads take 2 s
	// each), the status API already links the issue, from the store.
	open := gh.OpenIssues()[0]
	got := d2.get(t, "/api/v1/workspaces/slow")
	for _, want := range []string{fmt.Sprintf(`"issue_url": "https://github.example.com/acme/infra/issues/%d"`, open.Number), fmt.Sprintf(`"issue_title": %q`, open.Title)} {
		if !strings.Contains(got, want) {
			t.Errorf("after the restart the workspace lacks %s:\n%s", want, got)
		}
	}
	waitFor(t, 60*time.Second, "a scan after the restart", func() bool {
		return d2.metric(t, "driftd_scans_total", `{status="drifted",workspace="slow"}`) >= 1
	})
	if n := len(gh.Issues()); n != 1 {
		t.Errorf("%d issues after restart, want 1", n)
	}
	if gh.Mutations() != mutations {
		t.Errorf("GitHub changed after restart (%d -> %d mutations): the same drift was reported twice", mutations, gh.Mutations())
	}
	must(t, d2.cmd.Process.Signal(syscall.SIGTERM))
	<-d2.done
	if left := processesWith("TESTBED_ROOT=" + f.env.Root); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
	entries, _ := os.ReadDir(workDir)
	for _, e := range entries {
		t.Errorf("scan directory left behind: %s", e.Name())
	}
	reliability.Record(t, "killed driftd", "driftd serve killed (SIGKILL) mid-scan, restarted on the same store",
		"history kept; the issue linked from the store at once; no duplicate issue or comment; no process or scan directory left")
}

// scanIDPrefix returns the first `"id":N` of a scans listing.
func scanIDPrefix(listing string) string {
	m := regexp.MustCompile(`"id":\s*\d+`).FindString(listing)
	if m == "" {
		return listing
	}
	return m
}

// TestServeReload: SIGHUP applies a good config and rejects a bad one,
// keeping the old one running.
func TestServeReload(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon end-to-end")
	}
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	f := newFleet(t)
	f.add(t, "one", fmt.Sprintf(webTF, "one"), false)
	cfg := serveConfig(t, f, gh, "@daily", "")
	good, err := os.ReadFile(cfg)
	must(t, err)
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token, "DRIFTD_TEST_TRIGGER="+testTrigger)
	d := startDaemon(t, env, "--config", cfg, "--data-dir", t.TempDir(), "--listen", freeAddr(t), "--log-format", "json")
	hasWorkspace := func(name string) bool { return strings.Contains(d.get(t, "/api/v1/workspaces"), `"`+name+`"`) }
	if !hasWorkspace("one") {
		t.Fatalf("workspace one not listed: %s", d.get(t, "/api/v1/workspaces"))
	}

	must(t, os.WriteFile(cfg, append(good, []byte("bogus_key: 1\n")...), 0o644))
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 10*time.Second, "the bad config rejected", func() bool {
		return strings.Contains(d.log(), "config reload rejected") && strings.Contains(d.log(), "bogus_key")
	})
	if !hasWorkspace("one") || d.get(t, "/readyz") == "" {
		t.Error("the old config stopped running after a rejected reload")
	}
	reliability.Record(t, "config", "config replaced by an invalid one (an unknown key) and reloaded (SIGHUP)", "rejected, naming the key; the old config kept running")

	// A small file that aliases expand to millions of values is refused
	// within its budget; the daemon lives on with the old config.
	var bomb strings.Builder
	dir := filepath.Join(f.env.Dir, "workspaces", "one")
	fmt.Fprintf(&bomb, "version: 1\nworkspaces:\n  - name: b0\n    dir: %s\n    env: &big\n", dir)
	for i := range 2000 {
		fmt.Fprintf(&bomb, "      K%d: v\n", i)
	}
	for i := 1; i < 2000; i++ {
		fmt.Fprintf(&bomb, "  - {name: b%d, dir: %s, env: *big}\n", i, dir)
	}
	must(t, os.WriteFile(cfg, []byte(bomb.String()), 0o644))
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 30*time.Second, "the alias bomb rejected", func() bool {
		return strings.Contains(d.log(), "document too complex")
	})
	if !hasWorkspace("one") || hasWorkspace("b1") || d.get(t, "/readyz") == "" {
		t.Error("the old config stopped running after the alias bomb")
	}
	reliability.Record(t, "config", "config replaced by an alias bomb (2,000 workspaces aliasing one 2,000-key map) and reloaded (SIGHUP)",
		"rejected as too complex; the old config kept running")

	f.add(t, "two", fmt.Sprintf(webTF, "two"), false)
	text := strings.Replace(string(good), "workspaces:\n", fmt.Sprintf("workspaces:\n  - name: two\n    dir: %s\n", filepath.Join(f.env.Dir, "workspaces", "two")), 1)
	must(t, os.WriteFile(cfg, []byte(text), 0o644))
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 10*time.Second, "workspace two after reload", func() bool { return hasWorkspace("two") })
	if !hasWorkspace("one") {
		t.Error("workspace one lost in reload")
	}
}
