// Package githubtest is a fake GitHub REST API for the endpoints driftd
// uses (issues, comments, labels, App installation tokens), speaking the
// real wire format: paths, JSON shapes, pagination Link headers, and the
// error responses GitHub sends for rate limits, bad credentials, missing
// permissions and validation failures. Faults can be injected, before a
// request is acted on or after (the change is made, the answer lost).
package githubtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue is an issue as the fake stores it.
type Issue struct {
	Number      int
	Title       string
	Body        string
	State       string // "open" or "closed"
	StateReason string
	Labels      []string
	Assignees   []string
	Comments    []string
	// CommentIDs are the comments' ids (GitHub's are unique across the
	// repository), in step with Comments.
	CommentIDs []int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Request is a request the fake received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   string
}

// Fault is an error response the fake can inject.
type Fault int

const (
	// SecondaryRateLimit is a 403 with Retry-After and the documentation
	// URL go-github recognises as a secondary rate limit.
	SecondaryRateLimit Fault = iota + 1
	// PrimaryRateLimit is a 403 with X-RateLimit-Remaining: 0 and a reset
	// time RetryAfter from now.
	PrimaryRateLimit
	// TooManyRequests is a 429 with Retry-After.
	TooManyRequests
	// ServerError is a 502.
	ServerError
	// Unprocessable is a 422 Validation Failed.
	Unprocessable
	// Unauthorized is a 401 Bad credentials.
	Unauthorized
	// Forbidden is a 403 "Resource not accessible by integration".
	Forbidden
	// NotFound is a 404.
	NotFound
)

type injected struct {
	method string
	fault  Fault
	times  int
	after  bool // act on the request, then answer with the fault
}

// Server is the fake. Its zero value is not usable; call NewServer.
type Server struct {
	*httptest.Server
	Owner, Repo string
	// Token is the token requests must carry ("Bearer" or "token" scheme).
	Token string
	// InstallationToken is handed out by the App installation token
	// endpoint and accepted like Token.
	InstallationToken string
	// RetryAfter is the delay rate limit faults announce (default 1s).
	RetryAfter time.Duration

	mu       sync.Mutex
	issues   map[int]*Issue
	next     int
	comments int64 // the last comment id handed out
	now      time.Time
	faults   []injected
	requests []Request
	hold     int
	held     []chan struct{}
}

// NewServer starts a fake for repository owner/repo that accepts token. It
// is closed when the test ends.
func NewServer(t testing.TB, owner, repo, token string) *Server {
	s := &Server{
		Owner: owner, Repo: repo, Token: token,
		InstallationToken: "ghs_fakeinstallationtoken",
		RetryAfter:        time.Second,
		issues:            map[int]*Issue{},
		next:              1,
		now:               time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// BaseURL is the API base URL for go-github's client.BaseURL.
func (s *Server) BaseURL() string { return s.URL + "/" }

// Fail makes the next times requests with method ("" for any) fail with f.
func (s *Server) Fail(method string, f Fault, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, injected{method: method, fault: f, times: times})
}

// FailAfterApplying makes the next times requests with method ("" for
// any) take effect and then answer with f, as when GitHub accepts a
// request and the answer is lost (a timeout, a proxy's 502).
func (s *Server) FailAfterApplying(method string, f Fault, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, injected{method: method, fault: f, times: times, after: true})
}

// HoldCreates makes the next n issue creations wait until all n have
// arrived, so that n racing scans all create before any sees another's
// issue.
func (s *Server) HoldCreates(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = n
}

// AddIssue stores an issue as if created earlier, and returns its number.
func (s *Server) AddIssue(is Issue) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	is.Number = s.next
	s.next++
	if is.State == "" {
		is.State = "open"
	}
	is.CommentIDs = nil
	for range is.Comments {
		s.comments++
		is.CommentIDs = append(is.CommentIDs, s.comments)
	}
	s.tick()
	is.CreatedAt, is.UpdatedAt = s.now, s.now
	s.issues[is.Number] = &is
	return is.Number
}

// Issues returns a copy of every issue, by number.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, is := range s.issues {
		c := *is
		c.Labels = slices.Clone(is.Labels)
		c.Assignees = slices.Clone(is.Assignees)
		c.Comments = slices.Clone(is.Comments)
		c.CommentIDs = slices.Clone(is.CommentIDs)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// Issue returns a copy of issue n.
func (s *Server) Issue(n int) (Issue, bool) {
	for _, is := range s.Issues() {
		if is.Number == n {
			return is, true
		}
	}
	return Issue{}, false
}

// OpenIssues returns the open issues, by number.
func (s *Server) OpenIssues() []Issue {
	var out []Issue
	for _, is := range s.Issues() {
		if is.State == "open" {
			out = append(out, is)
		}
	}
	return out
}

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Mutations counts requests other than GET.
func (s *Server) Mutations() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			n++
		}
	}
	return n
}

func (s *Server) tick() { s.now = s.now.Add(time.Second) }

type apiError struct {
	Message          string           `json:"message"`
	Errors           []map[string]any `json:"errors,omitempty"`
	DocumentationURL string           `json:"documentation_url,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fault(w http.ResponseWriter, f Fault) {
	secs := strconv.Itoa(int(s.RetryAfter.Round(time.Second) / time.Second))
	switch f {
	case SecondaryRateLimit:
		w.Header().Set("Retry-After", secs)
		writeJSON(w, http.StatusForbidden, apiError{
			Message:          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	case PrimaryRateLimit:
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", "5000")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(s.RetryAfter).Unix(), 10))
		writeJSON(w, http.StatusForbidden, apiError{
			Message:          "API rate limit exceeded for installation ID 1.",
			DocumentationURL: "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
		})
	case TooManyRequests:
		w.Header().Set("Retry-After", secs)
		writeJSON(w, http.StatusTooManyRequests, apiError{Message: "Too many requests"})
	case ServerError:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
	case Unprocessable:
		writeJSON(w, http.StatusUnprocessableEntity, apiError{
			Message:          "Validation Failed",
			Errors:           []map[string]any{{"resource": "Issue", "code": "invalid", "field": "assignees"}},
			DocumentationURL: "https://docs.github.com/rest/issues/issues#create-an-issue",
		})
	case Unauthorized:
		writeJSON(w, http.StatusUnauthorized, apiError{Message: "Bad credentials", DocumentationURL: "https://docs.github.com/rest"})
	case Forbidden:
		writeJSON(w, http.StatusForbidden, apiError{
			Message:          "Resource not accessible by integration",
			DocumentationURL: "https://docs.github.com/rest/issues/issues#create-an-issue",
		})
	case NotFound:
		writeJSON(w, http.StatusNotFound, apiError{Message: "Not Found", DocumentationURL: "https://docs.github.com/rest"})
	}
}

func (s *Server) takeFault(method string) injected {
	for i, f := range s.faults {
		if f.method == "" || f.method == method {
			s.faults[i].times--
			if s.faults[i].times <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			return f
		}
	}
	return injected{}
}

// lost records what a handler answers, to be thrown away for a fault.
type lost struct {
	header http.Header
	code   int
}

func (l *lost) Header() http.Header         { return l.header }
func (l *lost) Write(b []byte) (int, error) { return len(b), nil }
func (l *lost) WriteHeader(code int)        { l.code = code }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// GitHub Enterprise serves the same API under /api/v3.
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(body)})
	f := s.takeFault(r.Method)
	s.mu.Unlock()
	if f.fault != 0 && !f.after {
		s.fault(w, f.fault)
		return
	}
	if f.fault != 0 {
		s.handle(&lost{header: http.Header{}}, r, path, body)
		s.fault(w, f.fault)
		return
	}
	s.handle(w, r, path, body)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 4 && parts[0] == "app" && parts[1] == "installations" && parts[3] == "access_tokens" && r.Method == http.MethodPost {
		// The JWT's signature is not checked: the fake only needs to see
		// that the App flow ran.
		if a := r.Header.Get("Authorization"); !strings.HasPrefix(a, "Bearer ") || strings.Count(a, ".") != 2 {
			s.fault(w, Unauthorized)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"token": s.InstallationToken, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		return
	}
	if !s.authorized(r) {
		s.fault(w, Unauthorized)
		return
	}
	if len(parts) < 4 || parts[0] != "repos" || parts[3] != "issues" {
		s.fault(w, NotFound)
		return
	}
	if parts[1] != s.Owner || parts[2] != s.Repo {
		s.fault(w, NotFound)
		return
	}
	rest := parts[4:]
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.list(w, r)
	case len(rest) == 0 && r.Method == http.MethodPost:
		s.create(w, body)
	case len(rest) == 1 && r.Method == http.MethodGet:
		s.withIssue(w, rest[0], func(is *Issue) (int, any) { return http.StatusOK, s.issueJSON(is) })
	case len(rest) == 1 && r.Method == http.MethodPatch:
		s.edit(w, rest[0], body)
	case len(rest) == 2 && rest[1] == "comments" && r.Method == http.MethodPost:
		s.comment(w, rest[0], body)
	case len(rest) == 2 && rest[1] == "comments" && r.Method == http.MethodGet:
		s.listComments(w, r, rest[0])
	case len(rest) == 2 && rest[1] == "labels" && r.Method == http.MethodPost:
		s.addLabels(w, rest[0], body)
	case len(rest) == 3 && rest[1] == "labels" && r.Method == http.MethodDelete:
		name, _ := url.PathUnescape(rest[2])
		s.removeLabel(w, rest[0], name)
	default:
		s.fault(w, NotFound)
	}
}

func (s *Server) authorized(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "token "} {
		if tok, ok := strings.CutPrefix(a, scheme); ok {
			return tok != "" && (tok == s.Token || tok == s.InstallationToken)
		}
	}
	return false
}

func (s *Server) issueJSON(is *Issue) map[string]any {
	labels := []map[string]any{}
	for _, l := range is.Labels {
		labels = append(labels, map[string]any{"name": l, "color": "ededed", "default": false})
	}
	assignees := []map[string]any{}
	for _, a := range is.Assignees {
		assignees = append(assignees, map[string]any{"login": a, "type": "User"})
	}
	m := map[string]any{
		"id":         1000 + is.Number,
		"node_id":    fmt.Sprintf("I_%d", is.Number),
		"number":     is.Number,
		"title":      is.Title,
		"body":       is.Body,
		"state":      is.State,
		"labels":     labels,
		"assignees":  assignees,
		"comments":   len(is.Comments),
		"user":       map[string]any{"login": "driftd[bot]", "type": "Bot"},
		"url":        fmt.Sprintf("%s/repos/%s/%s/issues/%d", s.URL, s.Owner, s.Repo, is.Number),
		"html_url":   fmt.Sprintf("https://github.example.com/%s/%s/issues/%d", s.Owner, s.Repo, is.Number),
		"created_at": is.CreatedAt.Format(time.RFC3339),
		"updated_at": is.UpdatedAt.Format(time.RFC3339),
	}
	if is.StateReason != "" {
		m["state_reason"] = is.StateReason
	} else {
		m["state_reason"] = nil
	}
	return m
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	perPage, page := paging(q)

	s.mu.Lock()
	var match []*Issue
	for _, is := range s.issues {
		if state != "all" && is.State != state {
			continue
		}
		ok := true
		for _, l := range want {
			if !slices.Contains(is.Labels, l) {
				ok = false
			}
		}
		if ok {
			match = append(match, is)
		}
	}
	key := func(is *Issue) time.Time { return is.CreatedAt }
	if q.Get("sort") == "updated" {
		key = func(is *Issue) time.Time { return is.UpdatedAt }
	}
	asc := q.Get("direction") == "asc"
	sort.Slice(match, func(i, j int) bool {
		a, b := key(match[i]), key(match[j])
		if a.Equal(b) {
			return match[i].Number > match[j].Number != asc
		}
		return a.After(b) != asc
	})
	last := max((len(match)+perPage-1)/perPage, 1)
	from := min((page-1)*perPage, len(match))
	to := min(from+perPage, len(match))
	out := []map[string]any{}
	for _, is := range match[from:to] {
		out = append(out, s.issueJSON(is))
	}
	s.mu.Unlock()
	setLinks(w, r, page, last)
	writeJSON(w, http.StatusOK, out)
}

type issueRequest struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	Labels      *[]string `json:"labels"`
	Assignees   *[]string `json:"assignees"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
}

func (s *Server) create(w http.ResponseWriter, body []byte) {
	var req issueRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Title == nil || *req.Title == "" {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Message: "Validation Failed", Errors: []map[string]any{{"resource": "Issue", "code": "missing_field", "field": "title"}}})
		return
	}
	s.mu.Lock()
	if s.hold > 0 {
		ch := make(chan struct{})
		s.held = append(s.held, ch)
		if len(s.held) == s.hold {
			for _, c := range s.held {
				close(c)
			}
			s.hold, s.held = 0, nil
		}
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	is := &Issue{Number: s.next, Title: *req.Title, State: "open"}
	s.next++
	if req.Body != nil {
		is.Body = *req.Body
	}
	if req.Labels != nil {
		is.Labels = slices.Clone(*req.Labels)
	}
	if req.Assignees != nil {
		is.Assignees = slices.Clone(*req.Assignees)
	}
	s.tick()
	is.CreatedAt, is.UpdatedAt = s.now, s.now
	s.issues[is.Number] = is
	out := s.issueJSON(is)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) withIssue(w http.ResponseWriter, num string, f func(*Issue) (int, any)) {
	n, err := strconv.Atoi(num)
	s.mu.Lock()
	is := s.issues[n]
	if err != nil || is == nil {
		s.mu.Unlock()
		s.fault(w, NotFound)
		return
	}
	code, out := f(is)
	s.mu.Unlock()
	writeJSON(w, code, out)
}

func (s *Server) edit(w http.ResponseWriter, num string, body []byte) {
	var req issueRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Message: "Problems parsing JSON"})
		return
	}
	s.withIssue(w, num, func(is *Issue) (int, any) {
		if req.Title != nil {
			is.Title = *req.Title
		}
		if req.Body != nil {
			is.Body = *req.Body
		}
		if req.Labels != nil {
			is.Labels = slices.Clone(*req.Labels)
		}
		if req.Assignees != nil {
			is.Assignees = slices.Clone(*req.Assignees)
		}
		if req.State != nil && *req.State != is.State {
			is.State = *req.State
			is.StateReason = ""
			if is.State == "open" {
				is.StateReason = "reopened"
			} else {
				is.StateReason = "completed"
			}
		}
		if req.StateReason != nil {
			is.StateReason = *req.StateReason
		}
		s.tick()
		is.UpdatedAt = s.now
		return http.StatusOK, s.issueJSON(is)
	})
}

func (s *Server) comment(w http.ResponseWriter, num string, body []byte) {
	var req struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Body == "" {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Message: "Validation Failed"})
		return
	}
	s.withIssue(w, num, func(is *Issue) (int, any) {
		s.comments++
		is.Comments = append(is.Comments, req.Body)
		is.CommentIDs = append(is.CommentIDs, s.comments)
		s.tick()
		is.UpdatedAt = s.now
		return http.StatusCreated, s.commentJSON(is, len(is.Comments)-1)
	})
}

func (s *Server) commentJSON(is *Issue, i int) map[string]any {
	id := is.CommentIDs[i]
	return map[string]any{
		"id":         id,
		"body":       is.Comments[i],
		"user":       map[string]any{"login": "driftd[bot]"},
		"html_url":   fmt.Sprintf("https://github.example.com/%s/%s/issues/%d#issuecomment-%d", s.Owner, s.Repo, is.Number, id),
		"created_at": s.now.Format(time.RFC3339),
	}
}

// AddComment stores a comment on issue n as if posted earlier (by a
// person, say), and returns its id.
func (s *Server) AddComment(n int, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issues[n]
	s.comments++
	is.Comments = append(is.Comments, body)
	is.CommentIDs = append(is.CommentIDs, s.comments)
	s.tick()
	is.UpdatedAt = s.now
	return s.comments
}

// CloseIssue closes issue n, as a person would.
func (s *Server) CloseIssue(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issues[n]
	is.State, is.StateReason = "closed", "completed"
	s.tick()
	is.UpdatedAt = s.now
}

// listComments lists an issue's comments oldest first, as GitHub does,
// page by page with Link headers.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request, num string) {
	q := r.URL.Query()
	perPage, page := paging(q)
	n, err := strconv.Atoi(num)
	s.mu.Lock()
	is := s.issues[n]
	if err != nil || is == nil {
		s.mu.Unlock()
		s.fault(w, NotFound)
		return
	}
	total := len(is.Comments)
	out := []map[string]any{}
	for i := min((page-1)*perPage, total); i < min(page*perPage, total); i++ {
		out = append(out, s.commentJSON(is, i))
	}
	s.mu.Unlock()
	setLinks(w, r, page, max((total+perPage-1)/perPage, 1))
	writeJSON(w, http.StatusOK, out)
}

// paging reads per_page (default 30, at most 100) and page (from 1).
func paging(q url.Values) (perPage, page int) {
	perPage, _ = strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	page, _ = strconv.Atoi(q.Get("page"))
	return min(perPage, 100), max(page, 1)
}

// setLinks sets the Link header of page of last.
func setLinks(w http.ResponseWriter, r *http.Request, page, last int) {
	link := func(p int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		qq := u.Query()
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
}

func (s *Server) addLabels(w http.ResponseWriter, num string, body []byte) {
	var names []string
	if err := json.Unmarshal(body, &names); err != nil {
		var obj struct {
			Labels []string `json:"labels"`
		}
		if err := json.Unmarshal(body, &obj); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, apiError{Message: "Validation Failed"})
			return
		}
		names = obj.Labels
	}
	s.withIssue(w, num, func(is *Issue) (int, any) {
		for _, n := range names {
			if !slices.Contains(is.Labels, n) {
				is.Labels = append(is.Labels, n)
			}
		}
		s.tick()
		is.UpdatedAt = s.now
		return http.StatusOK, s.issueJSON(is)["labels"]
	})
}

func (s *Server) removeLabel(w http.ResponseWriter, num, name string) {
	s.withIssue(w, num, func(is *Issue) (int, any) {
		i := slices.Index(is.Labels, name)
		if i < 0 {
			return http.StatusNotFound, apiError{Message: "Label does not exist"}
		}
		is.Labels = slices.Delete(is.Labels, i, i+1)
		s.tick()
		is.UpdatedAt = s.now
		return http.StatusOK, s.issueJSON(is)["labels"]
	})
}
