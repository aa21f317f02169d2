package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
)

// FleetBench compares driftd scanning a fleet with bare terraform.
type FleetBench struct {
	Fleet       *Fleet
	Driftd      string // the driftd binary
	Latency     time.Duration
	Concurrency int
	// Dir is scratch space: configs, copies, caches, plans.
	Dir    string
	Logger *slog.Logger
}

// Measured is one contender's run over the whole fleet.
type Measured struct {
	Name string `json:"name"`
	Usage
	// Correct says the run found drift in exactly the drifted workspaces
	// and failed in none; Problem says what was wrong otherwise.
	Correct bool   `json:"correct"`
	Problem string `json:"problem,omitempty"`
}

// Ideal is the physical limit of this machine for the fleet, from the
// per-workspace costs of bare terraform measured in the same run.
type Ideal struct {
	Wall time.Duration `json:"wall_ns"`
	// ByWall is the sum of per-workspace wall times over the concurrency,
	// ByCPU the sum of per-workspace CPU times over the cores, Longest the
	// slowest single workspace; Wall is the largest of the three.
	ByWall  time.Duration `json:"by_wall_ns"`
	ByCPU   time.Duration `json:"by_cpu_ns"`
	Longest time.Duration `json:"longest_ns"`
	Cores   int           `json:"cores"`
}

// FleetResult is what fleet.json holds.
type FleetResult struct {
	Workspaces   int           `json:"workspaces"`
	Resources    int           `json:"resources_per_workspace"`
	Latency      time.Duration `json:"read_latency_ns"`
	Concurrency  int           `json:"concurrency"`
	Drifted      []string      `json:"drifted"`
	Runs         []Measured    `json:"runs"`
	PerWorkspace []Usage       `json:"per_workspace"`
	// Phases split the sequential loop's cost into terraform's steps.
	Phases []Phase `json:"phases"`
	Ideal  Ideal   `json:"ideal"`
}

// Run returns the run named name, or nil.
func (r *FleetResult) Run(name string) *Measured {
	for i := range r.Runs {
		if r.Runs[i].Name == name {
			return &r.Runs[i]
		}
	}
	return nil
}

// Names of the contenders in FleetResult.Runs.
const (
	RunSequential = "sequential loop"
	RunParallel   = "xargs -P"
	RunDriftdCold = "driftd cold"
	RunDriftdWarm = "driftd warm"
)

// Measure runs every contender once, in order: the sequential loop (whose
// per-workspace figures give the ideal bound), the parallel loop, driftd
// with empty caches, driftd again with the caches the first run left.
func (b *FleetBench) Measure(ctx context.Context) (*FleetResult, error) {
	res := &FleetResult{
		Workspaces:  len(b.Fleet.Workspaces),
		Resources:   b.Fleet.Resources,
		Latency:     b.Latency,
		Concurrency: b.Concurrency,
		Drifted:     b.Fleet.DriftedNames(),
	}
	script, err := WriteBaselineScript(b.Dir)
	if err != nil {
		return nil, err
	}

	b.Logger.Info("fleet: sequential terraform loop", "workspaces", res.Workspaces)
	seq, per, phases, err := b.sequential(ctx, script)
	if err != nil {
		return nil, err
	}
	res.Phases = phases
	res.Runs = append(res.Runs, seq)
	res.PerWorkspace = per
	res.Ideal = idealBound(per, b.Concurrency, runtime.NumCPU())

	b.Logger.Info("fleet: xargs -P terraform", "concurrency", b.Concurrency)
	par, err := b.parallel(ctx, script)
	if err != nil {
		return nil, err
	}
	res.Runs = append(res.Runs, par)

	cfg := filepath.Join(b.Dir, "workspaces.yaml")
	err = WriteConfig(cfg, b.Fleet.Env, names(b.Fleet), func(n string) string {
		return filepath.Join(b.Fleet.Env.Dir, "workspaces", n)
	}, b.Latency, "")
	if err != nil {
		return nil, err
	}
	// Warm reuses both directories of the cold run: whichever of them
	// driftd keeps its reusable state in.
	cache, err := os.MkdirTemp(b.Dir, "driftd-cache-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	work, err := os.MkdirTemp(b.Dir, "driftd-work-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(work)
	for _, name := range []string{RunDriftdCold, RunDriftdWarm} {
		b.Logger.Info("fleet: "+name, "concurrency", b.Concurrency, "cache_dir", cache)
		m, err := b.driftdScan(ctx, name, cfg, cache, work)
		if err != nil {
			return nil, err
		}
		res.Runs = append(res.Runs, m)
	}
	return res, nil
}

func names(f *Fleet) []string {
	out := make([]string, len(f.Workspaces))
	for i, ws := range f.Workspaces {
		out[i] = ws.Name
	}
	return out
}

// baselineEnv is the baseline script's environment, with a fresh scratch
// directory for the copies and one for the plans.
func (b *FleetBench) baselineEnv(tag string) (env []string, plans string, cleanup func(), err error) {
	scratch, err := os.MkdirTemp(b.Dir, tag+"-scratch-")
	if err != nil {
		return nil, "", nil, fmt.Errorf("bench: %w", err)
	}
	plans = filepath.Join(scratch, "plans")
	if err := os.Mkdir(plans, 0o755); err != nil {
		return nil, "", nil, fmt.Errorf("bench: %w", err)
	}
	env = append(b.Fleet.TerraformEnv(b.Latency), "BENCH_SCRATCH="+scratch, "BENCH_PLANS="+plans)
	// The copies hold provider binaries: do not let them pile up.
	return env, plans, func() { _ = os.RemoveAll(scratch) }, nil
}

// sequential is `for ws in ...; do terraform-one.sh $ws; done`, with the
// loop in Go so that each workspace's wall and CPU time is known.
func (b *FleetBench) sequential(ctx context.Context, script string) (Measured, []Usage, []Phase, error) {
	env, plans, cleanup, err := b.baselineEnv("seq")
	if err != nil {
		return Measured{}, nil, nil, err
	}
	defer cleanup()
	m := Measured{Name: RunSequential}
	m.Load1 = Load1()
	var per []Usage
	start := time.Now()
	for _, ws := range b.Fleet.Workspaces {
		cmd := exec.CommandContext(ctx, "bash", script, ws.Dir)
		cmd.Env = env
		u, err := Run(ctx, cmd, false)
		if err != nil {
			return m, nil, nil, err
		}
		if u.ExitCode != 0 {
			return m, nil, nil, fmt.Errorf("bench: bare terraform failed on %s (exit %d):\n%s", ws.Name, u.ExitCode, u.Stderr)
		}
		per = append(per, u)
		m.CPU += u.CPU
		m.MaxRSS = max(m.MaxRSS, u.MaxRSS)
	}
	m.Wall = time.Since(start)
	m.Correct, m.Problem = b.checkPlans(plans)
	phases, err := readPhases(plans)
	return m, per, phases, err
}

// parallel is `xargs -P <concurrency> -n 1 terraform-one.sh < dirs`.
func (b *FleetBench) parallel(ctx context.Context, script string) (Measured, error) {
	env, plans, cleanup, err := b.baselineEnv("xargs")
	if err != nil {
		return Measured{}, err
	}
	defer cleanup()
	var dirs strings.Builder
	for _, ws := range b.Fleet.Workspaces {
		dirs.WriteString(ws.Dir + "\n")
	}
	cmd := exec.CommandContext(ctx, "xargs", "-P", strconv.Itoa(b.Concurrency), "-n", "1", "bash", script)
	cmd.Stdin = strings.NewReader(dirs.String())
	cmd.Env = env
	u, err := Run(ctx, cmd, false)
	if err != nil {
		return Measured{}, err
	}
	if u.ExitCode != 0 {
		return Measured{}, fmt.Errorf("bench: xargs terraform failed (exit %d):\n%s", u.ExitCode, u.Stderr)
	}
	m := Measured{Name: RunParallel + " " + strconv.Itoa(b.Concurrency), Usage: u}
	m.Correct, m.Problem = b.checkPlans(plans)
	return m, nil
}

// checkPlans checks that bare terraform saw drift in exactly the drifted
// workspaces: a fleet that is not what it claims would make every figure
// meaningless.
func (b *FleetBench) checkPlans(dir string) (bool, string) {
	var problems []string
	for _, ws := range b.Fleet.Workspaces {
		data, err := os.ReadFile(filepath.Join(dir, ws.Name+".json"))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		var p struct {
			ResourceDrift []json.RawMessage `json:"resource_drift"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", ws.Name, err))
			continue
		}
		if got, want := len(p.ResourceDrift) > 0, b.Fleet.Drifted[ws.Name]; got != want {
			problems = append(problems, fmt.Sprintf("%s: drift %v, want %v", ws.Name, got, want))
		}
	}
	return len(problems) == 0, strings.Join(problems, "; ")
}

// driftdScan runs `driftd scan` over the fleet with the given cache and
// work directories and checks its JSON output.
func (b *FleetBench) driftdScan(ctx context.Context, name, cfg, cache, work string) (Measured, error) {
	cmd := exec.CommandContext(ctx, b.Driftd, "scan", "--config", cfg,
		"--concurrency", strconv.Itoa(b.Concurrency), "--output", "json", "--no-report",
		"--cache-dir", cache, "--work-dir", work, "--log-format", "json")
	cmd.Env = driftdEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	u, err := Run(ctx, cmd, true)
	if err != nil {
		return Measured{}, err
	}
	m := Measured{Name: name, Usage: u}
	m.Correct, m.Problem = checkReports(stdout.Bytes(), u.ExitCode, b.Fleet.Drifted, names(b.Fleet))
	if !m.Correct {
		m.Problem += "; stderr: " + tail(stderr.Bytes())
	}
	return m, nil
}

// driftdEnv is driftd's own environment: what any CI job has, nothing of
// the bench's.
func driftdEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
}

// checkReports checks driftd's JSON document: a report for every
// workspace, none failed, drift in exactly the drifted ones, and the exit
// code to match.
func checkReports(out []byte, exit int, drifted map[string]bool, all []string) (bool, string) {
	var doc render.Document
	if err := json.Unmarshal(out, &doc); err != nil {
		return false, fmt.Sprintf("driftd output is not a JSON document (exit %d): %v", exit, err)
	}
	var problems []string
	seen := map[string]bool{}
	for _, r := range doc.Reports {
		seen[r.Workspace] = true
		switch {
		case r.Status == drift.StatusError:
			problems = append(problems, fmt.Sprintf("%s: error: %.200s", r.Workspace, r.Error))
		case r.HasDrift() != drifted[r.Workspace]:
			problems = append(problems, fmt.Sprintf("%s: drift %v, want %v", r.Workspace, r.HasDrift(), drifted[r.Workspace]))
		}
	}
	for _, n := range all {
		if !seen[n] {
			problems = append(problems, n+": no report")
		}
	}
	wantExit := 0
	if len(drifted) > 0 {
		wantExit = 2
	}
	if exit != wantExit {
		problems = append(problems, fmt.Sprintf("exit %d, want %d", exit, wantExit))
	}
	slices.Sort(problems)
	return len(problems) == 0, strings.Join(problems, "; ")
}

func idealBound(per []Usage, concurrency, cores int) Ideal {
	id := Ideal{Cores: cores}
	var wall, cpu time.Duration
	for _, u := range per {
		wall += u.Wall
		cpu += u.CPU
		id.Longest = max(id.Longest, u.Wall)
	}
	id.ByWall = wall / time.Duration(max(1, concurrency))
	id.ByCPU = cpu / time.Duration(max(1, cores))
	id.Wall = max(id.ByWall, id.ByCPU, id.Longest)
	return id
}
