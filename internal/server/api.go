package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
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
	es, err := s.entries(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	// Each workspace is described as it is written, so that a request
	// holds one described workspace at a time, not thousands.
	running := s.running()
	writeJSONList(w, "workspaces", func(yield func(workspace) bool) {
		for _, e := range es {
			if !yield(s.describe(e, running[e.name])) {
				return
			}
		}
	})
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
	token, ok := bearer(r)
	tr := s.trigger(r, r.PathValue("name"), token, ok)
	switch {
	case tr.err != nil:
		s.internalError(w, r, tr.err)
	case tr.code == http.StatusAccepted:
		writeJSON(w, tr.code, struct {
			Workspace string `json:"workspace"`
			Joined    bool   `json:"joined"`
		}{r.PathValue("name"), tr.joined})
	default:
		if tr.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="driftd"`)
			tr.msg = "a valid bearer token is required"
		}
		if tr.retry > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(tr.retrySeconds()))
		}
		writeError(w, tr.code, tr.msg)
	}
}

// pageTrigger is the workspace page's re-scan button: a form that posts
// the trigger token, which the page never holds. Success redirects to the
// page (so that a reload does not post again); a failure shows the page
// with what went wrong.
func (s *Server) pageTrigger(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	token := r.PostForm.Get("token")
	tr := s.trigger(r, r.PathValue("name"), token, token != "")
	switch {
	case tr.err != nil:
		s.pageError(w, r, tr.err)
	case tr.code == http.StatusAccepted:
		outcome := "started"
		if tr.joined {
			outcome = "joined"
		}
		http.Redirect(w, r, "/workspaces/"+url.PathEscape(r.PathValue("name"))+"?scan="+outcome, http.StatusSeeOther)
	case tr.code == http.StatusNotFound && !tr.disabled:
		http.Error(w, tr.msg, tr.code)
	default:
		if tr.retry > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(tr.retrySeconds()))
		}
		s.showWorkspace(w, r, &tr)
	}
}

// triggerResult is how a scan trigger ended: 202 (joined says whether
// a scan was already under way), an error status with its message, or err
// for a failure of driftd's own.
type triggerResult struct {
	code   int
	msg    string
	joined bool
	// retry is how long a client over its budget must wait.
	retry time.Duration
	// disabled: no trigger token is configured.
	disabled bool
	err      error
}

func (tr triggerResult) retrySeconds() int { return int((tr.retry + time.Second - 1) / time.Second) }

// Message is what the workspace page says about the trigger.
func (tr triggerResult) Message() string {
	switch {
	case tr.code == http.StatusAccepted && tr.joined:
		return "A scan was already under way; it will show here when it ends."
	case tr.code == http.StatusAccepted:
		return "Scan started; it will show here when it ends."
	}
	return tr.msg
}

// Failed says whether the trigger was refused.
func (tr triggerResult) Failed() bool { return tr.code != http.StatusAccepted }

// trigger starts a scan of the workspace name for a client that presented
// token (given says whether it presented one at all).
func (s *Server) trigger(r *http.Request, name, token string, given bool) triggerResult {
	want := s.triggerToken()
	if want == "" {
		return triggerResult{code: http.StatusNotFound, msg: "the scan trigger is disabled: no trigger token is configured", disabled: true}
	}
	// A client that keeps failing is refused before its token is checked,
	// so that guessing the token is as slow as the budget.
	client := clientKey(r.RemoteAddr)
	if wait := s.authFails.wait(client); wait > 0 {
		tr := triggerResult{code: http.StatusTooManyRequests, retry: wait}
		tr.msg = fmt.Sprintf("too many failed authentications from this address; retry in %ds", tr.retrySeconds())
		return tr
	}
	if !given || !validToken(token, want) {
		s.authFails.take(client)
		return triggerResult{code: http.StatusUnauthorized, msg: "a valid trigger token is required"}
	}
	ws, err := s.workspace(r.Context(), name)
	switch {
	case errors.Is(err, errNotFound):
		return triggerResult{code: http.StatusNotFound, msg: "unknown workspace " + strconv.Quote(name)}
	case err != nil:
		return triggerResult{err: err}
	}
	if wait, ok := s.triggers.take(ws.Name); !ok {
		tr := triggerResult{code: http.StatusTooManyRequests, retry: wait}
		tr.msg = fmt.Sprintf("too many scans of %s triggered; retry in %ds", strconv.Quote(ws.Name), tr.retrySeconds())
		return tr
	}
	// The scan runs under the scheduler's context, not the request's: the
	// caller gets 202 and the scan carries on.
	_, joined, err := s.opts.Scheduler.Trigger(r.Context(), ws.Name)
	switch {
	case errors.Is(err, schedule.ErrUnknownJob):
		return triggerResult{code: http.StatusNotFound, msg: "unknown workspace " + strconv.Quote(ws.Name)}
	case errors.Is(err, schedule.ErrStopped):
		return triggerResult{code: http.StatusServiceUnavailable, msg: "driftd is shutting down"}
	case err != nil:
		return triggerResult{err: err}
	}
	s.log.InfoContext(r.Context(), "scan triggered over HTTP", "workspace", ws.Name, "joined", joined)
	return triggerResult{code: http.StatusAccepted, joined: joined}
}

// bearer returns the request's bearer token; false when it has none.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// validToken checks a trigger token against the one configured. Hashing
// both sides first makes the comparison constant-time in the token's
// length too.
func validToken(token, configured string) bool {
	got := sha256.Sum256([]byte(token))
	want := sha256.Sum256([]byte(configured))
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

// jsonHeader starts a JSON answer.
func jsonHeader(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	jsonHeader(w, code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status line is out; a failed write has no one left to tell
}

// writeJSONList writes {"key": [items...]} as writeJSON would, one item
// at a time: a list of 5,000 workspaces is megabytes of JSON, and encoding
// it whole held the document twice over (compact, then indented) per
// request, which a few clients at once turned into over 100 MB of heap.
func writeJSONList[T any](w http.ResponseWriter, key string, items iter.Seq[T]) {
	jsonHeader(w, http.StatusOK)
	name, _ := json.Marshal(key)
	bw := bufio.NewWriterSize(w, 64<<10)
	// Each item indented as the whole document's encoder would, two levels
	// in; Encode ends it with a newline, which a comma or the end replaces.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("    ", "  ")
	n := 0
	for item := range items {
		buf.Reset()
		if n == 0 {
			fmt.Fprintf(&buf, "{\n  %s: [\n    ", name)
		} else {
			buf.WriteString(",\n    ")
		}
		if err := enc.Encode(item); err != nil {
			return // the status line is out; as in writeJSON, no one is left to tell
		}
		buf.Truncate(buf.Len() - 1)
		if _, err := bw.Write(buf.Bytes()); err != nil {
			return
		}
		n++
	}
	if n == 0 {
		fmt.Fprintf(bw, "{\n  %s: []\n}\n", name)
	} else {
		bw.WriteString("\n  ]\n}\n")
	}
	_ = bw.Flush()
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}
