package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/driftd/driftd/internal/testbed"
)

// CheckBench compares `driftd check DIR` with bare terraform init, plan and
// show on the same directory.
type CheckBench struct {
	Env       *testbed.Env
	Workspace *testbed.Workspace
	// Drifted says whether the workspace was drifted (driftd must exit 2).
	Drifted bool
	Driftd  string
	Latency time.Duration
	Repeats int
	Dir     string
	Logger  *slog.Logger
}

// Sample is the median wall and CPU time of repeated runs, with every run
// kept.
type Sample struct {
	Median    time.Duration   `json:"median_ns"`
	Runs      []time.Duration `json:"runs_ns"`
	CPUMedian time.Duration   `json:"cpu_median_ns"`
	CPURuns   []time.Duration `json:"cpu_runs_ns"`
	Load1     []float64       `json:"load1"`
	MaxRSS    int64           `json:"max_rss_bytes"`
}

func (s *Sample) add(u Usage) {
	s.Runs = append(s.Runs, u.Wall)
	s.CPURuns = append(s.CPURuns, u.CPU)
	s.Load1 = append(s.Load1, u.Load1)
	s.MaxRSS = max(s.MaxRSS, u.MaxRSS)
	s.Median, s.CPUMedian = median(s.Runs), median(s.CPURuns)
}

// CheckResult is what check.json holds. Ratios are driftd over bare
// terraform, of the medians, of wall and of CPU time.
type CheckResult struct {
	Resources    int     `json:"resources"`
	Repeats      int     `json:"repeats"`
	DriftdCold   Sample  `json:"driftd_cold"`
	BareCold     Sample  `json:"terraform_cold"`
	DriftdWarm   Sample  `json:"driftd_warm"`
	BareWarm     Sample  `json:"terraform_warm"`
	RatioCold    float64 `json:"ratio_cold"`
	RatioWarm    float64 `json:"ratio_warm"`
	RatioColdCPU float64 `json:"ratio_cold_cpu"`
	RatioWarmCPU float64 `json:"ratio_warm_cpu"`
}

// Measure interleaves the four kinds of run, Repeats times each, so that
// a burst of load on the shared machine hits all of them alike. Cold:
// driftd with empty cache and work directories, terraform in a fresh copy
// without .terraform. Warm: driftd with the directories of its previous
// runs, terraform in a directory it has already initialised.
func (b *CheckBench) Measure(ctx context.Context) (*CheckResult, error) {
	script, err := writeScript(b.Dir, "terraform-one.sh", baselineScript)
	if err != nil {
		return nil, err
	}
	scratch := filepath.Join(b.Dir, "scratch")
	plans := filepath.Join(b.Dir, "plans")
	warmDir := filepath.Join(b.Dir, "warm", b.Workspace.Name)
	warmCache := filepath.Join(b.Dir, "driftd-cache-warm")
	warmWork := filepath.Join(b.Dir, "driftd-work-warm")
	for _, d := range []string{scratch, plans, warmDir, warmCache, warmWork} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	for _, f := range []string{"main.tf", ".terraform.lock.hcl", "terraform.tfstate"} {
		data, err := os.ReadFile(filepath.Join(b.Workspace.Dir, f))
		if err == nil {
			err = os.WriteFile(filepath.Join(warmDir, f), data, 0o644)
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	env := append(terraformEnv(b.Env, b.Latency), "BENCH_SCRATCH="+scratch, "BENCH_PLANS="+plans)
	bare := func(dir, mode string) (Usage, error) {
		cmd := exec.CommandContext(ctx, "bash", script, dir, mode)
		cmd.Env = env
		u, err := Run(ctx, cmd, false)
		if err == nil && u.ExitCode != 0 {
			err = fmt.Errorf("bench: bare terraform failed (exit %d):\n%s", u.ExitCode, u.Stderr)
		}
		return u, err
	}
	check := func(cache, work string) (Usage, error) {
		cmd := exec.CommandContext(ctx, b.Driftd, "check", b.Workspace.Dir, "--pass-env", "TESTBED_*",
			"--output", "json", "--cache-dir", cache, "--work-dir", work, "--log-format", "json")
		cmd.Env = append(driftdEnv(), "TF_CLI_CONFIG_FILE="+b.Env.Mirror.CLIConfigFile,
			"TESTBED_ROOT="+b.Env.Root, "TESTBED_READ_LATENCY="+b.Latency.String())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		u, err := Run(ctx, cmd, false)
		if err != nil {
			return u, err
		}
		drifted := map[string]bool{}
		name := filepath.Base(b.Workspace.Dir)
		if b.Drifted {
			drifted[name] = true
		}
		if ok, problem := checkReports(stdout.Bytes(), u.ExitCode, drifted, []string{name}); !ok {
			return u, fmt.Errorf("bench: driftd check gave a wrong answer: %s\n%s", problem, tail(stderr.Bytes()))
		}
		return u, nil
	}
	// One unmeasured run of each warm kind fills the caches.
	if _, err := check(warmCache, warmWork); err != nil {
		return nil, err
	}
	if _, err := bare(warmDir, "inplace"); err != nil {
		return nil, err
	}
	res := &CheckResult{Repeats: b.Repeats}
	for i := range b.Repeats {
		b.Logger.Info("check overhead", "round", i+1, "of", b.Repeats)
		cold, err := os.MkdirTemp(b.Dir, "driftd-cold-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		coldCache, coldWork := filepath.Join(cold, "cache"), filepath.Join(cold, "work")
		if err := errors.Join(os.Mkdir(coldCache, 0o755), os.Mkdir(coldWork, 0o755)); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		steps := []struct {
			s   *Sample
			run func() (Usage, error)
		}{
			{&res.DriftdCold, func() (Usage, error) { return check(coldCache, coldWork) }},
			{&res.BareCold, func() (Usage, error) { return bare(b.Workspace.Dir, "fresh") }},
			{&res.DriftdWarm, func() (Usage, error) { return check(warmCache, warmWork) }},
			{&res.BareWarm, func() (Usage, error) { return bare(warmDir, "inplace") }},
		}
		for _, st := range steps {
			u, err := st.run()
			if err != nil {
				return nil, err
			}
			st.s.add(u)
		}
		_ = os.RemoveAll(cold)
		_ = os.RemoveAll(scratch)
		_ = os.MkdirAll(scratch, 0o755)
	}
	res.RatioCold = ratio(res.DriftdCold.Median, res.BareCold.Median)
	res.RatioWarm = ratio(res.DriftdWarm.Median, res.BareWarm.Median)
	res.RatioColdCPU = ratio(res.DriftdCold.CPUMedian, res.BareCold.CPUMedian)
	res.RatioWarmCPU = ratio(res.DriftdWarm.CPUMedian, res.BareWarm.CPUMedian)
	return res, nil
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}
