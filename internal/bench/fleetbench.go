package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/drift/runner"
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
	// Error says the run could not finish (terraform failed on a
	// workspace): its figures are not comparable with the others'.
	Error string `json:"error,omitempty"`
}

// usable says the run finished with the right answer, so that others can
// be compared with it.
func (m *Measured) usable() bool { return m.Error == "" && m.Correct }

// FleetResult is one round: a line of fleet-rounds.jsonl, an entry of
// fleet.json.
type FleetResult struct {
	Round       int           `json:"round"`
	Workspaces  int           `json:"workspaces"`
	Resources   int           `json:"resources_per_workspace"`
	Latency     time.Duration `json:"read_latency_ns"`
	Concurrency int           `json:"concurrency"`
	Cores       int           `json:"cores"`
	Drifted     []string      `json:"drifted"`
	Runs        []Measured    `json:"runs"`
	// Phases split the sequential loop's cost into terraform's steps.
	Phases []Phase `json:"phases"`
	// Error lists the runs that could not finish; the round's other runs
	// are kept.
	Error string `json:"error,omitempty"`
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

// Ratio is run num's wall (or CPU) time over run den's. usable says both
// finished and den gave the right answer, so that the ratio means
// something; right says num gave the right answer (a run that failed
// did not).
func (r *FleetResult) Ratio(num, den string, cpu bool) (v float64, usable, right bool) {
	n, d := r.Run(num), r.Run(den)
	if n == nil || d == nil || !d.usable() {
		return 0, false, true
	}
	if n.Error != "" {
		return 0, false, false
	}
	if cpu {
		return ratio(n.CPU, d.CPU), true, n.Correct
	}
	return ratio(n.Wall, d.Wall), true, n.Correct
}

// Names of the contenders in FleetResult.Runs; the parallel ones end in
// " <concurrency>" (ParallelName).
const (
	RunSequential    = "sequential loop"
	RunParallel      = "xargs -P"
	RunPeers         = "peers' loop"
	RunPeersParallel = "peers' xargs -P"
	RunFloor         = "floor"
	RunDriftdCold    = "driftd cold"
	RunDriftdWarm    = "driftd warm"
)

// ParallelName is the name of a parallel contender run n at a time.
func ParallelName(run string, n int) string { return run + " " + strconv.Itoa(n) }

// Measure runs every contender once, in this order: the CI loop
// (terraform-one.sh) one workspace at a time and Concurrency at a time,
// the peers' loop (peers-one.sh) likewise, driftd with empty caches, the
// floor, and driftd again with the caches of its first run, next to the
// floor it is compared with. A contender that fails is recorded with its
// error and the round goes on; the returned error is for a round that
// could not be set up or was canceled, and the result then holds what
// finished.
func (b *FleetBench) Measure(ctx context.Context, round int) (*FleetResult, error) {
	res := &FleetResult{
		Round:       round,
		Workspaces:  len(b.Fleet.Workspaces),
		Resources:   b.Fleet.Resources,
		Latency:     b.Latency,
		Concurrency: b.Concurrency,
		Cores:       runtime.GOMAXPROCS(0),
		Drifted:     b.Fleet.DriftedNames(),
	}
	ciPath, err := writeScript(b.Dir, "terraform-one.sh", baselineScript)
	if err != nil {
		return res, err
	}
	peersPath, err := writeScript(b.Dir, "peers-one.sh", peersScript)
	if err != nil {
		return res, err
	}
	cfg := filepath.Join(b.Dir, "workspaces.yaml")
	err = WriteConfig(cfg, b.Fleet.Env, names(b.Fleet), func(n string) string {
		return filepath.Join(b.Fleet.Env.Dir, "workspaces", n)
	}, b.Latency, "", nil)
	if err != nil {
		return res, err
	}
	// Warm reuses both directories of the cold run: whichever of them
	// driftd keeps its reusable state in.
	cache, err := os.MkdirTemp(b.Dir, "driftd-cache-")
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	work, err := os.MkdirTemp(b.Dir, "driftd-work-")
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(work)

	n := b.Concurrency
	ci := func(procs int) func() (Measured, error) {
		return func() (Measured, error) {
			return b.xargs(ctx, ciPath, procs, func(plans string) (bool, string, error) {
				ok, problem := b.checkPlans(plans)
				var err error
				if procs == 1 {
					res.Phases, err = readPhases(plans)
				}
				return ok, problem, err
			})
		}
	}
	peers := func(procs int) func() (Measured, error) {
		return func() (Measured, error) {
			return b.xargs(ctx, peersPath, procs, func(plans string) (bool, string, error) {
				codes, err := readExitCodes(plans, names(b.Fleet))
				ok, problem := b.checkExitCodes(codes)
				return ok, problem, err
			})
		}
	}
	driftd := func(name string) func() (Measured, error) {
		return func() (Measured, error) { return b.driftdScan(ctx, name, cfg, cache, work) }
	}
	return res, runAll(ctx, res, []contender{
		{RunSequential, ci(1)},
		{ParallelName(RunParallel, n), ci(n)},
		{RunPeers, peers(1)},
		{ParallelName(RunPeersParallel, n), peers(n)},
		{RunDriftdCold, driftd(RunDriftdCold)},
		{RunFloor, func() (Measured, error) { return b.floor(ctx) }},
		{RunDriftdWarm, driftd(RunDriftdWarm)},
	}, b.Logger)
}

// contender is one run of a round.
type contender struct {
	name string
	run  func() (Measured, error)
}

// runAll runs the contenders in order into res. One that fails is
// recorded with its error, in res.Error too, and the others still run;
// only cancellation stops the round.
func runAll(ctx context.Context, res *FleetResult, cs []contender, log *slog.Logger) error {
	for _, c := range cs {
		log.Info("fleet: "+c.name, "round", res.Round, "concurrency", res.Concurrency)
		m, err := c.run()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			log.Warn("fleet: run failed; the round goes on", "run", c.name, "err", err)
			m = Measured{Error: err.Error()}
			res.Error = strings.TrimPrefix(res.Error+"; "+c.name+" failed", "; ")
		}
		m.Name = c.name
		res.Runs = append(res.Runs, m)
	}
	return nil
}

func names(f *Fleet) []string {
	out := make([]string, len(f.Workspaces))
	for i, ws := range f.Workspaces {
		out[i] = ws.Name
	}
	return out
}

// xargs is `xargs -P procs -n 1 script < dirs`: the whole fleet through
// one of the per-workspace scripts, in one process tree, so that wait4's
// rusage covers every terraform and provider. judge reads what the
// script left in $BENCH_PLANS and says whether it is the right answer.
func (b *FleetBench) xargs(ctx context.Context, script string, procs int, judge func(plans string) (bool, string, error)) (Measured, error) {
	scratch, err := os.MkdirTemp(b.Dir, filepath.Base(script)+"-")
	if err != nil {
		return Measured{}, fmt.Errorf("bench: %w", err)
	}
	// The copies hold provider binaries: do not let them pile up.
	defer os.RemoveAll(scratch)
	plans := filepath.Join(scratch, "plans")
	if err := os.Mkdir(plans, 0o755); err != nil {
		return Measured{}, fmt.Errorf("bench: %w", err)
	}
	var dirs strings.Builder
	for _, ws := range b.Fleet.Workspaces {
		dirs.WriteString(ws.Dir + "\n")
	}
	cmd := exec.CommandContext(ctx, "xargs", "-P", strconv.Itoa(procs), "-n", "1", "bash", script)
	cmd.Stdin = strings.NewReader(dirs.String())
	cmd.Env = append(b.Fleet.TerraformEnv(b.Latency), "BENCH_SCRATCH="+scratch, "BENCH_PLANS="+plans)
	u, err := Run(ctx, cmd, false)
	if err != nil {
		return Measured{}, err
	}
	if u.ExitCode != 0 {
		return Measured{}, fmt.Errorf("bench: %s failed (exit %d):\n%s", filepath.Base(script), u.ExitCode, u.Stderr)
	}
	m := Measured{Usage: u}
	m.Correct, m.Problem, err = judge(plans)
	return m, err
}

// floor is the least a scan of the fleet can cost: `terraform plan` of
// every workspace, Concurrency at a time, in its own directory, already
// initialised when the fleet was applied, with the environment driftd
// gives terraform (runner.QuietEnv, plugins without TLS over sockets in a
// private directory, GOMAXPROCS shared out by the plans running as
// runner.ProcsFor does). A warm driftd scan runs exactly these plans and
// nothing else; whatever it costs above the floor is driftd's own.
func (b *FleetBench) floor(ctx context.Context) (Measured, error) {
	// Short, for go-plugin's Unix sockets: the path of one is limited.
	sockets, err := os.MkdirTemp("", "driftd-bench-floor-")
	if err != nil {
		return Measured{}, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(sockets)
	env := b.Fleet.TerraformEnv(b.Latency)
	for k, v := range runner.QuietEnv() {
		env = append(env, k+"="+v)
	}
	env = append(env, "TF_DISABLE_PLUGIN_TLS=1")
	cores := runtime.GOMAXPROCS(0)

	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		running int
		m       = Measured{Usage: Usage{Load1: Load1()}}
		codes   = map[string]int{}
		errs    []error
		sem     = make(chan struct{}, max(1, b.Concurrency))
	)
	start := time.Now()
	for _, ws := range b.Fleet.Workspaces {
		sem <- struct{}{}
		mu.Lock()
		running++
		procs := runner.ProcsFor(cores, running)
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				running--
				mu.Unlock()
				<-sem
			}()
			tmp := filepath.Join(sockets, ws.Name)
			if err := os.Mkdir(tmp, 0o700); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("bench: %w", err))
				mu.Unlock()
				return
			}
			cmd := exec.CommandContext(ctx, b.Fleet.Env.Terraform, "plan", "-input=false", "-no-color", "-lock=false",
				"-detailed-exitcode", "-out="+filepath.Join(tmp, "tfplan"))
			cmd.Dir = ws.Dir
			cmd.Env = append(slices.Clone(env), "TMPDIR="+tmp, "GOMAXPROCS="+strconv.Itoa(procs))
			u, err := Run(ctx, cmd, false)
			mu.Lock()
			defer mu.Unlock()
			m.CPU += u.CPU
			m.MaxRSS = max(m.MaxRSS, u.MaxRSS)
			switch {
			case err != nil:
				errs = append(errs, err)
			case u.ExitCode != 0 && u.ExitCode != 2:
				errs = append(errs, fmt.Errorf("bench: terraform plan failed on %s (exit %d):\n%s", ws.Name, u.ExitCode, u.Stderr))
			default:
				codes[ws.Name] = u.ExitCode
			}
		})
	}
	wg.Wait()
	m.Wall = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Measured{}, err
	}
	m.Correct, m.Problem = b.checkExitCodes(codes)
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

// checkExitCodes checks `terraform plan -detailed-exitcode`'s codes: 2
// (changes) in exactly the drifted workspaces. In this fleet a drifted
// object's configuration is unchanged, so the plan puts it back and
// drift shows as a change; in general 2 is not a drift signal.
func (b *FleetBench) checkExitCodes(codes map[string]int) (bool, string) {
	var problems []string
	for _, ws := range b.Fleet.Workspaces {
		want := 0
		if b.Fleet.Drifted[ws.Name] {
			want = 2
		}
		switch code, ok := codes[ws.Name]; {
		case !ok:
			problems = append(problems, ws.Name+": no plan")
		case code != want:
			problems = append(problems, fmt.Sprintf("%s: plan exit %d, want %d", ws.Name, code, want))
		}
	}
	return len(problems) == 0, strings.Join(problems, "; ")
}

// readExitCodes reads the <name>.exit files the peers' script leaves.
func readExitCodes(dir string, names []string) (map[string]int, error) {
	codes := map[string]int{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n+".exit"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		c, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("bench: %s.exit: %w", n, err)
		}
		codes[n] = c
	}
	return codes, nil
}

// driftdScan runs `driftd scan` over the fleet with the given cache and
// work directories and checks its JSON output.
func (b *FleetBench) driftdScan(ctx context.Context, name, cfg, cache, work string) (Measured, error) {
	return scanConfig(ctx, b.Driftd, cfg, b.Concurrency, cache, work, b.Fleet.Drifted, names(b.Fleet))
}

// scanConfig runs `driftd scan --config cfg --concurrency n` and judges
// its JSON output.
func scanConfig(ctx context.Context, driftd, cfg string, n int, cache, work string, drifted map[string]bool, all []string) (Measured, error) {
	cmd := exec.CommandContext(ctx, driftd, "scan", "--config", cfg,
		"--concurrency", strconv.Itoa(n), "--output", "json", "--no-report",
		"--cache-dir", cache, "--work-dir", work, "--log-format", "json")
	cmd.Env = driftdEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	u, err := Run(ctx, cmd, true)
	if err != nil {
		return Measured{}, err
	}
	m := Measured{Usage: u}
	m.Correct, m.Problem = checkReports(stdout.Bytes(), u.ExitCode, drifted, all)
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
