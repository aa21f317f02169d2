package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/daemon"
	"github.com/driftd/driftd/internal/server"
)

// reloader applies the config file to a running `driftd serve` on SIGHUP.
// Every setting of the new file takes effect, or none does: a server
// setting that only a restart can change rejects the reload, naming it,
// and the running config stays.
type reloader struct {
	a     *app
	path  string
	build func(*config.Config) (daemon.Setup, error)
	dmn   *daemon.Daemon
	srv   *server.Server
	st    *store.Store
	log   *slog.Logger
	// listenFlag and dataDirFlag are --listen and --data-dir, which
	// override the file.
	listenFlag, dataDirFlag string
	// ownHosts are allowed whatever allowed_hosts says: the host serve
	// listens on, and --allowed-hosts.
	ownHosts []string

	mu  sync.Mutex // one reload at a time
	cur config.Server
}

// server is the running server section.
func (rl *reloader) server() config.Server {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return rl.cur
}

// reload swaps in the config file; a bad one, or one that changes a
// setting only a restart can change, is logged and the running one kept.
func (rl *reloader) reload(ctx context.Context) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	// The daemon outlives whatever a config makes go wrong.
	defer func() {
		if v := recover(); v != nil {
			rl.log.Error("config reload panicked; the previous config keeps running", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if err := rl.applyServer(rl.cur); err != nil {
				rl.log.Error("restoring the server settings", "error", err)
			}
		}
	}()
	if rl.a.beforeReload != nil {
		rl.a.beforeReload()
	}
	changed, workspaces, err := rl.apply(ctx)
	if err != nil {
		rl.log.Error("config reload rejected; the previous config keeps running", "error", err)
		return
	}
	rl.log.Info("config reloaded", "workspaces", workspaces, "server_changed", changed)
}

// apply loads, checks and applies the file, returning the server
// settings it changed and the number of workspaces served.
func (rl *reloader) apply(ctx context.Context) (changed []string, workspaces int, err error) {
	cfg, err := rl.a.loadConfig(ctx, rl.path, rl.log)
	if err != nil {
		return nil, 0, err
	}
	old := rl.cur
	changed = changedServerSettings(old, cfg.Server)
	if err := rl.restartOnly(old, cfg.Server, changed); err != nil {
		return nil, 0, err
	}
	setup, err := rl.build(cfg)
	if err != nil {
		return nil, 0, err
	}
	// The server settings first: they can be put back if the rest fails.
	if err := rl.applyServer(cfg.Server); err != nil {
		return nil, 0, errors.Join(err, rl.applyServer(old))
	}
	if err := rl.dmn.Apply(setup); err != nil {
		return nil, 0, errors.Join(err, rl.applyServer(old))
	}
	rl.cur = cfg.Server
	forgetRemoved(ctx, rl.st, cfg, rl.log)
	return changed, len(setup.Config.Workspaces), nil
}

// restartOnly rejects a change to a setting the running daemon cannot
// take: the socket it listens on, the store it holds open, a scan that
// happens at start-up. A flag overriding the setting makes its change moot.
func (rl *reloader) restartOnly(old, cur config.Server, changed []string) error {
	var errs []error
	for _, name := range changed {
		var was, is any
		switch {
		case name == "listen" && rl.listenFlag == "":
			was, is = old.Listen, cur.Listen
		case name == "data_dir" && rl.dataDirFlag == "":
			was, is = old.DataDir, cur.DataDir
		case name == "scan_at_startup":
			was, is = old.ScanAtStartup, cur.ScanAtStartup
		default:
			continue
		}
		errs = append(errs, fmt.Errorf("server.%s changed from %#v to %#v: it takes effect only when driftd starts; restart driftd, or put the old value back to reload the rest", name, was, is))
	}
	return errors.Join(errs...)
}

// applyServer makes the running daemon use s's live settings. min_interval
// needs nothing: it bounds schedules, which loading the file checked.
func (rl *reloader) applyServer(s config.Server) error {
	rl.srv.SetAccess(s.TriggerToken.Reveal(), slices.Concat(rl.ownHosts, s.AllowedHosts))
	sched := rl.dmn.Scheduler()
	return errors.Join(
		sched.SetConcurrency(s.Concurrency),
		sched.SetJitter(s.Jitter),
		rl.st.SetRetention(s.Retention.MaxAge, s.Retention.MaxScans),
	)
}

// changedServerSettings names the server settings that differ, as the
// file spells them; the trigger token by name only.
func changedServerSettings(old, cur config.Server) []string {
	var names []string
	add := func(name string, differs bool) {
		if differs {
			names = append(names, name)
		}
	}
	add("listen", old.Listen != cur.Listen)
	add("allowed_hosts", !slices.Equal(old.AllowedHosts, cur.AllowedHosts))
	add("data_dir", old.DataDir != cur.DataDir)
	add("trigger_token", old.TriggerToken.Reveal() != cur.TriggerToken.Reveal())
	add("concurrency", old.Concurrency != cur.Concurrency)
	add("jitter", old.Jitter != cur.Jitter)
	add("min_interval", old.MinInterval != cur.MinInterval)
	add("scan_at_startup", old.ScanAtStartup != cur.ScanAtStartup)
	add("shutdown_timeout", old.ShutdownTimeout != cur.ShutdownTimeout)
	add("retention", old.Retention != cur.Retention)
	return names
}
