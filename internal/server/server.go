// Package server is driftd's HTTP face: health and readiness probes,
// Prometheus metrics, a JSON API over the scan history, an endpoint that
// triggers a scan, and a server-rendered status page. It reads only what the
// store and the scheduler hand it; reports are already redacted, and the
// server never shows anything that is not in a report or a scan summary.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

// History is the scan history the server reads; *store.Store satisfies it.
type History interface {
	// Workspaces returns every workspace's summary, sorted by name; it is
	// read on every view of the status page, so it must not cost a pass
	// over the history. The server never changes the slice, so it may be
	// shared.
	Workspaces(ctx context.Context) ([]store.Summary, error)
	// Summary returns one workspace's summary; false when never saved.
	Summary(ctx context.Context, workspace string) (store.Summary, bool, error)
	Scans(ctx context.Context, workspace string, limit int) ([]store.Scan, error)
	LastReport(ctx context.Context, workspace string) (*drift.Report, error)
}

// Scheduler is the part of the scheduler the server asks about upcoming and
// running scans and asks to scan now; *schedule.Scheduler satisfies it.
type Scheduler interface {
	Next(name string) (time.Time, bool)
	Running() []string
	Trigger(ctx context.Context, name string) (done <-chan struct{}, joined bool, err error)
}

// Options configure a Server. History, Scheduler and Metrics are required.
type Options struct {
	History   History
	Scheduler Scheduler
	// Metrics are served on /metrics.
	Metrics *Metrics
	// Workspaces returns the configured workspace names, so that those never
	// scanned show too and those removed from the config do not. Nil lists
	// every workspace the history knows.
	Workspaces func() []string
	// SLO returns the SLO figures for the API and the pages; nil serves
	// none (the SLO routes answer 404).
	SLO SLOSource
	// Owners returns a configured workspace's owners (GitHub logins or
	// org/team slugs, without "@"). May be nil.
	Owners func(workspace string) []string
	// Issues returns a workspace's open GitHub issue: its URL and title,
	// or the zero Issue. May be nil.
	Issues func(workspace string) Issue
	// Ready says whether the daemon can do its job (config loaded, store
	// open, scheduler running); its error is shown by /readyz. Nil means
	// always ready.
	Ready func() error
	// TriggerToken is the bearer token POST .../scan requires. Empty
	// disables the endpoint.
	TriggerToken string
	// AllowedHosts are the host names (no port; "*.example.com" for every
	// name under example.com) a request's Host header may carry besides
	// localhost and IP addresses; any other gets 421, so that a DNS
	// rebinding page cannot read the API.
	AllowedHosts []string
	// Limits bound timeouts, connections and the trigger endpoint's rate.
	Limits Limits
	// ChartScans is how many recent scans the workspace page charts;
	// 0 means 30.
	ChartScans int
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Issue is a workspace's GitHub issue as the reporter last saw it.
type Issue struct {
	URL, Title string
}

// Server serves driftd's HTTP endpoints.
type Server struct {
	opts    Options
	metrics *Metrics
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	http    *http.Server
	// access holds the trigger token and the allowed hosts, which a
	// config reload may change (SetAccess).
	access atomic.Pointer[access]
	// triggers counts triggers per workspace, authFails failed token
	// checks per client.
	triggers, authFails *limiter
}

// New returns a Server; it starts nothing until Serve.
func New(opts Options) (*Server, error) {
	if opts.History == nil {
		return nil, errors.New("server: History is required")
	}
	if opts.Scheduler == nil {
		return nil, errors.New("server: Scheduler is required")
	}
	if opts.Metrics == nil {
		return nil, errors.New("server: Metrics is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ChartScans <= 0 {
		opts.ChartScans = 30
	}
	opts.Limits = opts.Limits.withDefaults()
	l := opts.Limits
	s := &Server{
		opts: opts, metrics: opts.Metrics, log: opts.Logger, mux: http.NewServeMux(),
		triggers:  newLimiter(l.TriggerBurst, l.TriggerEvery, opts.Now),
		authFails: newLimiter(l.AuthFailBurst, l.AuthFailEvery, opts.Now),
	}
	s.SetAccess(opts.TriggerToken, opts.AllowedHosts)
	// Read from access only: a reload changes them there.
	s.opts.TriggerToken, s.opts.AllowedHosts = "", nil
	s.routes()
	s.handler = s.guard(s.mux)
	s.http = s.newHTTPServer()
	return s, nil
}

// access is what SetAccess sets.
type access struct {
	token string
	hosts hostList
}

// SetAccess replaces the trigger token ("" disables the trigger endpoint
// and the re-scan button) and the allowed hosts (see Options), as on a
// config reload; requests from then on see the new ones.
func (s *Server) SetAccess(triggerToken string, allowedHosts []string) {
	s.access.Store(&access{token: triggerToken, hosts: newHostList(allowedHosts)})
}

// triggerToken is the token a scan trigger requires, "" when triggers are
// disabled.
func (s *Server) triggerToken() string { return s.access.Load().token }

// Handler returns the server's routes behind its Host check and headers.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	// Scrapes that arrive while one gathers share its result: with
	// thousands of workspaces a gathering makes tens of MB of series,
	// and scrapes at once each making their own would multiply the heap.
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		CoalesceGather: true,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelError),
	}))
	s.mux.HandleFunc("GET /api/v1/workspaces", s.apiWorkspaces)
	s.mux.HandleFunc("GET /api/v1/workspaces/{name}", s.apiWorkspace)
	s.mux.HandleFunc("GET /api/v1/workspaces/{name}/scans", s.apiScans)
	s.mux.HandleFunc("POST /api/v1/workspaces/{name}/scan", s.apiTrigger)
	s.mux.HandleFunc("GET /api/v1/workspaces/{name}/slo", s.apiWorkspaceSLO)
	s.mux.HandleFunc("GET /api/v1/slo", s.apiSLO)
	s.mux.HandleFunc("GET /api/v1/slo/workspaces", s.apiSLOWorkspaces)
	s.mux.HandleFunc("GET /{$}", s.statusPage)
	s.mux.HandleFunc("GET /workspaces/{name}", s.workspacePage)
	s.mux.HandleFunc("POST /workspaces/{name}/scan", s.pageTrigger)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

// errNotFound marks a workspace that is neither configured nor, without a
// configured list, in the history.
var errNotFound = errors.New("unknown workspace")

// stateNever is the status of a workspace with no scan yet.
const stateNever = "never_scanned"

// workspace is where one workspace stands: the JSON API's shape and the
// status page's row.
type workspace struct {
	Name string `json:"name"`
	// Status is the last scan's drift.Status, or "never_scanned".
	Status        string      `json:"status"`
	Running       bool        `json:"running"`
	Owners        []string    `json:"owners,omitempty"`
	LastScan      *store.Scan `json:"last_scan,omitempty"`
	DriftingSince time.Time   `json:"drifting_since,omitzero"`
	LastClean     time.Time   `json:"last_clean,omitzero"`
	NextScan      time.Time   `json:"next_scan,omitzero"`
	IssueURL      string      `json:"issue_url,omitempty"`
	IssueTitle    string      `json:"issue_title,omitempty"`
}

// names returns the workspaces the server shows: the configured ones,
// else every one the history knows. sums is the history's.
func (s *Server) names(sums []store.Summary) []string {
	if s.opts.Workspaces != nil {
		return s.opts.Workspaces()
	}
	names := make([]string, len(sums))
	for i, sum := range sums {
		names[i] = sum.Workspace
	}
	return names
}

// workspace returns one workspace, or errNotFound.
func (s *Server) workspace(ctx context.Context, name string) (workspace, error) {
	e, err := s.find(ctx, name)
	if err != nil {
		return workspace{}, err
	}
	return s.describe(e, slices.Contains(s.opts.Scheduler.Running(), name)), nil
}

// find returns one workspace's entry, or errNotFound.
func (s *Server) find(ctx context.Context, name string) (entry, error) {
	if s.opts.Workspaces != nil && !slices.Contains(s.opts.Workspaces(), name) {
		return entry{}, errNotFound
	}
	sum, ok, err := s.opts.History.Summary(ctx, name)
	if err != nil {
		return entry{}, fmt.Errorf("read workspace %s: %w", name, err)
	}
	e := entry{name: name}
	if ok {
		e.sum = &sum
	} else if s.opts.Workspaces == nil {
		return entry{}, errNotFound
	}
	return s.entry(e), nil
}

func (s *Server) running() map[string]bool {
	running := make(map[string]bool)
	for _, n := range s.opts.Scheduler.Running() {
		running[n] = true
	}
	return running
}

// describe completes an entry with what the scheduler and the reporters
// know.
func (s *Server) describe(e entry, running bool) workspace {
	w := workspace{Name: e.name, Status: stateNever, Running: running, Owners: e.owners}
	if sum := e.sum; sum != nil {
		// The summaries are the store's shared, unchanging copy.
		w.Status = string(sum.Last.Status)
		w.LastScan = &sum.Last
		w.DriftingSince = sum.DriftingSince
		w.LastClean = sum.LastClean
	}
	if next, ok := s.opts.Scheduler.Next(e.name); ok {
		w.NextScan = next
	}
	if s.opts.Issues != nil {
		is := s.opts.Issues(e.name)
		if w.IssueURL = safeURL(is.URL); w.IssueURL != "" {
			w.IssueTitle = is.Title
		}
	}
	return w
}
