package bench

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testbed"
)

func TestExtrapolate(t *testing.T) {
	t.Parallel()
	s := time.Second
	if got := extrapolate(100, s, 1100, 2*s, 10100); got != 11*s {
		t.Errorf("linear: %s, want 11s", got)
	}
	if got := extrapolate(100, 3*s, 1100, 2*s, 10100); got != 2*s {
		t.Errorf("noisy (smaller plan slower): %s, want the larger plan's 2s", got)
	}
}

func TestRunMeasuresChildrenAndExitCode(t *testing.T) {
	t.Parallel()
	// A shell that burns a little CPU in a child and exits 2, as driftd does
	// on drift: not an error, the code is reported.
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sh -c 'exit 0'; exit 2`)
	u, err := Run(context.Background(), cmd, true)
	if err != nil {
		t.Fatal(err)
	}
	if u.ExitCode != 2 {
		t.Errorf("exit %d, want 2", u.ExitCode)
	}
	if u.Wall <= 0 || u.CPU <= 0 || u.MaxRSS <= 0 || u.SelfRSS <= 0 {
		t.Errorf("missing figures: %+v", u)
	}
}

func TestCheckReports(t *testing.T) {
	t.Parallel()
	doc := `{"schema_version":1,"reports":[
	  {"workspace":"a","status":"drifted","drift":[{"address":"x.y","type":"x","name":"y","action":"update"}],"pending":[]},
	  {"workspace":"b","status":"clean","drift":[],"pending":[]}]}`
	all := []string{"a", "b"}
	if ok, p := checkReports([]byte(doc), 2, map[string]bool{"a": true}, all); !ok {
		t.Errorf("correct answer judged wrong: %s", p)
	}
	for _, c := range []struct {
		name    string
		exit    int
		drifted map[string]bool
		all     []string
		want    string
	}{
		{"missed drift", 2, map[string]bool{"a": true, "b": true}, all, "b: drift false, want true"},
		{"invented drift", 2, map[string]bool{}, all, "a: drift true, want false"},
		{"missing workspace", 2, map[string]bool{"a": true}, []string{"a", "b", "c"}, "c: no report"},
		{"wrong exit", 0, map[string]bool{"a": true}, all, "exit 0, want 2"},
	} {
		ok, p := checkReports([]byte(doc), c.exit, c.drifted, c.all)
		if ok || !strings.Contains(p, c.want) {
			t.Errorf("%s: ok=%v problem %q, want %q", c.name, ok, p, c.want)
		}
	}
}

func TestTargetsJudgeTheMedianRoundAndCorrectness(t *testing.T) {
	t.Parallel()
	s := time.Second
	round := func(seq, floor, cold, warm time.Duration, correct bool) *FleetResult {
		return &FleetResult{Runs: []Measured{
			{Name: RunSequential, Usage: Usage{Wall: seq}, Correct: true},
			{Name: RunDriftdCold, Usage: Usage{Wall: cold}, Correct: correct},
			{Name: RunFloor, Usage: Usage{Wall: floor}, Correct: true},
			{Name: RunDriftdWarm, Usage: Usage{Wall: warm}, Correct: true},
		}}
	}
	r := &Results{Fleet: []*FleetResult{
		round(100*s, 25*s, 40*s, 30*s, true),
		round(100*s, 25*s, 90*s, 30*s, true), // a noisy round
		round(100*s, 25*s, 45*s, 30*s, true),
	}}
	got := map[string]Target{}
	for _, tg := range r.Targets() {
		got[tg.Name] = tg
	}
	if tg := got["fleet: driftd cold / sequential"]; tg.Value != 0.45 || !tg.Met || tg.Rounds != 3 {
		t.Errorf("cold/sequential %+v, want the median 0.45 of 3 rounds, met", tg)
	}
	if tg := got["fleet: driftd warm / sequential"]; tg.Value != 0.3 || !tg.Met {
		t.Errorf("warm/sequential %+v, want 0.30, met", tg)
	}
	if tg := got["fleet: driftd warm / floor"]; tg.Value != 1.2 || tg.Met {
		t.Errorf("warm/floor %+v, want 1.20, missed", tg)
	}
	r.Fleet[0] = round(100*s, 25*s, 40*s, 30*s, false)
	for _, tg := range r.Targets() {
		if strings.HasPrefix(tg.Name, "fleet: driftd cold") && tg.Met {
			t.Errorf("%s met although one cold run gave a wrong answer", tg.Name)
		}
	}
}

// A round whose baseline failed is left out of a ratio; one whose driftd
// run failed misses the target.
func TestTargetsSkipFailedBaselinesAndFailDriftd(t *testing.T) {
	t.Parallel()
	s := time.Second
	ok := &FleetResult{Runs: []Measured{
		{Name: RunFloor, Usage: Usage{Wall: 10 * s, CPU: 20 * s}, Correct: true},
		{Name: RunDriftdWarm, Usage: Usage{Wall: 11 * s, CPU: 22 * s}, Correct: true},
	}}
	floorFailed := &FleetResult{Runs: []Measured{
		{Name: RunFloor, Error: "terraform plan failed on ws003"},
		{Name: RunDriftdWarm, Usage: Usage{Wall: 50 * s}, Correct: true},
	}}
	floorWrong := &FleetResult{Runs: []Measured{
		{Name: RunFloor, Usage: Usage{Wall: s}, Correct: false},
		{Name: RunDriftdWarm, Usage: Usage{Wall: 50 * s}, Correct: true},
	}}
	warmFailed := &FleetResult{Runs: []Measured{
		{Name: RunFloor, Usage: Usage{Wall: 10 * s}, Correct: true},
		{Name: RunDriftdWarm, Error: "bench: start driftd: no such file"},
	}}
	if v, usable, right := ok.Ratio(RunDriftdWarm, RunFloor, true); v != 1.1 || !usable || !right {
		t.Errorf("CPU ratio = %v, %v, %v; want 1.1, usable, right", v, usable, right)
	}
	floorTarget := func(rounds ...*FleetResult) (Target, bool) {
		for _, tg := range (&Results{Fleet: rounds}).Targets() {
			if tg.Name == "fleet: driftd warm / floor" {
				return tg, true
			}
		}
		return Target{}, false
	}
	if tg, _ := floorTarget(ok, floorFailed, floorWrong); tg.Value != 1.1 || tg.Rounds != 1 || !tg.Met {
		t.Errorf("with failed baselines: %+v, want 1.10 of the one usable round, met", tg)
	}
	if tg, found := floorTarget(ok, warmFailed); !found || tg.Met {
		t.Errorf("with a failed driftd run: %+v (found %v), want missed", tg, found)
	}
	if _, found := floorTarget(floorFailed); found {
		t.Error("a target judged on no usable round")
	}
}

// runAll records a contender that fails with its error and runs the
// others; cancellation stops the round.
func TestRunAllKeepsGoingPastAFailure(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	ran := 0
	ok := func() (Measured, error) { ran++; return Measured{Correct: true}, nil }
	res := &FleetResult{Round: 4}
	err := runAll(t.Context(), res, []contender{
		{"a", ok},
		{"b", func() (Measured, error) { ran++; return Measured{}, errors.New("terraform plan failed on ws003") }},
		{"c", ok},
	}, log)
	if err != nil || ran != 3 {
		t.Fatalf("runAll = %v after %d runs, want nil after 3", err, ran)
	}
	if len(res.Runs) != 3 || res.Runs[1].Name != "b" || !strings.Contains(res.Runs[1].Error, "ws003") || res.Runs[2].Name != "c" {
		t.Errorf("runs %+v, want a, b (with its error), c", res.Runs)
	}
	if res.Error != "b failed" {
		t.Errorf("round error %q, want %q", res.Error, "b failed")
	}

	ctx, cancel := context.WithCancel(t.Context())
	ran = 0
	err = runAll(ctx, &FleetResult{}, []contender{
		{"a", func() (Measured, error) { ran++; cancel(); return Measured{}, context.Canceled }},
		{"b", ok},
	}, log)
	if !errors.Is(err, context.Canceled) || ran != 1 {
		t.Errorf("canceled: runAll = %v after %d runs, want context.Canceled after 1", err, ran)
	}
}

// Each round is on disk as soon as it is appended, failed ones with their
// error.
func TestRoundLogKeepsEveryRound(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fleet-rounds.jsonl")
	if err := os.WriteFile(path, []byte("a line of an earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rl, err := CreateRoundLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	for i := range 3 {
		r := &FleetResult{Round: i + 1, Runs: []Measured{{Name: RunFloor, Correct: true}}}
		if i == 2 {
			r.Error = "floor failed"
			r.Runs[0] = Measured{Name: RunFloor, Error: "terraform plan failed on ws003 (exit 1)"}
		}
		if err := rl.Append(r); err != nil {
			t.Fatal(err)
		}
		// Read while the log is still open, as after a crash.
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != i+1 {
			t.Fatalf("after round %d: %d lines, want %d", i+1, len(lines), i+1)
		}
		var got FleetResult
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		if got.Round != i+1 || got.Error != r.Error || got.Runs[0].Error != r.Runs[0].Error {
			t.Errorf("line %d = %+v, want %+v", i+1, got, *r)
		}
	}
}

func TestCheckExitCodes(t *testing.T) {
	t.Parallel()
	b := &FleetBench{Fleet: &Fleet{
		Workspaces: []*testbed.Workspace{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		Drifted:    map[string]bool{"a": true},
	}}
	if ok, p := b.checkExitCodes(map[string]int{"a": 2, "b": 0, "c": 0}); !ok {
		t.Errorf("right answer judged wrong: %s", p)
	}
	ok, p := b.checkExitCodes(map[string]int{"a": 0, "b": 2})
	for _, want := range []string{"a: plan exit 0, want 2", "b: plan exit 2, want 0", "c: no plan"} {
		if ok || !strings.Contains(p, want) {
			t.Errorf("ok=%v problem %q, want it to say %q", ok, p, want)
		}
	}
}

// The peers' script, run against a stand-in terraform: exit code 2 is
// recorded as an answer, 1 fails the script.
func TestPeersScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin, src, scratch, plans := filepath.Join(dir, "bin"), filepath.Join(dir, "ws1"), filepath.Join(dir, "scratch"), filepath.Join(dir, "plans")
	for _, d := range []string{bin, src, scratch, plans} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"main.tf", ".terraform.lock.hcl", "terraform.tfstate"} {
		if err := os.WriteFile(filepath.Join(src, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fake := "#!/bin/sh\necho \"$1\" >> \"$BENCH_PLANS/calls\"\n[ \"$1\" = plan ] && exit \"$PLAN_EXIT\"\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "terraform"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := writeScript(dir, "peers-one.sh", peersScript)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		planExit, wantExit int
		recorded           string
	}{{0, 0, "0"}, {2, 0, "2"}, {1, 1, "1"}} {
		cmd := exec.Command("bash", script, src)
		cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "BENCH_SCRATCH=" + scratch, "BENCH_PLANS=" + plans,
			"PLAN_EXIT=" + strconv.Itoa(c.planExit)}
		u, err := Run(t.Context(), cmd, false)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(plans, "ws1.exit"))
		if u.ExitCode != c.wantExit || strings.TrimSpace(string(got)) != c.recorded {
			t.Errorf("plan exit %d: script exit %d, recorded %q; want %d, %q (stderr %s)", c.planExit, u.ExitCode, got, c.wantExit, c.recorded, u.Stderr)
		}
	}
	calls, _ := os.ReadFile(filepath.Join(plans, "calls"))
	if want := strings.Repeat("init\nplan\n", 3); string(calls) != want {
		t.Errorf("terraform called %q, want %q", calls, want)
	}
}

// The floor and the peers' loops on a real fleet of two workspaces, one
// drifted: right answers and the whole tree's CPU; and a floor whose
// plans fail is an error, not a figure.
func TestFloorAndPeersOnARealFleet(t *testing.T) {
	t.Parallel()
	env := testbed.New(t)
	f, err := BuildFleet(t.Context(), env, FleetOptions{Workspaces: 2, Resources: 2, Drifted: 0.5, Prefix: "ws", ApplyConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := &FleetBench{Fleet: f, Concurrency: 2, Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}
	peers, err := writeScript(b.Dir, "peers-one.sh", peersScript)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		run  func() (Measured, error)
	}{
		{"floor", func() (Measured, error) { return b.floor(t.Context()) }},
		{"peers", func() (Measured, error) {
			return b.xargs(t.Context(), peers, 2, func(plans string) (bool, string, error) {
				codes, err := readExitCodes(plans, names(f))
				ok, p := b.checkExitCodes(codes)
				return ok, p, err
			})
		}},
	} {
		m, err := c.run()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !m.Correct || m.Wall <= 0 || m.CPU <= 0 || m.MaxRSS <= 0 {
			t.Errorf("%s: %+v, want a right answer with wall, CPU and RSS", c.name, m)
		}
	}
	env.Fail = "read"
	if m, err := b.floor(t.Context()); err == nil || !strings.Contains(err.Error(), "terraform plan failed on ws") {
		t.Errorf("floor with failing reads: %+v, %v; want terraform's failure", m, err)
	}
}
