package server

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

// entry is a workspace as the status page filters and sorts it: the
// store's summary and the config's owners. Only the rows of the page shown
// are completed into a workspace (describe), so that a fleet of thousands
// costs the scheduler and the reporters a page's worth of questions.
type entry struct {
	name   string
	sum    *store.Summary // nil: never scanned
	state  string         // error, drifted, pending, clean, never
	owners []string
}

// entries returns every workspace the server shows, sorted by name. It
// runs on every view of the status page, so it allocates the entries and
// nothing per workspace besides: the summaries are found by binary search
// in the store's sorted (shared) slice, not through a map.
func (s *Server) entries(ctx context.Context) ([]entry, error) {
	sums, err := s.opts.History.Workspaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("read workspaces: %w", err)
	}
	names := s.names(sums)
	if !slices.IsSorted(names) {
		names = slices.Sorted(slices.Values(names))
	}
	out := make([]entry, 0, len(names))
	for i, n := range names {
		if i > 0 && n == names[i-1] {
			continue
		}
		e := entry{name: n}
		if j, ok := slices.BinarySearchFunc(sums, n, func(s store.Summary, name string) int {
			return strings.Compare(s.Workspace, name)
		}); ok {
			e.sum = &sums[j]
		}
		out = append(out, s.entry(e))
	}
	return out, nil
}

// entry fills in e's state and owners.
func (s *Server) entry(e entry) entry {
	e.state = stateOf(e.sum)
	if s.opts.Owners != nil {
		e.owners = s.opts.Owners(e.name)
	}
	return e
}

// stateOf is what the status page calls a workspace: a clean scan with
// changes waiting to be applied reads "pending".
func stateOf(sum *store.Summary) string {
	switch {
	case sum == nil:
		return "never"
	case sum.Last.Status == drift.StatusError:
		return "error"
	case sum.Last.Status == drift.StatusDrifted:
		return "drifted"
	case sum.Last.Pending > 0:
		return "pending"
	}
	return "clean"
}

var stateRank = map[string]int{"error": 0, "drifted": 1, "pending": 2, "clean": 3, "never": 4}

// states lists row states in the status page's order.
var states = []string{"error", "drifted", "pending", "clean", "never"}

// sortWorstFirst orders entries as people triage: failed scans, then
// drift (most resources first), then pending changes, then clean, then
// never scanned; ties by name, so that the order is total and pages never
// overlap.
func sortWorstFirst(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		if c := cmp.Compare(stateRank[a.state], stateRank[b.state]); c != 0 {
			return c
		}
		switch a.state {
		case "drifted":
			if c := cmp.Compare(b.sum.Last.Drifted, a.sum.Last.Drifted); c != 0 {
				return c
			}
		case "pending":
			if c := cmp.Compare(b.sum.Last.Pending, a.sum.Last.Pending); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.name, b.name)
	})
}

// pageSize is how many workspaces one status page shows.
const pageSize = 100

// maxQuery bounds the search text, in bytes.
const maxQuery = 200

// noOwner is the owner filter for workspaces without owners: no GitHub
// login or team starts with "-".
const noOwner = "-"

// query is the status page's state, kept in its URL: which workspaces
// (state, owner, text) and which page of them.
type query struct {
	State string // "" for every state
	Owner string // "" for every owner, noOwner for none
	Q     string
	Page  int // from 1
}

// parseQuery reads the status page's query string; an unknown state, a
// page that is not a positive number or an overlong search is an error
// that says what was expected.
func parseQuery(v url.Values) (query, error) {
	q := query{
		State: v.Get("status"),
		Owner: strings.TrimPrefix(strings.TrimSpace(v.Get("owner")), "@"),
		Q:     strings.TrimSpace(v.Get("q")),
		Page:  1,
	}
	if q.State != "" && !slices.Contains(states, q.State) {
		return query{}, fmt.Errorf("status must be one of %s, got %q", strings.Join(states, ", "), q.State)
	}
	if len(q.Q) > maxQuery || !utf8.ValidString(q.Q) {
		return query{}, fmt.Errorf("q must be UTF-8 text of at most %d bytes", maxQuery)
	}
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return query{}, fmt.Errorf("page must be a whole number from 1, got %q", p)
		}
		q.Page = n
	}
	return q, nil
}

// matches says whether e passes the owner and text filters (not the state
// one: the state chips count what those two leave).
func (q query) matches(e entry) bool {
	switch q.Owner {
	case "":
	case noOwner:
		if len(e.owners) > 0 {
			return false
		}
	default:
		if !slices.ContainsFunc(e.owners, func(o string) bool { return strings.EqualFold(o, q.Owner) }) {
			return false
		}
	}
	if q.Q == "" {
		return true
	}
	if containsFold(e.name, q.Q) || slices.ContainsFunc(e.owners, func(o string) bool { return containsFold(o, q.Q) }) {
		return true
	}
	return e.state == "error" && containsFold(errorLine(e.name, e.sum.Last.Error), q.Q)
}

// URL is the status page for q, with only the parameters that differ from
// the defaults.
func (q query) URL() string {
	v := url.Values{}
	if q.State != "" {
		v.Set("status", q.State)
	}
	if q.Owner != "" {
		v.Set("owner", q.Owner)
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

// WithState, WithOwner and WithPage return the URL of q changed so; a
// filter change starts again at page 1.
func (q query) WithState(state string) string {
	q.State, q.Page = state, 1
	return q.URL()
}

func (q query) WithOwner(owner string) string {
	q.Owner, q.Page = owner, 1
	return q.URL()
}

func (q query) WithPage(page int) string {
	q.Page = page
	return q.URL()
}

// Filtered says whether any filter is set.
func (q query) Filtered() bool { return q.State != "" || q.Owner != "" || q.Q != "" }

// containsFold reports whether sub is in s, ignoring case, without
// allocating: it runs for every workspace on every search.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
		// Only start at rune boundaries.
		for i+1 < len(s) && !utf8.RuneStart(s[i+1]) {
			i++
		}
	}
	return false
}

// maxErrorLine bounds the error shown on a status page row, in runes.
const maxErrorLine = 160

// errorLine is the first line of a failed scan's error that says something,
// without the runner's `workspace "NAME": ` prefix (the row names the
// workspace), cut to maxErrorLine runes.
func errorLine(name, text string) string {
	text = strings.TrimPrefix(strings.TrimSpace(text), "workspace "+strconv.Quote(name)+": ")
	line, _, _ := strings.Cut(text, "\n")
	line = strings.TrimSpace(line)
	if utf8.RuneCountInString(line) <= maxErrorLine {
		return line
	}
	n := 0
	for i := range line {
		if n == maxErrorLine-1 {
			return line[:i] + "…"
		}
		n++
	}
	return line
}
