package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/driftd/driftd/drift/slo"
)

// sloView is one SLO summary as the pages show it, every figure written
// out ("—" when the history cannot tell yet).
type sloView struct {
	// Name is the owner's name; "" for the fleet and a workspace.
	Name       string
	Workspaces int
	Objective  string
	// Window is "30d"; "" when the workspaces' windows differ.
	Window    string
	DriftFree string
	// Budget is the error budget left; BudgetState says how it stands:
	// ok (more than a quarter left), low, or out (used up).
	Budget      string
	BudgetState string
	Burn        []burnView
	Drifting    int
	Overdue     int
	OldestDrift string
	Resolve     string
	Detect      string
	ScanSuccess string
	Freshness   string
	Unobserved  int
}

// burnView is one burn rate; Hot marks one that uses the budget faster
// than it lasts.
type burnView struct {
	Window, Rate string
	Hot          bool
}

// sloPanel is what the status page shows above the workspaces: the
// fleet's SLO and each owner's.
type sloPanel struct {
	Fleet  sloView
	Owners []sloView
}

const none = "—"

func newSLOView(s *slo.Summary) sloView {
	v := sloView{
		Workspaces:  s.Workspaces,
		Objective:   none,
		DriftFree:   none,
		Budget:      none,
		Drifting:    s.Drifting,
		Overdue:     s.Overdue,
		OldestDrift: span(s.OldestDrift),
		Resolve:     statsText(s.Resolve),
		Detect:      statsText(s.Detect),
		ScanSuccess: none,
		Freshness:   none,
		Unobserved:  s.Unobserved,
	}
	if s.Window > 0 {
		v.Window = span(s.Window)
	}
	if o, ok := objective(s); ok {
		v.Objective = percent(o)
	}
	if r, ok := s.Budget.DriftFree(); ok {
		v.DriftFree = percent(r)
	}
	if r, ok := s.Budget.Remaining(); ok {
		v.Budget = percent(r)
		switch {
		case r <= 0:
			v.BudgetState = "out"
		case r < 0.25:
			v.BudgetState = "low"
		default:
			v.BudgetState = "ok"
		}
	}
	for i, b := range s.Burn {
		bv := burnView{Window: slo.Lookbacks[i].Name, Rate: none}
		if r, ok := b.BurnRate(); ok {
			bv.Rate = strconv.FormatFloat(r, 'f', 1, 64) + "×"
			bv.Hot = r > 1
		}
		v.Burn = append(v.Burn, bv)
	}
	if r, ok := s.ScanSuccess(); ok {
		v.ScanSuccess = percent(r)
	}
	if s.Fresh {
		v.Freshness = span(s.Freshness) + " ago"
	}
	return v
}

// percent writes a share with at most two decimals: 0.999 is "99.9%".
func percent(r float64) string {
	s := strconv.FormatFloat(r*100, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s + "%"
}

func statsText(st slo.Stats) string {
	mean, ok := st.Mean()
	if !ok {
		return none
	}
	return "mean " + span(mean) + ", max " + span(st.Max) + " (" + plural(st.Count, "drift") + ")"
}

// span says how long d is as people say it: "40 s", "12 min", "5 h", "3 days".
func span(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days"
}

// sloPanel returns the status page's SLO panel; nil when no workspace has
// an SLO, or (logged) when the figures cannot be read: the page shows the
// workspaces anyway.
func (s *Server) sloPanel(r *http.Request) *sloPanel {
	f, ok := s.pageFleet(r)
	if !ok || f.Fleet.Workspaces == 0 {
		return nil
	}
	p := &sloPanel{Fleet: newSLOView(&f.Fleet)}
	for i := range f.Owners {
		v := newSLOView(&f.Owners[i].Summary)
		v.Name = f.Owners[i].Owner
		p.Owners = append(p.Owners, v)
	}
	return p
}

// workspaceSLO returns one workspace's SLO for its page; nil without one.
func (s *Server) workspaceSLO(r *http.Request, name string) *sloView {
	f, ok := s.pageFleet(r)
	if !ok {
		return nil
	}
	w := f.Find(name)
	if w == nil {
		return nil
	}
	v := newSLOView(&w.Summary)
	return &v
}

func (s *Server) pageFleet(r *http.Request) (*slo.Fleet, bool) {
	if s.opts.SLO == nil {
		return nil, false
	}
	f, err := s.opts.SLO(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "SLO figures left out of the page", "path", r.URL.Path, "err", err)
		return nil, false
	}
	return f, true
}
