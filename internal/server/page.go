package server

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
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

// pageCSP allows nothing but the page's own inline styles and SVG: there is
// no script and no external asset, and a value that slipped past escaping
// still could not load or run anything.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

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
	"verb":       verb,
	"whole":      wholeObject,
	"changes": func(kind string, items []drift.ResourceChange) changeList {
		return changeList{Kind: kind, Items: items}
	},
}).ParseFS(templateFS, "templates/*.html"))

// row is one workspace as the status page shows it.
type row struct {
	workspace
	State string // error, drifted, pending, clean, never
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
	Rows   []row
	Counts map[string]int
	// SLO is the fleet's and the owners' drift SLOs; nil without any.
	SLO *sloPanel
}

// States lists row states in the status page's order.
func (statusData) States() []string { return []string{"error", "drifted", "pending", "clean", "never"} }

// changeList is a section of the workspace page: drift or pending.
type changeList struct {
	Kind  string // drift, pending
	Items []drift.ResourceChange
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	all, err := s.workspaces(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	now := s.opts.Now()
	d := statusData{page: page{Now: now}, Counts: map[string]int{}, SLO: s.sloPanel(r)}
	for _, ws := range all {
		st := rowState(ws)
		d.Rows = append(d.Rows, row{ws, st})
		d.Counts[st]++
	}
	sortWorstFirst(d.Rows)
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
}

func (s *Server) workspacePage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ws, err := s.workspace(r.Context(), name)
	if errors.Is(err, errNotFound) {
		http.Error(w, "unknown workspace "+strconv.Quote(name), http.StatusNotFound)
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rep, err := s.opts.History.LastReport(r.Context(), ws.Name)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	scans, err := s.opts.History.Scans(r.Context(), ws.Name, s.opts.ChartScans)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := workspaceData{
		page:   page{Now: s.opts.Now()},
		W:      row{ws, rowState(ws)},
		Report: rep,
		Scans:  scans,
		Chart:  newChart(scans),
		SLO:    s.workspaceSLO(r, ws.Name),
	}
	s.render(w, r, "workspace.html", d)
}

// render executes into a buffer first, so that a template error becomes a
// clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
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
	_, _ = buf.WriteTo(w)
}

func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "internal error; see driftd's log", http.StatusInternalServerError)
}

// rowState is what the status page calls a workspace: a clean scan with
// changes waiting to be applied reads "pending".
func rowState(w workspace) string {
	switch {
	case w.LastScan == nil:
		return "never"
	case w.Status == string(drift.StatusError):
		return "error"
	case w.Status == string(drift.StatusDrifted):
		return "drifted"
	case w.LastScan.Pending > 0:
		return "pending"
	}
	return "clean"
}

func stateLabel(state string) string {
	if state == "never" {
		return "never scanned"
	}
	return state
}

var stateRank = map[string]int{"error": 0, "drifted": 1, "pending": 2, "clean": 3, "never": 4}

// sortWorstFirst orders rows as people triage: failed scans, then drift
// (most resources first), then pending changes, then clean, then never
// scanned; ties by name.
func sortWorstFirst(rows []row) {
	slices.SortStableFunc(rows, func(a, b row) int {
		if c := cmp.Compare(stateRank[a.State], stateRank[b.State]); c != 0 {
			return c
		}
		if a.LastScan != nil && b.LastScan != nil {
			switch a.State {
			case "drifted":
				if c := cmp.Compare(b.LastScan.Drifted, a.LastScan.Drifted); c != 0 {
					return c
				}
			case "pending":
				if c := cmp.Compare(b.LastScan.Pending, a.LastScan.Pending); c != 0 {
					return c
				}
			}
		}
		return cmp.Compare(a.Name, b.Name)
	})
}

func sortByName(ws []workspace) {
	slices.SortFunc(ws, func(a, b workspace) int { return cmp.Compare(a.Name, b.Name) })
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
