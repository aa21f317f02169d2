package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/driftd/driftd/drift/slo"
)

// sloJSON is one summary in the JSON API (docs/http-api.md): a workspace's,
// an owner's or the fleet's. Ratios the history cannot define yet are
// null.
type sloJSON struct {
	Owner     string   `json:"owner,omitempty"`
	Workspace string   `json:"workspace,omitempty"`
	Owners    []string `json:"owners,omitempty"`
	// Workspaces counts the workspaces summed (owner, fleet).
	Workspaces int `json:"workspaces"`

	Objective    sloObjectiveJSON    `json:"objective"`
	DriftFree    *float64            `json:"drift_free"`
	ErrorBudget  sloBudgetJSON       `json:"error_budget"`
	BurnRates    map[string]*float64 `json:"burn_rates"`
	Drifting     int                 `json:"drifting"`
	Overdue      int                 `json:"overdue"`
	OldestDrift  time.Duration       `json:"oldest_drift_ns"`
	Since        time.Time           `json:"drifting_since,omitzero"`
	Scans        sloScansJSON        `json:"scans"`
	Freshness    *time.Duration      `json:"freshness_ns"`
	LastSuccess  time.Time           `json:"last_success,omitzero"`
	Unobserved   int                 `json:"unobserved"`
	Detect       sloStatsJSON        `json:"time_to_detect"`
	Resolve      sloResolveJSON      `json:"time_to_resolve"`
	ResolveRatio *float64            `json:"resolved_in_time"`
}

type sloObjectiveJSON struct {
	DriftFree     *float64      `json:"drift_free"`
	Window        time.Duration `json:"window_ns,omitempty"`
	ResolveWithin time.Duration `json:"resolve_within_ns,omitempty"`
}

type sloBudgetJSON struct {
	Observed  time.Duration `json:"observed_ns"`
	Drifted   time.Duration `json:"drifted_ns"`
	Allowed   time.Duration `json:"allowed_ns"`
	Remaining *float64      `json:"remaining"`
}

type sloScansJSON struct {
	Total   int      `json:"total"`
	Failed  int      `json:"failed"`
	Success *float64 `json:"success_ratio"`
}

type sloStatsJSON struct {
	Count int           `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	Max   time.Duration `json:"max_ns"`
}

type sloResolveJSON struct {
	sloStatsJSON
	Late int `json:"late"`
}

func ptr(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

func statsJSON(s slo.Stats) sloStatsJSON {
	mean, _ := s.Mean()
	return sloStatsJSON{Count: s.Count, Mean: mean, Max: s.Max}
}

func newSLOJSON(s *slo.Summary) sloJSON {
	out := sloJSON{
		Workspaces: s.Workspaces,
		Objective: sloObjectiveJSON{
			DriftFree: ptr(objective(s)), Window: s.Window, ResolveWithin: s.ResolveWithin,
		},
		DriftFree: ptr(s.Budget.DriftFree()),
		ErrorBudget: sloBudgetJSON{
			Observed: s.Budget.Observed, Drifted: s.Budget.Drifted, Allowed: s.Budget.Allowed,
			Remaining: ptr(s.Budget.Remaining()),
		},
		BurnRates:    make(map[string]*float64, len(s.Burn)),
		Drifting:     s.Drifting,
		Overdue:      s.Overdue,
		OldestDrift:  s.OldestDrift,
		Since:        s.DriftingSince,
		Scans:        sloScansJSON{Total: s.Scans, Failed: s.Failed, Success: ptr(s.ScanSuccess())},
		LastSuccess:  s.LastSuccess,
		Unobserved:   s.Unobserved,
		Detect:       statsJSON(s.Detect),
		Resolve:      sloResolveJSON{sloStatsJSON: statsJSON(s.Resolve), Late: s.ResolvedLate},
		ResolveRatio: ptr(s.ResolvedInTime()),
	}
	for i, b := range s.Burn {
		out.BurnRates[slo.Lookbacks[i].Name] = ptr(b.BurnRate())
	}
	if s.Fresh {
		out.Freshness = &s.Freshness
	}
	return out
}

// errNoSLO answers the SLO routes when the daemon measures none.
var errNoSLO = errors.New("SLOs are not measured by this server")

// sloFleet returns the current figures, or errNoSLO.
func (s *Server) sloFleet(ctx context.Context) (*slo.Fleet, error) {
	if s.opts.SLO == nil {
		return nil, errNoSLO
	}
	return s.opts.SLO(ctx)
}

// sloError answers a failure to get the figures.
func (s *Server) sloError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNoSLO) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	s.internalError(w, r, err)
}

func (s *Server) apiSLO(w http.ResponseWriter, r *http.Request) {
	f, err := s.sloFleet(r.Context())
	if err != nil {
		s.sloError(w, r, err)
		return
	}
	owners := make([]sloJSON, 0, len(f.Owners))
	for i := range f.Owners {
		o := newSLOJSON(&f.Owners[i].Summary)
		o.Owner = f.Owners[i].Owner
		owners = append(owners, o)
	}
	writeJSON(w, http.StatusOK, struct {
		At     time.Time `json:"at"`
		Fleet  sloJSON   `json:"fleet"`
		Owners []sloJSON `json:"owners"`
	}{f.At.UTC(), newSLOJSON(&f.Fleet), owners})
}

func (s *Server) apiSLOWorkspaces(w http.ResponseWriter, r *http.Request) {
	f, err := s.sloFleet(r.Context())
	if err != nil {
		s.sloError(w, r, err)
		return
	}
	out := make([]sloJSON, 0, len(f.Workspaces))
	for i := range f.Workspaces {
		out = append(out, workspaceSLOJSON(&f.Workspaces[i]))
	}
	writeJSON(w, http.StatusOK, struct {
		At         time.Time `json:"at"`
		Workspaces []sloJSON `json:"workspaces"`
	}{f.At.UTC(), out})
}

func workspaceSLOJSON(w *slo.Workspace) sloJSON {
	j := newSLOJSON(&w.Summary)
	j.Workspace, j.Owners = w.Workspace, w.Owners
	return j
}

func (s *Server) apiWorkspaceSLO(w http.ResponseWriter, r *http.Request) {
	ws, ok := s.lookup(w, r)
	if !ok {
		return
	}
	f, err := s.sloFleet(r.Context())
	if err != nil {
		s.sloError(w, r, err)
		return
	}
	sum := f.Find(ws.Name)
	if sum == nil {
		writeError(w, http.StatusNotFound, "workspace "+strconv.Quote(ws.Name)+" has no slo")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		At        time.Time `json:"at"`
		Workspace sloJSON   `json:"workspace"`
	}{f.At.UTC(), workspaceSLOJSON(sum)})
}
