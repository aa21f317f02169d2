package server

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/drift/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageCSP allows nothing but the page's own inline styles and SVG, and
// forms that go to driftd itself (filters, re-scan): there is no script
// and no external asset, and a value that slipped past escaping still
// could not load or run anything, or send a form elsewhere.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"value":      render.Value,
	"short":      render.ShortCommit,
	"dur":        formatDuration,
	"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"stamp":      stampUTC,
	"day":        shortStamp,
	"label":      stateLabel,
	"plural":     plural,
	"marker":     func(v any) bool { return v == drift.SensitiveMarker },
	"issueLabel": issueLabel,
	"add":        func(a, b int) int { return a + b },
	"verb":       verb,
	"whole":      wholeObject,
	"changes": func(kind string, items []drift.ResourceChange) changeList {
		return changeList{Kind: kind, Items: items}
	},
	"code":     codeChanges,
	"followOn": followOnChanges,
	"because":  render.Because,
	"identity": render.IdentityText,
	"note":     render.CauseNote,
	"shown":    shownAttributes,
	"hidden":   hiddenAttributes,
}).ParseFS(templateFS, "templates/*.html"))

// row is one workspace as the pages show it: the API's workspace, flat
// (templates look fields up by name, and a promoted field costs a search
// through the embedded ones for every row), with what only pages show.
type row struct {
	Name          string
	State         string // error, drifted, pending, clean, never
	Running       bool
	Owners        []string
	LastScan      *store.Scan
	DriftingSince time.Time
	LastClean     time.Time
	NextScan      time.Time
	IssueURL      string
	// IssueText is the issue's number and title.
	IssueText string
	// ErrorLine is the first line of a failed last scan's error.
	ErrorLine string
}

func newRow(e entry, w workspace) row {
	r := row{
		Name: w.Name, State: e.state, Running: w.Running, Owners: w.Owners, LastScan: w.LastScan,
		DriftingSince: w.DriftingSince, LastClean: w.LastClean, NextScan: w.NextScan, IssueURL: w.IssueURL,
	}
	if r.IssueURL != "" {
		r.IssueText = issueText(w.IssueURL, w.IssueTitle)
	}
	if e.state == "error" {
		r.ErrorLine = errorLine(e.name, e.sum.Last.Error)
	}
	return r
}

// page is what every page's template gets: the clock, for "3 min ago".
type page struct {
	Now time.Time
}

// when is a point in time as the "when" template shows it.
type when struct {
	T   time.Time
	Ago string
}

// When pairs t with how long ago (or how far ahead) it is.
func (p page) When(t time.Time) when { return when{T: t, Ago: relative(p.Now)(t)} }

type statusData struct {
	page
	Query query
	Rows  []row
	// Counts are the workspaces of each state that the owner and text
	// filters leave, Total the workspaces configured.
	Counts  map[string]int
	Matched int
	Total   int
	// Shown is how many workspaces the state filter leaves, over all pages.
	Shown int
	// Owners are every owner of a configured workspace, sorted.
	Owners   []string
	Unowned  bool
	Page     int
	Pages    int
	From, To int
	// SLO is the fleet's and the owners' drift SLOs; nil without any.
	SLO *sloPanel
}

// States lists row states in the status page's order.
func (statusData) States() []string { return states }

// NoOwner is the owner filter's value for workspaces without owners.
func (statusData) NoOwner() string { return noOwner }

// codeChanges and followOnChanges split pending changes as the text and
// markdown reports do.
func codeChanges(cs []drift.ResourceChange) []drift.ResourceChange {
	code, _ := render.SplitPending(cs)
	return code
}

func followOnChanges(cs []drift.ResourceChange) []drift.ResourceChange {
	_, followOn := render.SplitPending(cs)
	return followOn
}

// shownAttributes and hiddenAttributes leave out, and count, the values a
// replacement computes anew, as the text report does by default.
func shownAttributes(as []drift.AttributeChange) []drift.AttributeChange {
	shown, _ := render.ShownAttributes(as, false)
	return shown
}

func hiddenAttributes(as []drift.AttributeChange) int {
	_, hidden := render.ShownAttributes(as, false)
	return hidden
}

// changeList is a section of the workspace page: drift, follow-on
// changes, or pending code.
type changeList struct {
	Kind  string // drift, followon, pending
	Items []drift.ResourceChange
}

// statusPage lists the workspaces worst first, a page at a time, filtered
// by state, owner and text. Only the store's summaries (held in memory)
// are read for the whole fleet; the rows shown are the only ones completed.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		http.Error(w, "bad query: "+err.Error(), http.StatusBadRequest)
		return
	}
	all, err := s.entries(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := statusData{page: page{Now: s.opts.Now()}, Query: q, Counts: make(map[string]int, len(states)), Total: len(all), SLO: s.sloPanel(r)}
	owners := map[string]bool{}
	// The rows shown are filtered in place: all is this request's own.
	shown := all[:0]
	for _, e := range all {
		for _, o := range e.owners {
			owners[o] = true
		}
		d.Unowned = d.Unowned || len(e.owners) == 0
		if !q.matches(e) {
			continue
		}
		d.Counts[e.state]++
		d.Matched++
		if q.State == "" || e.state == q.State {
			shown = append(shown, e)
		}
	}
	d.Owners = slices.Sorted(maps.Keys(owners))
	sortWorstFirst(shown)
	d.Shown = len(shown)
	d.Pages = max(1, (len(shown)+pageSize-1)/pageSize)
	d.Page = min(q.Page, d.Pages)
	d.Query.Page = d.Page
	from := (d.Page - 1) * pageSize
	shown = shown[from:min(from+pageSize, len(shown))]
	d.From, d.To = from+1, from+len(shown)
	running := s.running()
	d.Rows = make([]row, len(shown))
	for i, e := range shown {
		d.Rows[i] = newRow(e, s.describe(e, running[e.name]))
	}
	s.render(w, r, "status.html", d)
}

type workspaceData struct {
	page
	W      row
	Report *drift.Report
	Scans  []store.Scan // newest first
	Chart  *chart
	// SLO is the workspace's drift SLO; nil without one.
	SLO *sloView
	// Trigger says whether the page offers a re-scan: a trigger token is
	// configured. Triggered is the outcome of the last one, when the
	// page is its answer.
	Trigger   bool
	Triggered *triggerResult
}

func (s *Server) workspacePage(w http.ResponseWriter, r *http.Request) {
	var tr *triggerResult
	switch r.URL.Query().Get("scan") {
	case "started":
		tr = &triggerResult{code: http.StatusAccepted}
	case "joined":
		tr = &triggerResult{code: http.StatusAccepted, joined: true}
	}
	s.showWorkspace(w, r, tr)
}

// showWorkspace renders a workspace's page, with tr the outcome of a
// re-scan when there was one; a failed re-scan keeps its status code.
func (s *Server) showWorkspace(w http.ResponseWriter, r *http.Request, tr *triggerResult) {
	name := r.PathValue("name")
	e, err := s.find(r.Context(), name)
	if errors.Is(err, errNotFound) {
		http.Error(w, "unknown workspace "+strconv.Quote(name), http.StatusNotFound)
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rep, err := s.opts.History.LastReport(r.Context(), name)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	scans, err := s.opts.History.Scans(r.Context(), name, s.opts.ChartScans)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := workspaceData{
		page:      page{Now: s.opts.Now()},
		W:         newRow(e, s.describe(e, slices.Contains(s.opts.Scheduler.Running(), name))),
		Report:    rep,
		Scans:     scans,
		Chart:     newChart(scans),
		Trigger:   s.triggerToken() != "",
		Triggered: tr,
		SLO:       s.workspaceSLO(r, name),
	}
	code := http.StatusOK
	if tr != nil && tr.code >= 400 {
		code = tr.code
	}
	s.renderCode(w, r, code, "workspace.html", d)
}

// render executes into a buffer first, so that a template error becomes a
// clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	s.renderCode(w, r, http.StatusOK, name, data)
}

func (s *Server) renderCode(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		s.pageError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "internal error; see driftd's log", http.StatusInternalServerError)
}

func stateLabel(state string) string {
	if state == "never" {
		return "never scanned"
	}
	return state
}

// safeURL passes only absolute http(s) links: the issue URL comes from
// reporter bookkeeping, and neither the page nor an API client should be
// handed another scheme.
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.String()
}

// relative returns a function that says how far t is from now, as people
// say it: "3 min ago", "in 2 h".
func relative(now time.Time) func(time.Time) string {
	return func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		d := now.Sub(t)
		suffix := " ago"
		prefix := ""
		if d < 0 {
			d, suffix, prefix = -d, "", "in "
		}
		if d < time.Minute {
			if suffix != "" {
				return "just now"
			}
			return "in less than a minute"
		}
		return prefix + span(d) + suffix
	}
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// issueLabel names an issue link by its number when the URL has one.
func issueLabel(u string) string {
	if i := strings.LastIndex(u, "/issues/"); i >= 0 {
		if n := u[i+len("/issues/"):]; n != "" && strings.Trim(n, "0123456789") == "" {
			return "#" + n
		}
	}
	return "open issue"
}

// issueText names an issue link by its number and title.
func issueText(u, title string) string {
	if title == "" {
		return issueLabel(u)
	}
	return issueLabel(u) + " " + title
}

// verb says what happened to a resource, in the words of Terraform's plan.
func verb(kind string, a drift.Action) string {
	if kind == "drift" {
		switch a {
		case drift.ActionUpdate:
			return "changed"
		case drift.ActionDelete:
			return "deleted"
		}
		return string(a)
	}
	switch a {
	case drift.ActionCreate:
		return "create"
	case drift.ActionUpdate:
		return "update in place"
	case drift.ActionDelete:
		return "destroy"
	case drift.ActionReplace:
		return "replace"
	case drift.ActionRead:
		return "read"
	}
	return string(a)
}

// wholeObject explains a change with no attribute list.
func wholeObject(kind string, a drift.Action) string {
	if kind == "drift" {
		if a == drift.ActionDelete {
			return "The object was deleted outside Terraform."
		}
		return "The object changed outside Terraform."
	}
	switch a {
	case drift.ActionCreate:
		return "Terraform would create this object."
	case drift.ActionDelete:
		return "Terraform would destroy this object."
	case drift.ActionReplace:
		return "Terraform would replace this object."
	}
	return "Terraform would change this object."
}
