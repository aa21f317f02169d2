// Command bench is driftd's benchmark harness: it builds real testbed
// workspaces, drifts some, and measures driftd against bare Terraform side
// by side. It prints tables and writes the same figures as JSON under -out,
// each fleet round as soon as it finishes. It never fails on a slow figure
// unless -check is given.
//
//	go run ./internal/bench/cmd/bench -workspaces 40 -resources 20 -latency 50ms
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/driftd/driftd/internal/bench"
	"github.com/driftd/driftd/internal/testbed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// parts run by default; "scale" runs only when asked for (-only scale):
// it writes about a gigabyte of history.
var parts = []string{"fleet", "check", "large", "idle", "single"}

var allParts = append(slices.Clone(parts), "scale")

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var (
		workspaces  = fs.Int("workspaces", 40, "fleet: workspaces")
		resources   = fs.Int("resources", 20, "fleet: resources per workspace (check uses the same)")
		latency     = fs.Duration("latency", 50*time.Millisecond, "provider read latency (TESTBED_READ_LATENCY)")
		concurrency = fs.Int("concurrency", 4, "fleet: driftd --concurrency and xargs -P")
		drifted     = fs.Float64("drifted", 0.25, "fleet: fraction of workspaces drifted")
		rounds      = fs.Int("rounds", 1, "fleet: times every contender runs (targets judge the median ratio)")
		out         = fs.String("out", "bench/out", "directory for the JSON results and the scratch work")
		only        = fs.String("only", strings.Join(parts, ","), "comma-separated parts to run: "+strings.Join(allParts, ", "))
		repeats     = fs.Int("repeats", 5, "check and large: runs per figure (the median is reported)")
		realPlan    = fs.Int("plan-resources", 2000, "large: resources in the real workspace whose plan is scaled")
		bigPlan     = fs.Int("large-resources", 20000, "large: resources in the synthesised plan")
		idleN       = fs.Int("idle-workspaces", 500, "idle: workspaces configured")
		idleWindow  = fs.Duration("idle-window", 20*time.Second, "idle: sampling window")
		idleSettle  = fs.Duration("idle-settle", 5*time.Second, "idle: wait after readiness before sampling")
		singleN     = fs.Int("single-resources", 5000, "single: resources in the one workspace scanned with --concurrency 1 and -concurrency")
		singleLat   = fs.Duration("single-latency", 0, "single: provider read latency (0: the plan is CPU-bound, where core sizing shows)")
		scaleN      = fs.Int("scale-workspaces", 5000, "scale: workspaces")
		scaleHist   = fs.Duration("scale-history", 90*24*time.Hour, "scale: history written, one scan per -scale-interval")
		scaleEvery  = fs.Duration("scale-interval", time.Hour, "scale: time between two scans of a workspace")
		scaleLoad   = fs.Duration("scale-load", 10*time.Second, "scale: load on each route")
		scaleConns  = fs.Int("scale-connections", 4, "scale: connections at once")
		scaleSLO    = fs.Bool("scale-slo", true, "scale: give every workspace an SLO (the status page shows the fleet's)")
		loadGen     = fs.String("load-generator", "auto", "scale: wrk, go, or auto (wrk when on PATH)")
		check       = fs.Bool("check", false, "exit 1 when a target is missed (for people, not CI)")
		keep        = fs.Bool("keep", false, "keep the scratch directory (workspaces, caches) under -out")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 || *repeats < 1 {
		return errors.New("-rounds and -repeats must be at least 1")
	}
	want := map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allParts, p) {
			return fmt.Errorf("-only: unknown part %q (want %s)", p, strings.Join(allParts, ", "))
		}
		want[p] = true
	}
	var wrk string
	switch *loadGen {
	case "auto":
		wrk, _ = exec.LookPath("wrk")
	case "wrk":
		var err error
		if wrk, err = exec.LookPath("wrk"); err != nil {
			return fmt.Errorf("-load-generator wrk: %w", err)
		}
	case "go":
	default:
		return fmt.Errorf("-load-generator: %q is not wrk, go or auto", *loadGen)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	outDir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	work := filepath.Join(outDir, "work")
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	mirror, err := testbed.SharedMirror(ctx)
	if err != nil {
		return err
	}
	driftd := filepath.Join(work, "driftd")
	log.Info("building driftd", "bin", driftd)
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", driftd, "./cmd/driftd").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/driftd: %w\n%s", err, b)
	}
	newEnv := func(name string) (*testbed.Env, string, error) {
		dir := filepath.Join(work, name)
		env, err := testbed.NewEnvWithMirror(dir, mirror)
		return env, dir, err
	}

	var res bench.Results
	write := func(name string, v any) error { return writeJSON(filepath.Join(outDir, name), v) }
	if want["fleet"] {
		env, dir, err := newEnv("fleet")
		if err != nil {
			return err
		}
		log.Info("fleet: applying workspaces", "workspaces", *workspaces, "resources", *resources)
		t0 := time.Now()
		f, err := bench.BuildFleet(ctx, env, bench.FleetOptions{
			Workspaces: *workspaces, Resources: *resources, Drifted: *drifted, Prefix: "ws", ApplyConcurrency: 2,
		})
		if err != nil {
			return err
		}
		log.Info("fleet: applied", "took", time.Since(t0).Round(time.Second), "drifted", len(f.Drifted))
		b := &bench.FleetBench{Fleet: f, Driftd: driftd, Latency: *latency, Concurrency: *concurrency, Dir: dir, Logger: log}
		if err := fleetRounds(ctx, b, *rounds, outDir, &res, log); err != nil {
			return err
		}
	}
	if want["check"] {
		env, dir, err := newEnv("check")
		if err != nil {
			return err
		}
		f, err := bench.BuildFleet(ctx, env, bench.FleetOptions{Workspaces: 1, Resources: *resources, Drifted: 1, Prefix: "check"})
		if err != nil {
			return err
		}
		b := &bench.CheckBench{Env: env, Workspace: f.Workspaces[0], Drifted: true, Driftd: driftd, Latency: *latency, Repeats: *repeats, Dir: dir, Logger: log}
		if res.Check, err = b.Measure(ctx); err != nil {
			return err
		}
		res.Check.Resources = *resources
		if err := write("check.json", res.Check); err != nil {
			return err
		}
	}
	if want["large"] {
		env, _, err := newEnv("large")
		if err != nil {
			return err
		}
		b := &bench.LargeBench{Env: env, Real: *realPlan, Target: *bigPlan, Repeats: min(*repeats, 3), Logger: log}
		if res.Large, err = b.Measure(ctx); err != nil {
			return err
		}
		if err := write("largeplan.json", res.Large); err != nil {
			return err
		}
	}
	if want["idle"] {
		env, dir, err := newEnv("idle")
		if err != nil {
			return err
		}
		b := &bench.IdleBench{Env: env, Driftd: driftd, Workspaces: *idleN, Settle: *idleSettle, Window: *idleWindow, Dir: dir, Logger: log}
		if res.Idle, err = b.Measure(ctx); err != nil {
			return err
		}
		if err := write("idle.json", res.Idle); err != nil {
			return err
		}
	}
	if want["single"] {
		env, dir, err := newEnv("single")
		if err != nil {
			return err
		}
		b := &bench.SingleBench{Env: env, Driftd: driftd, Resources: *singleN, Concurrency: *concurrency, Latency: *singleLat,
			Repeats: *repeats, Dir: dir, Logger: log}
		if res.Single, err = b.Measure(ctx); err != nil {
			return err
		}
		if err := write("single.json", res.Single); err != nil {
			return err
		}
	}
	if want["scale"] {
		dir := filepath.Join(work, "scale")
		b := &bench.ScaleBench{
			Driftd: driftd, Workspaces: *scaleN, History: *scaleHist, Interval: *scaleEvery,
			Load: *scaleLoad, Connections: *scaleConns, SLO: *scaleSLO, Wrk: wrk, Dir: dir, Logger: log,
		}
		if res.Scale, err = b.Measure(ctx); err != nil {
			return err
		}
		if err := write("scale.json", res.Scale); err != nil {
			return err
		}
	}
	res.Print(os.Stdout)
	if err := write("results.json", struct {
		bench.Results
		Targets []bench.Target `json:"targets"`
	}{res, res.Targets()}); err != nil {
		return err
	}
	fmt.Printf("\nJSON written to %s\n", outDir)
	if *check {
		var missed []string
		for _, t := range res.Targets() {
			if !t.Met {
				missed = append(missed, t.Name)
			}
		}
		if len(missed) > 0 {
			return errors.New("targets missed: " + strings.Join(missed, "; "))
		}
	}
	return nil
}

// fleetRounds runs the fleet's rounds, printing each and appending it to
// fleet-rounds.jsonl as it finishes; fleet.json gets every round that
// finished, even when a later one could not.
func fleetRounds(ctx context.Context, b *bench.FleetBench, rounds int, outDir string, res *bench.Results, log *slog.Logger) error {
	rl, err := bench.CreateRoundLog(filepath.Join(outDir, "fleet-rounds.jsonl"))
	if err != nil {
		return err
	}
	defer rl.Close()
	var errs []error
	for i := range rounds {
		log.Info("fleet: round", "round", i+1, "of", rounds)
		r, err := b.Measure(ctx, i+1)
		if err != nil {
			r.Error = strings.TrimPrefix(r.Error+"; "+err.Error(), "; ")
			errs = append(errs, fmt.Errorf("fleet round %d: %w", i+1, err))
		}
		res.Fleet = append(res.Fleet, r)
		r.Print(os.Stdout, rounds)
		if err := rl.Append(r); err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			break
		}
	}
	if err := writeJSON(filepath.Join(outDir, "fleet.json"), res.Fleet); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
