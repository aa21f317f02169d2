package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/schedule"
	"github.com/driftd/driftd/drift/store"
)

const (
	defaultScanLimit = 50
	maxScanLimit     = 1000
)

func (s *Server) apiWorkspaces(w http.ResponseWriter, r *http.Request) {
	all, err := s.workspaces(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Workspaces []workspace `json:"workspaces"`
	}{all})
}

func (s *Server) apiWorkspace(w http.ResponseWriter, r *http.Request) {
	ws, ok := s.lookup(w, r)
	if !ok {
		return
	}
	rep, err := s.opts.History.LastReport(r.Context(), ws.Name)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Workspace workspace     `json:"workspace"`
		Report    *drift.Report `json:"report"`
	}{ws, rep})
}

func (s *Server) apiScans(w http.ResponseWriter, r *http.Request) {
	limit := defaultScanLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxScanLimit {
			writeError(w, http.StatusBadRequest, "limit must be an integer from 1 to "+strconv.Itoa(maxScanLimit))
			return
		}
		limit = n
	}
	ws, ok := s.lookup(w, r)
	if !ok {
		return
	}
	scans, err := s.opts.History.Scans(r.Context(), ws.Name, limit)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if scans == nil {
		scans = []store.Scan{}
	}
	writeJSON(w, http.StatusOK, struct {
		Workspace string       `json:"workspace"`
		Scans     []store.Scan `json:"scans"`
	}{ws.Name, scans})
}

func (s *Server) apiTrigger(w http.ResponseWriter, r *http.Request) {
	if s.opts.TriggerToken == "" {
		writeError(w, http.StatusNotFound, "the scan trigger is disabled: no trigger token is configured")
		return
	}
	// A client that keeps failing is refused before its token is checked,
	// so that guessing the token is as slow as the budget.
	client := clientKey(r.RemoteAddr)
	if wait := s.authFails.wait(client); wait > 0 {
		tooMany(w, wait, "too many failed authentications from this address")
		return
	}
	if !s.authorized(r) {
		s.authFails.take(client)
		w.Header().Set("WWW-Authenticate", `Bearer realm="driftd"`)
		writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
		return
	}
	ws, ok := s.lookup(w, r)
	if !ok {
		return
	}
	if wait, ok := s.triggers.take(ws.Name); !ok {
		tooMany(w, wait, "too many scans of "+strconv.Quote(ws.Name)+" triggered")
		return
	}
	// The scan runs under the scheduler's context, not the request's: the
	// caller gets 202 and the scan carries on.
	_, joined, err := s.opts.Scheduler.Trigger(r.Context(), ws.Name)
	switch {
	case errors.Is(err, schedule.ErrUnknownJob):
		writeError(w, http.StatusNotFound, "unknown workspace "+strconv.Quote(ws.Name))
		return
	case errors.Is(err, schedule.ErrStopped):
		writeError(w, http.StatusServiceUnavailable, "driftd is shutting down")
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "scan triggered over HTTP", "workspace", ws.Name, "joined", joined)
	writeJSON(w, http.StatusAccepted, struct {
		Workspace string `json:"workspace"`
		Joined    bool   `json:"joined"`
	}{ws.Name, joined})
}

// authorized checks the bearer token. Hashing both sides first makes the
// comparison constant-time in the token's length too.
func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	want := sha256.Sum256([]byte(s.opts.TriggerToken))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// lookup finds the workspace named in the path, answering 404 or 500
// itself when it cannot.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (workspace, bool) {
	name := r.PathValue("name")
	ws, err := s.workspace(r.Context(), name)
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, "unknown workspace "+strconv.Quote(name))
		return workspace{}, false
	case err != nil:
		s.internalError(w, r, err)
		return workspace{}, false
	}
	return ws, true
}

// internalError logs the cause and tells the client only that something
// failed: store errors may name paths the client has no business seeing.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error; see driftd's log")
}

// tooMany answers 429 with the whole seconds until the client may retry.
func tooMany(w http.ResponseWriter, wait time.Duration, msg string) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("%s; retry in %ds", msg, secs))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status line is out; a failed write has no one left to tell
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}
