// Package scan runs one scan of a workspace, or a bounded fleet of them,
// and always comes back with a report: a workspace that fails, hangs or
// panics yields an error report of its own and the others finish.
package scan

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
)

// PlanFunc produces the JSON plan of a workspace (drift/runner in
// production). known is the PlanKey of the plan whose report the Scanner
// kept, or "": when the new plan has that key, the PlanFunc may skip making
// its JSON and return Known instead.
type PlanFunc func(ctx context.Context, ws config.Workspace, known string) (*Planned, error)

// Planned is what a PlanFunc produced.
type Planned struct {
	// Plan is nil when Known.
	Plan *tfjson.Plan
	// Commit is the git commit planned, for git sources.
	Commit string
	// PlanKey identifies the plan (runner.Result.PlanKey); "" when it has
	// nothing to report or is not known to be like any other.
	PlanKey string
	// Known says the plan's key is the known one passed to the PlanFunc.
	Known bool
	// DataReads are what the plan's data sources read at the last apply
	// (drift.Options.PreviousReads).
	DataReads drift.DataReads
}

// Event tells a progress display what a scan is doing.
type Event struct {
	Workspace string
	Started   time.Time
	// Report is nil when the scan starts and set when it ends.
	Report *drift.Report
}

// Scanner turns workspaces into reports.
type Scanner struct {
	Plan   PlanFunc
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnEvent, when set, is called as each scan starts and ends, from the
	// scan's goroutine.
	OnEvent func(Event)
	// Reports, when set, keeps reports so that a plan seen before needs no
	// JSON plan and no analysis.
	Reports *ReportCache
}

func (s *Scanner) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scanner) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// One scans a workspace. It never returns nil.
func (s *Scanner) One(ctx context.Context, ws config.Workspace) *drift.Report {
	start := s.now()
	id := NewID()
	ctx = WithID(ctx, ws.Name, id)
	opts := drift.Options{
		Workspace:   ws.Name,
		Owners:      ws.Owners,
		RefreshOnly: ws.RefreshOnly,
		Ignore:      ws.Ignore,
		StartedAt:   start,
	}
	log := s.logger().With("workspace", ws.Name, "scan_id", id)
	if s.OnEvent != nil {
		s.OnEvent(Event{Workspace: ws.Name, Started: start})
	}
	log.InfoContext(ctx, "scan started", "dir", ws.Dir)

	known, kept, err := s.Reports.lookup(opts)
	if err != nil {
		log.WarnContext(ctx, "cached report not read; planning afresh", "error", err)
	}
	planned, err := s.plan(ctx, ws, known)
	var r *drift.Report
	switch {
	case err != nil:
		r = drift.Failed(opts, err, nil)
	case planned.Known:
		r = kept
		r.StartedAt, r.Owners = opts.StartedAt, opts.Owners
	default:
		opts.PreviousReads = planned.DataReads // part of the plan, as its key is
		r = drift.Analyze(planned.Plan, opts)
		if planned.PlanKey != "" {
			if err := s.Reports.store(opts, planned.PlanKey, r); err != nil {
				log.WarnContext(ctx, "report not cached", "error", err)
			}
		}
	}
	if planned != nil {
		r.Commit = planned.Commit
	}
	r.Source = sourceOf(ws)
	r.Duration = s.now().Sub(start)
	r.ScanID = id

	log.InfoContext(ctx, "scan finished", "status", r.Status, "drifted", len(r.Drift), "pending", len(r.Pending),
		"ignored", r.Ignored, "report_reused", planned != nil && planned.Known, "duration", r.Duration.Round(time.Millisecond).String())
	if r.Status == drift.StatusError {
		log.WarnContext(ctx, "scan failed", "error", r.Error)
	}
	if s.OnEvent != nil {
		s.OnEvent(Event{Workspace: ws.Name, Started: start, Report: r})
	}
	return r
}

// plan calls Plan, turning a panic into an error so that one workspace's
// bad plan cannot take the others down.
func (s *Scanner) plan(ctx context.Context, ws config.Workspace, known string) (planned *Planned, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.logger().ErrorContext(ctx, "scan panicked", "workspace", ws.Name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			planned, err = nil, fmt.Errorf("internal error while scanning: %v", v)
		}
	}()
	planned, err = s.Plan(ctx, ws, known)
	switch {
	case err != nil:
	case planned == nil:
		err = fmt.Errorf("terraform produced no plan")
	case planned.Known && (known == "" || planned.PlanKey != known):
		err = fmt.Errorf("internal error: plan %q called known, known is %q", planned.PlanKey, known)
	case planned.Plan == nil && !planned.Known:
		err = fmt.Errorf("terraform produced no plan")
	}
	return planned, err // planned may carry the commit of a failed scan
}

// All scans workspaces, at most concurrency at a time, and returns their
// reports in the order of wss.
func (s *Scanner) All(ctx context.Context, wss []config.Workspace, concurrency int) []*drift.Report {
	if concurrency < 1 {
		concurrency = 1
	}
	reports := make([]*drift.Report, len(wss))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, ws := range wss {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			reports[i] = s.One(ctx, ws)
		}()
	}
	wg.Wait()
	return reports
}
