// Package daemon is driftd serve: it scans every workspace on its own
// schedule, keeps what it saw in the store, tells reporters about
// transitions, and reloads its configuration without dropping a scan.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/drift/scan"
	"github.com/driftd/driftd/drift/schedule"
	"github.com/driftd/driftd/drift/slo"
	"github.com/driftd/driftd/drift/store"
)

// Scanner scans one workspace and always returns a report.
type Scanner interface {
	One(ctx context.Context, ws config.Workspace) *drift.Report
}

// Deliverer hands a report to the reporters, which know what they told
// before.
type Deliverer interface {
	Deliver(ctx context.Context, cur *drift.Report)
}

// Observer is told about scans and reporters, for metrics.
type Observer interface {
	ScanStarted()
	ScanFinished()
	Observe(r *drift.Report)
	Forget(workspace string)
	// InitReporters names the reporters of a setup now applied.
	InitReporters(names []string)
}

// Setup is what a configuration turns into; Build makes one from a config
// so that a reload can swap all of it at once.
type Setup struct {
	Config  *config.Config
	Scanner Scanner
	Deliver Deliverer
	// Issue returns the URL and title of a workspace's GitHub issue, or
	// empty strings; may be nil.
	Issue func(workspace string) (url, title string)
	// Reporters are the names of Deliver's reporters.
	Reporters []string
}

// Options configure a Daemon.
type Options struct {
	Store     *store.Store
	Scheduler schedule.Options
	Observer  Observer
	Logger    *slog.Logger
}

// Daemon holds the running configuration and runs scans for the scheduler.
type Daemon struct {
	store *store.Store
	sched *schedule.Scheduler
	obs   Observer
	log   *slog.Logger

	mu     sync.RWMutex
	setup  Setup
	byName map[string]config.Workspace
	// applied counts the setups applied (Applied).
	applied uint64
}

// New returns a daemon for setup; call Run.
func New(setup Setup, opts Options) (*Daemon, error) {
	d := &Daemon{store: opts.Store, obs: opts.Observer, log: opts.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	so := opts.Scheduler
	so.Logger = d.log
	so.OnPanic = d.recordPanic
	sched, err := schedule.New(d.scan, so)
	if err != nil {
		return nil, err
	}
	d.sched = sched
	if err := d.Apply(setup); err != nil {
		return nil, err
	}
	return d, nil
}

// Scheduler is the daemon's scheduler, for the HTTP server.
func (d *Daemon) Scheduler() *schedule.Scheduler { return d.sched }

// Workspaces lists the configured workspace names.
func (d *Daemon) Workspaces() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	names := make([]string, 0, len(d.byName))
	for n := range d.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Issue returns the URL and title of a workspace's issue, or empty
// strings.
func (d *Daemon) Issue(workspace string) (url, title string) {
	d.mu.RLock()
	issue := d.setup.Issue
	d.mu.RUnlock()
	if issue == nil {
		return "", ""
	}
	return issue(workspace)
}

// Owners returns a configured workspace's owners.
func (d *Daemon) Owners(workspace string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.byName[workspace].Owners
}

// Apply switches to a new setup (start-up or reload). Running scans finish
// with the setup they started with.
func (d *Daemon) Apply(setup Setup) error {
	jobs := make([]schedule.Job, 0, len(setup.Config.Workspaces))
	byName := make(map[string]config.Workspace, len(setup.Config.Workspaces))
	for _, ws := range setup.Config.Workspaces {
		jobs = append(jobs, schedule.Job{Name: ws.Name, Schedule: ws.Schedule})
		byName[ws.Name] = ws
	}
	if err := d.sched.SetJobs(jobs); err != nil {
		return fmt.Errorf("apply config: %w", err)
	}
	d.mu.Lock()
	old := d.byName
	d.setup, d.byName = setup, byName
	d.applied++
	d.mu.Unlock()
	if d.obs != nil {
		for name := range old {
			if _, ok := byName[name]; !ok {
				d.obs.Forget(name)
			}
		}
		d.obs.InitReporters(setup.Reporters)
	}
	return nil
}

// Applied counts the setups applied so far (start-up and each reload):
// what a cache of figures that depend on the config compares to know
// they may be out of date.
func (d *Daemon) Applied() uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.applied
}

// SLOTargets returns the configured workspaces that have an SLO, with
// their objectives and owners.
func (d *Daemon) SLOTargets() []slo.Target {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var ts []slo.Target
	for _, ws := range d.setup.Config.Workspaces {
		if ws.SLO == nil {
			continue
		}
		ts = append(ts, slo.Target{
			Workspace: ws.Name,
			Owners:    ws.Owners,
			Objective: slo.Objective{DriftFree: ws.SLO.DriftFree, Window: ws.SLO.Window, ResolveWithin: ws.SLO.ResolveWithin},
			Export:    ws.SLO.WorkspaceMetrics,
		})
	}
	return ts
}

// Run schedules scans until ctx is done, then returns; running scans go on
// under the scheduler's ScanContext (see Drain).
func (d *Daemon) Run(ctx context.Context) error {
	return d.sched.Run(ctx)
}

// Drain waits for running scans until ctx is done.
func (d *Daemon) Drain(ctx context.Context) error {
	return d.sched.Wait(ctx)
}

// scan is the scheduler's ScanFunc: scan, store, observe, deliver. The
// report is stored before reporters see it, so a reporter's failure never
// loses it.
func (d *Daemon) scan(ctx context.Context, name string, trigger schedule.Trigger) {
	d.mu.RLock()
	setup := d.setup
	ws, ok := d.byName[name]
	d.mu.RUnlock()
	if !ok {
		return
	}
	log := d.log.With("workspace", name, "trigger", string(trigger))
	if d.obs != nil {
		d.obs.ScanStarted()
		defer d.obs.ScanFinished()
	}
	r := setup.Scanner.One(ctx, ws)
	ctx = scan.WithID(ctx, name, r.ScanID)
	log = log.With("scan_id", r.ScanID)
	if !d.record(ctx, log, r) {
		log.InfoContext(ctx, "workspace removed from the config while it was scanned: its report is kept, not reported")
		return
	}
	if setup.Deliver != nil && !errors.Is(ctx.Err(), context.Canceled) {
		setup.Deliver.Deliver(ctx, r)
	}
}

// record saves a report and, if its workspace is still configured,
// counts it in the metrics; it says whether it was. A reload that removed
// the workspace while it was scanned forgot its series and notification
// records, which this scan must not bring back.
func (d *Daemon) record(ctx context.Context, log *slog.Logger, r *drift.Report) bool {
	// Saving must outlive a cancelled scan context: the scan finished.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := d.store.SaveReport(saveCtx, r); err != nil {
		log.ErrorContext(ctx, "saving report", "error", err)
	}
	// Under the read lock, so that Apply either removes the workspace
	// before (nothing observed) or forgets its series after.
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.byName[r.Workspace]
	if ok && d.obs != nil {
		d.obs.Observe(r)
	}
	return ok
}

// recordPanic stores an error report for a scan that panicked outside the
// scanner's own recovery.
func (d *Daemon) recordPanic(name string, v any) {
	r := drift.Failed(drift.Options{Workspace: name, StartedAt: time.Now()}, fmt.Errorf("internal error: %v", v), nil)
	d.record(context.Background(), d.log.With("workspace", name), r)
}
