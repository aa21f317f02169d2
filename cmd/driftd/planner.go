package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/drift/gitsource"
	"github.com/driftd/driftd/drift/runner"
	"github.com/driftd/driftd/drift/scan"
	"github.com/driftd/driftd/drift/workdir"
)

// scanner builds the runner for scans run concurrency at a time and a
// Scanner planning with it, whose reports are cached in the runner's cache
// dir.
func (a *app) scanner(f scanFlags, cfg *config.Config, log *slog.Logger) (*scan.Scanner, error) {
	r, err := a.newRunner(f, cfg, log)
	if err != nil {
		return nil, err
	}
	return a.scannerFor(r, log)
}

// scannerFor returns a Scanner planning with r.
func (a *app) scannerFor(r *runner.Runner, log *slog.Logger) (*scan.Scanner, error) {
	reports, err := reportCache(r)
	if err != nil {
		return nil, err
	}
	plan := func(ctx context.Context, ws config.Workspace, known string) (*scan.Planned, error) {
		spec := runnerSpec(ws)
		_, spec.ScanID, _ = scan.IDFrom(ctx)
		spec.KnownPlan = known
		res, err := r.Plan(ctx, spec)
		if err != nil {
			// The commit is known when checkout worked and terraform failed.
			var rerr *runner.Error
			if errors.As(err, &rerr) {
				return &scan.Planned{Commit: rerr.Commit}, err
			}
			return nil, err
		}
		return &scan.Planned{Plan: res.Plan, Commit: res.Commit, PlanKey: res.PlanKey, Known: res.PlanKnown, DataReads: res.DataReads}, nil
	}
	return &scan.Scanner{Plan: plan, Logger: log, Now: a.now, Reports: reports}, nil
}

// reportCache is where scans keep their reports, beside the runner's
// caches.
func reportCache(r *runner.Runner) (*scan.ReportCache, error) {
	return scan.NewReportCache(filepath.Join(r.CacheDir(), "reports"))
}

// reportMaxAge is how long serve keeps a stored report no scan has
// replaced, as the runner keeps unused data dirs and init sets.
const reportMaxAge = 30 * 24 * time.Hour

// sweep clears what a killed driftd left behind (scan directories, their
// processes, data dirs unused for a long time) before a command scans,
// releases the state locks its scans of wss provably held (see
// runner.RecoverLocks), and returns the runner it used. Every scanning
// command calls it first: a killed `driftd scan` leaves var and backend
// files that must not wait for a `serve` to start. Only scans whose driftd
// is gone are touched.
func (a *app) sweep(ctx context.Context, f scanFlags, cfg *config.Config, log *slog.Logger, wss []config.Workspace) (*runner.Runner, error) {
	r, err := a.newRunner(f, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := r.Sweep(ctx); err != nil {
		log.Warn("sweeping what a previous driftd left behind", "error", err)
	}
	specs := make([]runner.Spec, len(wss))
	for i, ws := range wss {
		specs[i] = runnerSpec(ws)
	}
	if err := r.RecoverLocks(ctx, specs); err != nil {
		log.Warn("releasing state locks of killed scans", "error", err)
	}
	return r, nil
}

// newRunner builds the runner for the flags and config.
func (a *app) newRunner(f scanFlags, cfg *config.Config, log *slog.Logger) (*runner.Runner, error) {
	var deny []string
	if cfg != nil {
		deny = cfg.SecretEnv()
	}
	return runner.New(runner.Options{
		CacheDir:     f.cacheDir,
		WorkRoot:     f.workDir,
		Environ:      a.environ,
		DenyEnv:      deny,
		AllowInstall: f.install,
		Guard:        a.guard(log),
		Logger:       log,
	})
}

func runnerSpec(ws config.Workspace) runner.Spec {
	var git *gitsource.Source
	if g := ws.Git; g != nil {
		git = &gitsource.Source{
			URL:  g.URL,
			Ref:  g.Ref,
			Path: g.Path,
			Auth: gitsource.Auth{Token: g.Token.Reveal(), SSHKeyFile: g.SSHKeyFile},
		}
	}
	return runner.Spec{
		Spec: workdir.Spec{
			Name:    ws.Name,
			Dir:     ws.Dir,
			Git:     git,
			PassEnv: ws.PassEnv,
			Env:     ws.Env,
			Vars:    ws.Vars,
		},
		Tool:             ws.Tool,
		Binary:           ws.Binary,
		TerraformVersion: ws.TerraformVersion,
		Workspace:        ws.TerraformWorkspace,
		VarFiles:         ws.VarFiles,
		BackendConfig:    ws.BackendConfig,
		Timeout:          ws.Timeout,
		RefreshOnly:      ws.RefreshOnly,
		Lock:             ws.Lock,
		LockTimeout:      ws.LockTimeout,
		Parallelism:      ws.Parallelism,
		PluginTLS:        ws.PluginTLS,
	}
}
