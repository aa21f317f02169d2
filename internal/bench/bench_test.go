package bench

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestIdealBoundTakesTheLargestLimit(t *testing.T) {
	t.Parallel()
	s := time.Second
	for _, c := range []struct {
		name        string
		per         []Usage
		concurrency int
		cores       int
		want        time.Duration
	}{
		{"wall-bound", []Usage{{Wall: 4 * s, CPU: s}, {Wall: 4 * s, CPU: s}, {Wall: 4 * s, CPU: s}, {Wall: 4 * s, CPU: s}}, 2, 2, 8 * s},
		{"cpu-bound", []Usage{{Wall: 2 * s, CPU: 2 * s}, {Wall: 2 * s, CPU: 2 * s}, {Wall: 2 * s, CPU: 2 * s}, {Wall: 2 * s, CPU: 2 * s}}, 4, 2, 4 * s},
		{"one long workspace", []Usage{{Wall: 10 * s, CPU: s}, {Wall: s, CPU: s}}, 4, 2, 10 * s},
	} {
		if got := idealBound(c.per, c.concurrency, c.cores).Wall; got != c.want {
			t.Errorf("%s: ideal %s, want %s", c.name, got, c.want)
		}
	}
}

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
	round := func(seq, cold, warm time.Duration, correct bool) *FleetResult {
		return &FleetResult{Ideal: Ideal{Wall: seq / 2}, Runs: []Measured{
			{Name: RunSequential, Usage: Usage{Wall: seq}, Correct: true},
			{Name: RunDriftdCold, Usage: Usage{Wall: cold}, Correct: correct},
			{Name: RunDriftdWarm, Usage: Usage{Wall: warm}, Correct: true},
		}}
	}
	r := &Results{Fleet: []*FleetResult{
		round(100*s, 40*s, 30*s, true),
		round(100*s, 90*s, 30*s, true), // a noisy round
		round(100*s, 45*s, 30*s, true),
	}}
	got := map[string]Target{}
	for _, tg := range r.Targets() {
		got[tg.Name] = tg
	}
	if tg := got["fleet: driftd cold / sequential"]; tg.Value != 0.45 || !tg.Met {
		t.Errorf("cold/sequential %+v, want the median 0.45, met", tg)
	}
	if tg := got["fleet: driftd warm / sequential"]; tg.Value != 0.3 || !tg.Met {
		t.Errorf("warm/sequential %+v, want 0.30, met", tg)
	}
	r.Fleet[0] = round(100*s, 40*s, 30*s, false)
	for _, tg := range r.Targets() {
		if strings.HasPrefix(tg.Name, "fleet: driftd cold") && tg.Met {
			t.Errorf("%s met although one cold run gave a wrong answer", tg.Name)
		}
	}
}
