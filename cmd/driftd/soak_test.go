package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/internal/testbed/pgtest"
	"github.com/driftd/driftd/reporters/github/githubtest"
)

// soakFault is one fault a soak round injects into a running daemon.
type soakFault struct {
	name    string // what was done, for the reliability table
	outcome string
	inject  func(s *soak)
}

// soak is a daemon on a seconds-long schedule over a fleet, restarted as
// faults demand.
type soak struct {
	t      *testing.T
	f      *fleet
	gh     *githubtest.Server
	pg     *pgtest.Server
	cfg    string
	good   []byte // the config as written
	env    []string
	args   []string
	d      *daemonProc
	logs   strings.Builder   // of the daemons before d
	states map[string][]byte // state files after apply
	pgSt   string
	// want is this round's right status of each workspace; before, the
	// last round's, which a scan that read its objects before this round's
	// change still rightly gives.
	want, before map[string]string
}

// TestSoak runs rounds of drift coming and going while each round injects
// one fault into `driftd serve`: the daemon killed (SIGKILL) or stopped
// (SIGTERM) mid-scan and restarted, terraform or a provider killed mid-plan,
// PostgreSQL (one workspace's state backend) restarted, GitHub failing or
// rate limiting, a broken config reloaded. After every round, every
// workspace's latest report is right, each drifted workspace has exactly one
// open issue and none was ever duplicated, and no state was written; at the
// end the daemon stops cleanly with no process or scan directory left.
//
// DRIFTD_SOAK_ROUNDS sets the number of rounds (`make soak`, cycling through
// the faults). By default two rounds run, the faults no other test injects
// (terraform, then a provider, killed mid-plan), and none under -short.
func TestSoak(t *testing.T) {
	t.Parallel()
	faults := soakFaults()
	rounds := 2
	if v := os.Getenv("DRIFTD_SOAK_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DRIFTD_SOAK_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	} else if testing.Short() {
		t.Skip("soak: skipped under -short")
	}
	s := newSoak(t)
	flipEpisodes := 0
	for round := range rounds {
		fault := faults[round%len(faults)]
		flip := round%2 == 0 // flip drifts in even rounds
		failing := round%3 == 1
		if flip {
			flipEpisodes++
			must(t, s.f.env.SetAttribute("flip-web", "tags.env", "staging"))
		} else {
			must(t, s.f.env.SetAttribute("flip-web", "tags.env", "prod"))
		}
		s.setFailing(failing)
		changed := time.Now()
		t.Logf("round %d: %s (flip drifted: %v, flaky failing: %v)", round, fault.name, flip, failing)
		s.before, s.want = s.want, map[string]string{
			"flip": map[bool]string{true: "drifted", false: "clean"}[flip], "steady": "drifted", "calm": "clean",
			"flaky": map[bool]string{true: "error", false: "clean"}[failing], "pg": "drifted",
		}
		fault.inject(s)
		s.settle(round, changed, s.want, flipEpisodes)
		if t.Failed() {
			t.Fatalf("round %d (%s) broke an invariant", round, fault.name)
		}
		reliability.Record(t, "daemon soak", fault.name, fault.outcome)
	}
	reliability.Record(t, "daemon soak", fmt.Sprintf("soak of %d rounds: drift appearing and resolving, a provider failing on and off", rounds),
		"every round: reports right, one open issue per drifted workspace, none duplicated, no state written")
	s.stop()
}

func soakFaults() []soakFault {
	const right = "reports right after the next scans; one open issue per drifted workspace, none duplicated; no state written"
	return []soakFault{
		{"terraform killed (SIGKILL) mid-plan", "that scan an error report; " + right, func(s *soak) {
			s.killMidScan("terraform")
		}},
		{"provider plugin killed (SIGKILL) mid-plan", "that scan an error report; " + right, func(s *soak) {
			s.killMidScan("terraform-provi") // /proc/PID/comm holds 15 bytes
		}},
		{"driftd serve killed (SIGKILL) mid-scan, restarted on the same store", "history kept; " + right, func(s *soak) {
			s.waitInFlight()
			must(s.t, s.d.cmd.Process.Signal(syscall.SIGKILL))
			<-s.d.done
			s.start()
		}},
		{"driftd serve stopped (SIGTERM) mid-scan, restarted", "exit 0; " + right, func(s *soak) {
			s.waitInFlight()
			must(s.t, s.d.cmd.Process.Signal(syscall.SIGTERM))
			s.waitExit()
			s.start()
		}},
		{"PostgreSQL (a workspace's state backend) restarted mid-scan", right, func(s *soak) {
			s.waitInFlight()
			must(s.t, s.pg.Restart(s.t.Context()))
		}},
		{"GitHub API answering 502 to the next 6 requests", "retried; " + right, func(s *soak) {
			s.gh.Fail("", githubtest.ServerError, 6)
		}},
		{"GitHub secondary rate limit on the next 2 requests", "waited and retried; " + right, func(s *soak) {
			s.gh.Fail("", githubtest.SecondaryRateLimit, 2)
		}},
		{"config replaced by an invalid one and reloaded (SIGHUP), then restored", "rejected, the old config kept running; " + right, func(s *soak) {
			must(s.t, os.WriteFile(s.cfg, append(slices.Clone(s.good), "workspaces: [\n"...), 0o644))
			must(s.t, s.d.cmd.Process.Signal(syscall.SIGHUP))
			waitFor(s.t, time.Minute, "the broken config rejected", func() bool {
				return strings.Contains(s.d.log(), "config reload rejected")
			})
			must(s.t, os.WriteFile(s.cfg, s.good, 0o644))
		}},
	}
}

func newSoak(t *testing.T) *soak {
	s := &soak{t: t, pg: pgtest.New(t), gh: githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")}
	s.f = newFleet(t)
	for _, name := range []string{"flip", "steady", "calm", "flaky"} {
		s.f.add(t, name, fmt.Sprintf(webTF, name), true)
	}
	applyPG(t, s.f.env, s.pg, "pg")
	s.f.names = append(s.f.names, "pg")
	// Every read takes a second, so that faults land in scans in flight.
	for _, name := range s.f.names {
		s.f.extra[name] = "      TESTBED_READ_LATENCY: 1s\n"
	}
	s.f.extra["pg"] += "    backend_config:\n      conn_str: " + s.pg.ConnString() + "\n"
	must(t, s.f.env.SetAttribute("steady-web", "content", "edited"))
	must(t, s.f.env.SetAttribute("pg-web", "content", "edited"))

	s.states = map[string][]byte{}
	for _, name := range s.f.names[:4] {
		b, err := os.ReadFile(filepath.Join(s.f.env.Dir, "workspaces", name, "terraform.tfstate"))
		must(t, err)
		s.states[name] = b
	}
	s.pgSt = pgState(t, s.pg)

	s.cfg = serveConfig(t, s.f, s.gh, "@every 2s", "")
	var err error
	s.good, err = os.ReadFile(s.cfg)
	must(t, err)
	s.env = append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+s.gh.Token, "DRIFTD_TEST_TRIGGER="+testTrigger)
	s.args = []string{"--config", s.cfg, "--data-dir", t.TempDir(), "--work-dir", t.TempDir(), "--log-format", "json"}
	s.start()
	return s
}

func (s *soak) start() {
	if s.d != nil {
		s.logs.WriteString(s.d.log())
	}
	s.d = startDaemon(s.t, s.env, append(slices.Clone(s.args), "--listen", freeAddr(s.t))...)
}

// setFailing turns the flaky workspace's provider failure on or off.
func (s *soak) setFailing(on bool) {
	tf := fmt.Sprintf(webTF, "flaky")
	if on {
		tf = "provider \"testbed\" {\n  fail = \"read\"\n}\n" + tf
	}
	ws := s.f.env.OpenWorkspace("flaky", filepath.Join(s.f.env.Dir, "workspaces", "flaky"))
	must(s.t, ws.SetMainTF(tf))
}

func (s *soak) waitInFlight() {
	waitFor(s.t, 2*time.Minute, "a scan in flight", func() bool {
		return s.d.metric(s.t, "driftd_scans_in_flight", "") >= 1
	})
}

func (s *soak) waitExit() {
	select {
	case <-s.d.done:
	case <-time.After(2 * time.Minute):
		s.t.Fatal("the daemon did not stop within 2 minutes of SIGTERM")
	}
	if code := s.d.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// killMidScan kills one process of the fleet's scans whose name starts
// with comm (waiting for one to run), then checks that the scan it belonged
// to ended in an error report. Terraform starts providers also just to read
// their schemas and stops them when done: a provider killed just then had
// finished its work, and its scan rightly succeeds. Such a scan must give
// the right verdict, and another process is killed, up to a few times.
func (s *soak) killMidScan(comm string) {
	const attempts = 4
	for range attempts {
		scanID := s.killOne(comm)
		ws, status := s.finished(scanID)
		if status == "error" {
			return
		}
		if status != s.want[ws] && status != s.before[ws] {
			s.t.Errorf("scan %s of %s, whose %s was killed, finished %q: neither an error report nor a right verdict (%q, or %q before this round's change)", scanID, ws, comm, status, s.want[ws], s.before[ws])
			return
		}
		s.t.Logf("scan %s of %s finished %q, right: the killed %s had done its work; killing another", scanID, ws, status, comm)
	}
	s.t.Errorf("none of %d scans whose %s was killed ended in an error report", attempts, comm)
}

// killOne kills a running process of the fleet's scans whose name starts
// with comm, waiting for one, and returns its scan's ID.
func (s *soak) killOne(comm string) string {
	var scanID string
	waitFor(s.t, 2*time.Minute, comm+" running", func() bool {
		for _, pid := range processesWith("TESTBED_ROOT=" + s.f.env.Root) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			_, id, found := bytes.Cut(env, []byte("DRIFTD_SCAN_ID="))
			id, _, _ = bytes.Cut(id, []byte{0})
			if found && strings.HasPrefix(strings.TrimSpace(string(b)), comm) && syscall.Kill(pid, syscall.SIGKILL) == nil {
				scanID = string(id)
				return true
			}
		}
		return false
	})
	return scanID
}

// finished waits for the daemon's log to say that the scan ended, and
// returns its workspace and status.
func (s *soak) finished(scanID string) (workspace, status string) {
	waitFor(s.t, 2*time.Minute, "scan "+scanID+" to finish", func() bool {
		for line := range strings.Lines(s.d.log()) {
			var rec struct {
				Msg       string `json:"msg"`
				ScanID    string `json:"scan_id"`
				Workspace string `json:"workspace"`
				Status    string `json:"status"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "scan finished" && rec.ScanID == scanID {
				workspace, status = rec.Workspace, rec.Status
				return true
			}
		}
		return false
	})
	return workspace, status
}

// wsState is what the API says of one workspace.
type wsState struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	IssueURL string `json:"issue_url"`
	LastScan *struct {
		StartedAt time.Time `json:"started_at"`
	} `json:"last_scan"`
}

// settle waits until every workspace's last scan started after changed and
// says what want says, and GitHub holds exactly one open issue per drifted
// workspace, then checks what must hold at every moment.
func (s *soak) settle(round int, changed time.Time, want map[string]string, flipEpisodes int) {
	t := s.t
	var last string
	ok := func() bool {
		var doc struct{ Workspaces []wsState }
		if err := json.Unmarshal([]byte(s.d.get(t, "/api/v1/workspaces")), &doc); err != nil {
			last = err.Error()
			return false
		}
		open := map[string]bool{}
		for _, is := range s.gh.OpenIssues() {
			open[fmt.Sprintf("%d", is.Number)] = true
		}
		var problems []string
		drifted := 0
		for _, ws := range doc.Workspaces {
			switch {
			case ws.LastScan == nil || !ws.LastScan.StartedAt.After(changed):
				problems = append(problems, ws.Name+": no scan since the round's change")
			case ws.Status != want[ws.Name]:
				problems = append(problems, fmt.Sprintf("%s: %s, want %s", ws.Name, ws.Status, want[ws.Name]))
			}
			if want[ws.Name] == "drifted" {
				drifted++
				if i := strings.LastIndex(ws.IssueURL, "/"); i < 0 || !open[ws.IssueURL[i+1:]] {
					problems = append(problems, fmt.Sprintf("%s: issue_url %q is not an open issue", ws.Name, ws.IssueURL))
				}
			}
		}
		if n := len(s.gh.OpenIssues()); n != drifted {
			problems = append(problems, fmt.Sprintf("%d open issues, want %d", n, drifted))
		}
		last = strings.Join(problems, "; ")
		return len(problems) == 0
	}
	for deadline := time.Now().Add(5 * time.Minute); !ok(); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("round %d did not settle within 5 minutes: %s", round, last)
		}
	}

	// Never a duplicate: steady and pg drift from the start, so each has had
	// one issue, whatever was killed; flip one per drift episode at most.
	ever := map[string]int{}
	for _, is := range s.gh.Issues() {
		if i := strings.LastIndex(is.Title, " workspace "); i >= 0 {
			ever[is.Title[i+len(" workspace "):]]++
		}
	}
	if ever["steady"] != 1 || ever["pg"] != 1 || ever["flip"] > flipEpisodes || ever["calm"]+ever["flaky"] != 0 {
		t.Errorf("issues ever created per workspace: %v; want steady 1, pg 1, flip at most %d, none for calm or flaky", ever, flipEpisodes)
	}
	// Read-only: no scan wrote any state.
	for name, want := range s.states {
		got, err := os.ReadFile(filepath.Join(s.f.env.Dir, "workspaces", name, "terraform.tfstate"))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the state file changed (%v)", name, err)
		}
	}
	if got := pgState(t, s.pg); got != s.pgSt {
		t.Errorf("pg: the state in PostgreSQL changed:\nbefore %s\nafter  %s", s.pgSt, got)
	}
}

// stop ends the soak: SIGTERM, exit 0, nothing left behind.
func (s *soak) stop() {
	t := s.t
	must(t, s.d.cmd.Process.Signal(syscall.SIGTERM))
	s.waitExit()
	if left := processesWith("TESTBED_ROOT=" + s.f.env.Root); len(left) > 0 {
		t.Errorf("processes outlived the daemon: %v", left)
	}
	workDir := s.args[slices.Index(s.args, "--work-dir")+1]
	entries, _ := os.ReadDir(workDir)
	for _, e := range entries {
		t.Errorf("scan directory left behind: %s", e.Name())
	}
	for _, secret := range []string{s.gh.Token, testTrigger, s.pg.Password} {
		if strings.Contains(s.logs.String()+s.d.log(), secret) {
			t.Errorf("the daemon's log holds a secret (%.6s…)", secret)
		}
	}
}
