package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/drift/schedule"
	"github.com/driftd/driftd/drift/slo"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/daemon"
	"github.com/driftd/driftd/internal/server"
	"github.com/driftd/driftd/reporters"
)

// serve runs the daemon until SIGTERM/SIGINT: the first signal stops
// scheduling and lets running scans finish (up to server.shutdown_timeout),
// a second cancels them at once. SIGHUP reloads the config (see reloader);
// a bad config is rejected and the running one kept.
func (a *app) serve(ctx context.Context, args []string) (int, error) {
	fs := a.newFlagSet("serve", "serve [flags]")
	configPath := fs.String("config", a.defaultConfigPath(), "config file ($DRIFTD_CONFIG)")
	listen := fs.String("listen", "", "HTTP listen address (default: server.listen from the config)")
	dataDir := fs.String("data-dir", "", "store and git mirrors (default: server.data_dir, else $XDG_STATE_HOME/driftd)")
	shardFlag := fs.String("shard", "", "serve "+shardUsage+"; in a StatefulSet, the pod's ordinal with $DRIFTD_SHARDS=N")
	var hostsFlag allowedHostsFlag
	fs.Var(&hostsFlag, "allowed-hosts", "host names, comma-separated, requests may address besides server.allowed_hosts (repeatable)")
	var f scanFlags
	f.register(a, fs)
	f.log.register(fs, "info")
	if _, err := parseInterleaved(fs, args); err != nil {
		return exitError, err
	}
	log, err := f.log.logger(a)
	if err != nil {
		return exitError, err
	}
	sh, err := a.resolveShard(*shardFlag, true)
	if err != nil {
		return exitError, err
	}
	part := shardRun{Resolved: sh}
	log = part.log(log)
	cfg, err := a.loadConfig(ctx, *configPath, log)
	if err != nil {
		return exitError, err
	}
	dir := firstNonEmpty(*dataDir, cfg.Server.DataDir, a.defaultDataDir())
	if dir == "" {
		return exitError, errors.New("no data directory: set server.data_dir, --data-dir or HOME")
	}
	st, err := store.Open(filepath.Join(dir, "driftd.db"), store.Options{
		MaxAge: cfg.Server.Retention.MaxAge, MaxScans: cfg.Server.Retention.MaxScans,
	})
	if err != nil {
		return exitError, err
	}
	defer st.Close()
	forgetRemoved(ctx, st, cfg, log)

	sweeper, err := a.sweep(ctx, f, cfg, log, cfg.Workspaces)
	if err != nil {
		return exitError, err
	}
	if reports, err := reportCache(sweeper); err != nil {
		log.Warn("report cache", "error", err)
	} else if n, err := reports.Prune(time.Now().Add(-reportMaxAge)); err != nil {
		log.Warn("pruning old reports failed", "error", err)
	} else if n > 0 {
		log.Info("removed reports no scan replaced for a long time", "count", n, "max_age", reportMaxAge.String())
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := server.NewMetrics(reg)
	if err != nil {
		return exitError, err
	}

	// Scans run under scanCtx, not ctx: the first signal only stops
	// scheduling.
	scanCtx, abortScans := context.WithCancel(context.WithoutCancel(ctx))
	defer abortScans()

	// The daemon sees only its shard's workspaces: it schedules, shows and
	// triggers no other.
	build := func(cfg *config.Config) (daemon.Setup, error) {
		cfg = part.ownConfig(cfg)
		scanner, err := a.scanner(f, cfg, log)
		if err != nil {
			return daemon.Setup{}, err
		}
		d, err := newDelivery(cfg, log, st, part.String(), reporters.WithObserver(func(r reporters.Result) {
			metrics.Delivered(r.Reporter, r.Err)
		}))
		if err != nil {
			return daemon.Setup{}, err
		}
		setup := daemon.Setup{Config: cfg, Scanner: scanner}
		if d != nil {
			setup.Deliver = d
			setup.Reporters = d.names
			if d.github != nil {
				setup.Issue = d.github.Issue
			}
		}
		return setup, nil
	}
	setup, err := build(cfg)
	if err != nil {
		return exitError, err
	}
	dmn, err := daemon.New(setup, daemon.Options{
		Store: st,
		Scheduler: schedule.Options{
			Concurrency:   cfg.Server.Concurrency,
			Jitter:        cfg.Server.Jitter,
			ScanAtStartup: cfg.Server.ScanAtStartup,
			ScanContext:   scanCtx,
		},
		Observer: metrics,
		Logger:   log,
	})
	if err != nil {
		return exitError, err
	}
	restoreMetrics(ctx, st, metrics, log)
	// The SLO figures are read from the store, for the workspaces the
	// running config gives an slo, again after each save or reload and at
	// most a minute apart, in the background (with thousands of workspaces
	// a pass takes seconds): scrapes and pages get the last ones at once.
	// The first pass starts now, without holding up readiness, and a
	// reload starts one at once too.
	tracker := slo.NewTracker(st)
	sloFleet := server.CacheSLO(ctx, func(ctx context.Context) (*slo.Fleet, error) {
		return tracker.Compute(ctx, dmn.SLOTargets(), time.Now())
	}, sloVersion(st, dmn), sloMaxAge, time.Now)
	go func() { _, _ = sloFleet(ctx) }()
	if err := metrics.WatchSLOs(sloFleet, log); err != nil {
		return exitError, err
	}

	addr := firstNonEmpty(*listen, cfg.Server.Listen)
	listenHost, _, _ := net.SplitHostPort(addr)
	// The name it listens on is driftd's own, and the flag's stay through
	// reloads.
	ownHosts := append([]string{listenHost}, hostsFlag...)
	var running atomic.Bool
	srv, err := server.New(server.Options{
		History:    st,
		Scheduler:  dmn.Scheduler(),
		Metrics:    metrics,
		Workspaces: dmn.Workspaces,
		Owners:     dmn.Owners,
		SLO:        sloFleet,
		Issues: func(ws string) server.Issue {
			u, t := dmn.Issue(ws)
			return server.Issue{URL: u, Title: t}
		},
		TriggerToken: cfg.Server.TriggerToken.Reveal(),
		AllowedHosts: slices.Concat(ownHosts, cfg.Server.AllowedHosts),
		Ready: func() error {
			if !running.Load() {
				return errors.New("scheduler not running")
			}
			return nil
		},
		Logger: log,
	})
	if err != nil {
		return exitError, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return exitError, fmt.Errorf("listen %s: %w", addr, err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "error", err)
		}
	}()
	rl := &reloader{
		a: a, path: *configPath, build: build, dmn: dmn, srv: srv, st: st, log: log,
		listenFlag: *listen, dataDirFlag: *dataDir, ownHosts: ownHosts, cur: cfg.Server,
	}
	log.Info("driftd serving", "listen", ln.Addr().String(), "workspaces", len(setup.Config.Workspaces), "data_dir", dir, "version", buildVersion())
	if part.Sharded() {
		log.Info("serving one shard", "from", part.From, "workspaces", len(setup.Config.Workspaces), "of", len(cfg.Workspaces))
	}

	runCtx, stopScheduling := context.WithCancel(ctx)
	defer stopScheduling()
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(signals)
	go func() {
		stopping := false
		for sig := range signals {
			switch {
			case sig == syscall.SIGHUP:
				rl.reload(ctx)
				go func() { _, _ = sloFleet(ctx) }()
			case !stopping:
				stopping = true
				log.Info("stopping: no new scans; running scans may finish", "signal", sig.String(), "timeout", rl.server().ShutdownTimeout.String())
				stopScheduling()
			default:
				log.Warn("second signal: cancelling running scans", "signal", sig.String())
				abortScans()
			}
		}
	}()

	running.Store(true)
	err = dmn.Run(runCtx)
	running.Store(false)

	drainCtx, cancelDrain := context.WithTimeout(scanCtx, rl.server().ShutdownTimeout)
	if derr := dmn.Drain(drainCtx); derr != nil {
		log.Warn("shutdown timeout: cancelling running scans")
		abortScans()
		// Cancelled scans end within terraform's kill grace.
		finalCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = dmn.Drain(finalCtx)
		cancel()
	}
	cancelDrain()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(shutCtx)
	cancel()
	log.Info("driftd stopped")
	if err != nil {
		return exitError, err
	}
	return exitClean, nil
}

// sloMaxAge is how old the SLO figures that scrapes and pages get may be.
const sloMaxAge = time.Minute

// allowedHostsFlag is --allowed-hosts: names checked as allowed_hosts
// entries are, so that a mistake stops serve at once.
type allowedHostsFlag []string

func (h *allowedHostsFlag) String() string { return strings.Join(*h, ",") }

func (h *allowedHostsFlag) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		if msg := config.CheckAllowedHost(name); msg != "" {
			return errors.New(msg)
		}
		*h = append(*h, name)
	}
	return nil
}

// sloVersion changes whenever the SLO figures may: a scan saved or a
// config applied (which may change objectives, owners or which
// workspaces have an SLO). Both counts only grow, so their sum changes
// when either does.
func sloVersion(st *store.Store, dmn *daemon.Daemon) func() uint64 {
	return func() uint64 { return st.Changes() + dmn.Applied() }
}

// metricsHistory is what restoring the metrics reads: the summaries the
// store holds in memory, and the history of workspaces whose last scan
// failed. Not the last reports: reading thousands of them at start-up
// cost time and left their pages resident.
type metricsHistory interface {
	Workspaces(ctx context.Context) ([]store.Summary, error)
	ScansBack(ctx context.Context, workspace string, fn func(store.Scan) bool) error
}

// restoreMetrics fills the gauges from the store so /metrics is right from
// the first scrape after a restart.
func restoreMetrics(ctx context.Context, st metricsHistory, m *server.Metrics, log *slog.Logger) {
	sums, err := st.Workspaces(ctx)
	if err != nil {
		log.Warn("restoring metrics", "error", err)
		return
	}
	for _, s := range sums {
		m.Restore(s.Last)
		if s.Last.Status == drift.StatusError {
			restoreLastSuccess(ctx, st, m, s.Workspace)
		}
	}
}

// restoreLastSuccess sets a workspace's last success from the newest scan
// in its history that did not fail, if any, reading back no further.
func restoreLastSuccess(ctx context.Context, st metricsHistory, m *server.Metrics, workspace string) {
	_ = st.ScansBack(ctx, workspace, func(sc store.Scan) bool {
		if sc.Status != drift.StatusError {
			m.RestoreLastSuccess(workspace, sc.StartedAt)
			return false
		}
		return true
	})
}

func (a *app) defaultDataDir() string {
	if d := a.getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "driftd")
	}
	if h := a.getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "driftd")
	}
	return ""
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

var _ daemon.Deliverer = (*delivery)(nil)

// Deliver is the daemon's delivery of one workspace's report.
func (d *delivery) Deliver(ctx context.Context, cur *drift.Report) {
	d.dispatcher.Deliver(ctx, cur)
}
