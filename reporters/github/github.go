// Package github keeps one GitHub issue per drifted workspace: opened when
// drift appears, updated (with a comment) when it changes, closed when it is
// gone, reopened when it comes back. A failed scan never closes an issue.
//
// Issues are found again by a hidden marker in their body,
//
//	<!-- driftd:workspace=NAME fingerprint=FP first_seen=TIME comment=ID -->
//
// among the issues carrying driftd's label, listed (never searched: the
// search API lags behind writes) with pagination. The marker is also the
// bookkeeping: GitHub itself is the source of truth, so a crash between
// creating an issue and saving anything else loses nothing.
//
// Every comment driftd posts ends with a marker of the issue state it
// announces, and the issue's marker records the last comment whose edit
// followed. A retry (or the next run, after a crash) that finds a comment
// for the same state that no edit followed does the edit without posting
// the comment again: the same comment is never posted twice.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/reporters"
)

// MaxBodyLength is GitHub's limit on an issue body, in characters. Bodies
// are kept under it counting bytes, which is never fewer.
const MaxBodyLength = 65536

// FailedLabel marks an issue whose workspace's last scan failed.
const FailedLabel = "driftd: scan failed"

// App authenticates as a GitHub App installation.
type App struct {
	AppID          int64
	InstallationID int64
	PrivateKey     []byte // PEM
}

// Config configures the reporter. Exactly one of Token and App is set.
type Config struct {
	// Repository is "owner/repo".
	Repository string
	// BaseURL is a GitHub Enterprise Server URL ("https://ghe.example.com/";
	// "api/v3/" is added when missing). Empty means github.com.
	BaseURL string
	Token   string
	App     *App
	// Labels are put on every issue; the first is how driftd finds its
	// issues again. Default ["drift"].
	Labels []string
	// AssignOwners assigns the workspace's owners that are users (not
	// "org/team") to new issues.
	AssignOwners bool
	// MaxOpenIssues caps the driftd issues open at once; 0 means no cap.
	MaxOpenIssues int
	// ErrorIssues opens an issue for a failed scan when the workspace has
	// none open. A failed scan always comments on an open issue.
	ErrorIssues bool
	// Timeout bounds one delivery attempt (several API calls); zero
	// keeps the Dispatcher's.
	Timeout time.Duration
	// HTTPClient is the base client (proxies, timeouts); nil means a new
	// client with the default transport.
	HTTPClient *http.Client
	// State, when set, is where the reporters.Dispatcher keeps this
	// reporter's bookkeeping, issue URL included, so that Link answers
	// after a restart, before the workspace's next delivery.
	State reporters.State
}

// ErrTooManyIssues is returned when MaxOpenIssues keeps an issue from opening.
var ErrTooManyIssues = errors.New("max_open_issues reached")

// Reporter is the GitHub issue reporter.
type Reporter struct {
	cfg         Config
	owner, repo string
	client      *gh.Client
	logger      *slog.Logger
	links       sync.Map // workspace -> issueRef, zero for none; absent: ask State
}

// issueRef is a workspace's issue as GitHub last answered about it.
type issueRef struct{ url, title string }

func (r *Reporter) setIssue(workspace string, is *gh.Issue) {
	r.links.Store(workspace, issueRef{is.GetHTMLURL(), is.GetTitle()})
}

var (
	_ reporters.Reporter      = (*Reporter)(nil)
	_ reporters.Linker        = (*Reporter)(nil)
	_ reporters.SourceOfTruth = (*Reporter)(nil)
	_ reporters.Timeouter     = (*Reporter)(nil)
)

// New returns a reporter for cfg.
func New(cfg Config, logger *slog.Logger) (*Reporter, error) {
	owner, repo, ok := strings.Cut(cfg.Repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("github: repository %q: want owner/repo", cfg.Repository)
	}
	if len(cfg.Labels) == 0 {
		cfg.Labels = []string{"drift"}
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	var client *gh.Client
	var itr *ghinstallation.Transport
	switch {
	case cfg.App != nil && cfg.Token != "":
		return nil, errors.New("github: set a token or an App, not both")
	case cfg.App != nil:
		tr := base.Transport
		if tr == nil {
			tr = http.DefaultTransport
		}
		var err error
		itr, err = ghinstallation.New(tr, cfg.App.AppID, cfg.App.InstallationID, cfg.App.PrivateKey)
		if err != nil {
			// The error names the key's problem, never the key.
			return nil, fmt.Errorf("github: app %d: private key: %w", cfg.App.AppID, err)
		}
		hc := *base
		hc.Transport = itr
		client = gh.NewClient(&hc)
	case cfg.Token != "":
		client = gh.NewClient(base).WithAuthToken(cfg.Token)
	default:
		return nil, errors.New("github: no token and no App configured")
	}
	if cfg.BaseURL != "" {
		var err error
		if client, err = client.WithEnterpriseURLs(cfg.BaseURL, cfg.BaseURL); err != nil {
			return nil, fmt.Errorf("github: base URL: %w", err)
		}
		if itr != nil {
			itr.BaseURL = strings.TrimSuffix(client.BaseURL.String(), "/")
		}
	}
	return &Reporter{cfg: cfg, owner: owner, repo: repo, client: client, logger: logger}, nil
}

// Name implements reporters.Reporter.
func (r *Reporter) Name() string { return "github" }

// Timeout implements reporters.Timeouter.
func (r *Reporter) Timeout() time.Duration { return r.cfg.Timeout }

// Link implements reporters.Linker: the URL of the workspace's issue as of
// the last delivery, by this process or, from State, an earlier one.
func (r *Reporter) Link(workspace string) string {
	u, _ := r.Issue(workspace)
	return u
}

// Issue returns the URL and title of the workspace's issue as of the last
// delivery, as Link does.
func (r *Reporter) Issue(workspace string) (url, title string) {
	if v, ok := r.links.Load(workspace); ok {
		ref := v.(issueRef)
		return ref.url, ref.title
	}
	if r.cfg.State == nil {
		return "", ""
	}
	var told reporters.Told
	if _, err := reporters.LoadJSON(context.Background(), r.cfg.State, workspace, r.Name(), &told); err != nil {
		r.logger.Warn("github: issue link not read", "workspace", workspace, "error", err)
		return "", ""
	}
	// Kept, so that the status page reads the store once per workspace; a
	// delivery in the meantime wins.
	v, _ := r.links.LoadOrStore(workspace, issueRef{told.Link, told.Title})
	ref := v.(issueRef)
	return ref.url, ref.title
}

// SourceOfTruth implements reporters.SourceOfTruth: the issues are the
// record of what was told.
func (r *Reporter) SourceOfTruth() bool { return true }

// marker is what an issue's hidden marker says.
type marker struct {
	Workspace   string
	Fingerprint string
	Failed      bool // the last scan failed; Fingerprint is the drift before it
	// FirstSeen is when the drift the issue shows was first detected.
	FirstSeen time.Time
	// Comment is the last comment driftd posted whose edit followed.
	Comment int64
}

var markerRE = regexp.MustCompile(`<!-- driftd:workspace=(\S+) fingerprint=(\S*)( status=error)?(?: first_seen=(\S+))?(?: comment=([0-9]+))? -->`)

func (m marker) String() string {
	s := "<!-- driftd:workspace=" + url.PathEscape(m.Workspace) + " fingerprint=" + m.Fingerprint
	if m.Failed {
		s += " status=error"
	}
	if !m.FirstSeen.IsZero() {
		s += " first_seen=" + m.FirstSeen.UTC().Format(time.RFC3339)
	}
	if m.Comment != 0 {
		s += " comment=" + strconv.FormatInt(m.Comment, 10)
	}
	return s + " -->"
}

func parseMarker(body string) (marker, bool) {
	sm := markerRE.FindStringSubmatch(body)
	if sm == nil {
		return marker{}, false
	}
	ws, err := url.PathUnescape(sm[1])
	if err != nil {
		return marker{}, false
	}
	m := marker{Workspace: ws, Fingerprint: sm[2], Failed: sm[3] != ""}
	m.FirstSeen, _ = time.Parse(time.RFC3339, sm[4]) // zero when absent
	m.Comment, _ = strconv.ParseInt(sm[5], 10, 64)
	return m, true
}

// key names the issue state m (with the issue open or closed) announces,
// for the marker at the end of the comment announcing it.
func (m marker) key(state string) string {
	status := "ok"
	if m.Failed {
		status = "error"
	}
	return state + "/" + status + "/" + m.Fingerprint
}

var commentRE = regexp.MustCompile(`<!-- driftd:comment=(\S+) -->`)

func commentMarker(key string) string { return "<!-- driftd:comment=" + key + " -->" }

// found is what the list of open issues says about one workspace.
type found struct {
	open       []*gh.Issue // this workspace's open issues, lowest number first
	openOthers int         // driftd issues open for other workspaces
}

// prevFrom reconstructs the previous report from the workspace's open
// issue: what GitHub knows, with nothing stored elsewhere. No open issue
// means no drift known (nil).
func prevFrom(open *gh.Issue, workspace string) *drift.Report {
	if open == nil {
		return nil
	}
	m, _ := parseMarker(open.GetBody())
	p := &drift.Report{SchemaVersion: drift.SchemaVersion, Workspace: workspace, Status: drift.StatusDrifted, Fingerprint: m.Fingerprint}
	if m.Failed {
		p.Status = drift.StatusError
	}
	return p
}

// list calls f with driftd's issues in state ("open", "closed"), most
// recently updated first, page after page (Link headers), until f returns
// false or the pages run out. Issues without a marker are skipped.
func (r *Reporter) list(ctx context.Context, state string, f func(*gh.Issue, marker) bool) error {
	opt := &gh.IssueListByRepoOptions{
		State: state, Labels: r.cfg.Labels[:1], Sort: "updated", Direction: "desc",
		ListOptions: gh.ListOptions{PerPage: 100},
	}
	for {
		page, resp, err := r.client.Issues.ListByRepo(ctx, r.owner, r.repo, opt)
		if err != nil {
			return opError{"list issues", err}
		}
		for _, is := range page {
			if is.IsPullRequest() {
				continue
			}
			if m, ok := parseMarker(is.GetBody()); ok && !f(is, m) {
				return nil
			}
		}
		if resp.NextPage == 0 {
			return nil
		}
		opt.Page = resp.NextPage
	}
}

// find lists driftd's open issues (every page: they are few, bounded by
// max_open_issues in practice) and picks out the workspace's.
func (r *Reporter) find(ctx context.Context, workspace string) (found, error) {
	var f found
	err := r.list(ctx, "open", func(is *gh.Issue, m marker) bool {
		if m.Workspace == workspace {
			f.open = append(f.open, is)
		} else {
			f.openOthers++
		}
		return true
	})
	slices.SortFunc(f.open, func(a, b *gh.Issue) int { return a.GetNumber() - b.GetNumber() })
	return f, err
}

// lastClosed returns the workspace's most recently updated closed issue, to
// reopen rather than open another. Closed issues pile up over the years,
// so they are paged through only when about to open an issue, and only
// until the first match.
func (r *Reporter) lastClosed(ctx context.Context, workspace string) (*gh.Issue, error) {
	var last *gh.Issue
	err := r.list(ctx, "closed", func(is *gh.Issue, m marker) bool {
		if m.Workspace == workspace {
			last = is
			return false
		}
		return true
	})
	return last, err
}

// Notify implements reporters.Reporter. GitHub is its own record: the
// transition is judged against the workspace's open issue, whatever the
// Dispatcher's record says; n gives the drift told before (for what
// changed) and the first-seen time.
func (r *Reporter) Notify(ctx context.Context, n reporters.Notification) (reporters.Receipt, bool, error) {
	sent, err := r.report(ctx, n)
	rc := reporters.Receipt{Sent: sent}
	if v, ok := r.links.Load(n.Cur.Workspace); ok {
		ref := v.(issueRef)
		rc.Link, rc.Title = ref.url, ref.title
	}
	if err != nil {
		retry, err := r.classify(err, "")
		return rc, retry, err
	}
	return rc, false, nil
}

// report acts on the transition and says whether it changed GitHub.
func (r *Reporter) report(ctx context.Context, n reporters.Notification) (bool, error) {
	cur := n.Cur
	ws := cur.Workspace
	r.links.Delete(ws) // unknown until GitHub answers
	f, err := r.find(ctx, ws)
	if err != nil {
		return false, err
	}
	deduped := len(f.open) > 1
	if deduped {
		if err := r.dedupe(ctx, f.open); err != nil {
			return true, err
		}
		f.open = f.open[:1]
	}
	var open *gh.Issue
	r.links.Store(ws, issueRef{})
	if len(f.open) > 0 {
		open = f.open[0]
		r.setIssue(ws, open)
	}
	ghPrev := prevFrom(open, ws)
	kind := reporters.Transition(cur, ghPrev)
	r.logger.LogAttrs(ctx, slog.LevelDebug, "github transition", slog.String("workspace", ws), slog.String("kind", kind.String()))

	switch kind {
	case reporters.New:
		if open != nil { // an error issue: the scan works again and found drift
			return true, r.update(ctx, open, n, "The scan succeeds again and found drift:\n\n"+summaryLine(cur), "")
		}
		back := "Drift is back, so this issue is reopened.\n\n" + summaryLine(cur)
		if !n.Before.IsZero() {
			back = fmt.Sprintf("Drift is back (the last drift was resolved %s), so this issue is reopened.\n\n%s", stamp(n.Before), summaryLine(cur))
		}
		return true, r.openIssue(ctx, f, n, back)
	case reporters.Changed:
		return true, r.update(ctx, open, n, changeComment(n, ghPrev), "")
	case reporters.Resolved:
		return true, r.update(ctx, open, n, fmt.Sprintf("No drift left in %s as of %s%s; closing.", render.MarkdownCode(ws), when(cur), lasted(n)), "closed")
	case reporters.Recovered:
		if cur.Status == drift.StatusDrifted {
			return true, r.update(ctx, open, n, "The scan succeeds again; the drift is unchanged.", "")
		}
		return true, r.update(ctx, open, n, fmt.Sprintf("The scan of %s succeeds again and finds no drift; closing.", render.MarkdownCode(ws)), "closed")
	case reporters.Error:
		if open != nil {
			return true, r.markFailed(ctx, open, cur)
		}
		if r.cfg.ErrorIssues {
			return true, r.openIssue(ctx, f, n, "The scan is failing, so this issue is reopened.")
		}
	}
	return deduped, nil // None, StillError
}

// lasted says how long the drift just resolved lasted.
func lasted(n reporters.Notification) string {
	if n.FirstSeen.IsZero() || n.Resolved.IsZero() {
		return ""
	}
	return fmt.Sprintf(" (it drifted for %s, since %s)", reporters.Lasted(n.Resolved.Sub(n.FirstSeen)), stamp(n.FirstSeen))
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// openIssue reopens the workspace's last closed issue (with comment) or,
// when it has none, creates one; either way within max_open_issues.
func (r *Reporter) openIssue(ctx context.Context, f found, n reporters.Notification, comment string) error {
	cur := n.Cur
	if limit := r.cfg.MaxOpenIssues; limit > 0 && f.openOthers >= limit {
		return fmt.Errorf("%w: %d driftd issues are open in %s/%s (max_open_issues %d); not opening one for workspace %s",
			ErrTooManyIssues, f.openOthers, r.owner, r.repo, limit, cur.Workspace)
	}
	last, err := r.lastClosed(ctx, cur.Workspace)
	if err != nil {
		return err
	}
	if last != nil {
		return r.update(ctx, last, n, comment, "open")
	}
	return r.create(ctx, n)
}

func when(r *drift.Report) string {
	if r.StartedAt.IsZero() {
		return "the last scan"
	}
	return "the scan of " + r.StartedAt.UTC().Format("2006-01-02 15:04 UTC")
}

func summaryLine(r *drift.Report) string { return "**" + render.MarkdownText(render.Summary(r)) + "**" }

func title(r *drift.Report) string {
	if r.Status == drift.StatusError {
		return "Drift scan failing for workspace " + r.Workspace
	}
	return "Drift detected in workspace " + r.Workspace
}

// markerFor is the marker of an issue showing cur; prev is the marker of
// the open issue it replaces, if any (the drift known before a failure, and
// when it was first seen).
func markerFor(cur *drift.Report, prev marker, firstSeen time.Time) marker {
	if cur.Status == drift.StatusError {
		return marker{Workspace: cur.Workspace, Fingerprint: prev.Fingerprint, Failed: true, FirstSeen: prev.FirstSeen}
	}
	m := marker{Workspace: cur.Workspace, Fingerprint: cur.Fingerprint}
	if cur.Status == drift.StatusDrifted {
		// The issue's own record wins when it is older: driftd's may have
		// been lost (a fresh cache dir).
		m.FirstSeen = firstSeen
		if !prev.FirstSeen.IsZero() && (firstSeen.IsZero() || prev.FirstSeen.Before(firstSeen)) {
			m.FirstSeen = prev.FirstSeen
		}
	}
	return m
}

// create opens a new issue, then makes sure it is the only open one for
// the workspace: a racing scan may have opened another meanwhile.
func (r *Reporter) create(ctx context.Context, n reporters.Notification) error {
	cur := n.Cur
	req := &gh.IssueRequest{
		Title:  gh.String(title(cur)),
		Body:   gh.String(issueBody(cur, markerFor(cur, marker{}, n.FirstSeen))),
		Labels: &r.cfg.Labels,
	}
	if cur.Status == drift.StatusError {
		labels := append(slices.Clone(r.cfg.Labels), FailedLabel)
		req.Labels = &labels
	}
	if r.cfg.AssignOwners {
		if as := assignees(cur.Owners); len(as) > 0 {
			req.Assignees = &as
		}
	}
	created, _, err := r.client.Issues.Create(ctx, r.owner, r.repo, req)
	if err != nil {
		return opError{"create issue", err}
	}
	r.setIssue(cur.Workspace, created)
	r.logger.LogAttrs(ctx, slog.LevelInfo, "github issue opened", slog.String("workspace", cur.Workspace), slog.Int("issue", created.GetNumber()))

	again, err := r.find(ctx, cur.Workspace)
	if err != nil {
		return err
	}
	if len(again.open) < 2 {
		return nil
	}
	if err := r.dedupe(ctx, again.open); err != nil {
		return err
	}
	keep := again.open[0]
	if keep.GetNumber() == created.GetNumber() {
		return nil
	}
	// Ours lost: bring the survivor up to date with this scan.
	r.setIssue(cur.Workspace, keep)
	edited, _, err := r.client.Issues.Edit(ctx, r.owner, r.repo, keep.GetNumber(), &gh.IssueRequest{Title: req.Title, Body: req.Body})
	if err != nil {
		return opError{"edit issue", err}
	}
	r.setIssue(cur.Workspace, edited)
	return nil
}

// dedupe keeps the lowest-numbered open issue and closes the others as its
// duplicates. Every scan that sees duplicates does the same, so racing
// scans agree.
func (r *Reporter) dedupe(ctx context.Context, open []*gh.Issue) error {
	keep := open[0].GetNumber()
	for _, d := range open[1:] {
		n := d.GetNumber()
		msg := fmt.Sprintf("Duplicate of #%d: driftd keeps one issue per workspace.", keep)
		m, _ := parseMarker(d.GetBody())
		id, err := r.comment(ctx, d, m, "duplicate-of/"+strconv.Itoa(keep), msg)
		if err != nil {
			return err
		}
		m.Comment = id
		body := markerRE.ReplaceAllLiteralString(d.GetBody(), m.String())
		if _, _, err := r.client.Issues.Edit(ctx, r.owner, r.repo, n, &gh.IssueRequest{Body: &body, State: gh.String("closed"), StateReason: gh.String("not_planned")}); err != nil {
			return opError{"close duplicate issue", err}
		}
		r.logger.LogAttrs(ctx, slog.LevelInfo, "github duplicate issue closed", slog.Int("issue", n), slog.Int("kept", keep))
	}
	return nil
}

// update comments on is, then rewrites its title, body and failed label,
// and sets its state ("" keeps it). The comment goes first: if the edit
// fails, a retry sees the old marker and acts again rather than never, and
// finds the comment already posted (see comment).
func (r *Reporter) update(ctx context.Context, is *gh.Issue, n reporters.Notification, comment, state string) error {
	cur := n.Cur
	num := is.GetNumber()
	had, _ := parseMarker(is.GetBody())
	prev := had
	if is.GetState() != "open" {
		prev = marker{Workspace: cur.Workspace} // a closed issue's drift is over
	}
	m := markerFor(cur, prev, n.FirstSeen)
	id, err := r.comment(ctx, is, had, m.key(or(state, is.GetState())), comment)
	if err != nil {
		return err
	}
	m.Comment = id
	req := &gh.IssueRequest{}
	if cur.Status != drift.StatusClean {
		req.Title = gh.String(title(cur))
		req.Body = gh.String(issueBody(cur, m))
	} else {
		// The body keeps showing the drift that was; only the marker moves.
		m.Fingerprint, m.FirstSeen = prev.Fingerprint, prev.FirstSeen
		req.Body = gh.String(markerRE.ReplaceAllLiteralString(is.GetBody(), m.String()))
	}
	labels := labelNames(is)
	if cur.Status != drift.StatusError && slices.Contains(labels, FailedLabel) {
		labels = slices.DeleteFunc(labels, func(l string) bool { return l == FailedLabel })
		req.Labels = &labels
	}
	if cur.Status == drift.StatusError && !slices.Contains(labels, FailedLabel) {
		labels = append(labels, FailedLabel)
		req.Labels = &labels
	}
	if state != "" && state != is.GetState() {
		req.State = gh.String(state)
		if state == "closed" {
			req.StateReason = gh.String("completed")
		}
	}
	edited, _, err := r.client.Issues.Edit(ctx, r.owner, r.repo, num, req)
	if err != nil {
		return opError{"edit issue", err}
	}
	r.setIssue(cur.Workspace, edited)
	r.logger.LogAttrs(ctx, slog.LevelInfo, "github issue updated", slog.String("workspace", cur.Workspace), slog.Int("issue", num), slog.String("state", or(state, is.GetState())))
	return nil
}

// comment posts body on is, ending with a marker of key (the issue state
// it announces), and returns the comment's id, unless an earlier attempt
// already posted a comment for key that the edit recording it in the
// issue's marker (had, as the issue shows it now) did not follow: then it
// returns that comment's id, and nothing is posted twice.
func (r *Reporter) comment(ctx context.Context, is *gh.Issue, had marker, key, body string) (int64, error) {
	id, last, err := r.lastComment(ctx, is)
	if err != nil {
		return 0, err
	}
	if id != 0 && id != had.Comment && last == key {
		r.logger.LogAttrs(ctx, slog.LevelInfo, "github comment already posted by an earlier attempt", slog.Int("issue", is.GetNumber()), slog.Int64("comment", id))
		return id, nil
	}
	body = strings.TrimRight(body, "\n") + "\n\n" + commentMarker(key)
	c, _, err := r.client.Issues.CreateComment(ctx, r.owner, r.repo, is.GetNumber(), &gh.IssueComment{Body: &body})
	if err != nil {
		return 0, opError{"comment on issue", err}
	}
	return c.GetID(), nil
}

// lastComment returns the id and key of the last comment driftd posted on
// is (0 when none), reading its comments from the end: the last page, and
// the one before when humans have had the last word.
func (r *Reporter) lastComment(ctx context.Context, is *gh.Issue) (int64, string, error) {
	const perPage = 100
	page := (is.GetComments() + perPage - 1) / perPage
	for stop := max(page-2, 0); page > stop; page-- {
		var cs []*gh.IssueComment
		opt := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: perPage, Page: page}}
		for {
			got, resp, err := r.client.Issues.ListComments(ctx, r.owner, r.repo, is.GetNumber(), opt)
			if err != nil {
				return 0, "", opError{"list comments", err}
			}
			cs = append(cs, got...)
			if resp.NextPage == 0 { // more may have come since the count
				break
			}
			opt.Page = resp.NextPage
		}
		for i := len(cs) - 1; i >= 0; i-- {
			if sm := commentRE.FindStringSubmatch(cs[i].GetBody()); sm != nil {
				return cs[i].GetID(), sm[1], nil
			}
		}
	}
	return 0, "", nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// markFailed records a failed scan on an open issue without touching the
// drift it shows: a comment with the error, the failed label, and the
// marker's status, so that the next failure stays quiet.
func (r *Reporter) markFailed(ctx context.Context, is *gh.Issue, cur *drift.Report) error {
	comment := failedComment(cur)
	n := is.GetNumber()
	prev, _ := parseMarker(is.GetBody())
	m := prev
	m.Failed = true
	id, err := r.comment(ctx, is, prev, m.key("open"), comment)
	if err != nil {
		return err
	}
	m.Comment = id
	body := markerRE.ReplaceAllLiteralString(is.GetBody(), m.String())
	labels := labelNames(is)
	if !slices.Contains(labels, FailedLabel) {
		labels = append(labels, FailedLabel)
	}
	if _, _, err := r.client.Issues.Edit(ctx, r.owner, r.repo, n, &gh.IssueRequest{Body: &body, Labels: &labels}); err != nil {
		return opError{"edit issue", err}
	}
	return nil
}

// failedComment is the comment a failed scan leaves on the open issue.
func failedComment(cur *drift.Report) string {
	errText, cut := reporters.TruncateBytes(strings.TrimSpace(cur.Error), 10000)
	if cut {
		errText += "\n(cut)"
	}
	return fmt.Sprintf("The last scan of %s failed (%s). This issue stays open until a scan succeeds.\n\n%s",
		render.MarkdownCode(cur.Workspace), when(cur), render.MarkdownFence("text", errText))
}

func labelNames(is *gh.Issue) []string {
	var out []string
	for _, l := range is.Labels {
		out = append(out, l.GetName())
	}
	return out
}

// assignees are the owners that are GitHub users: teams ("org/team")
// cannot be assigned.
func assignees(owners []string) []string {
	var out []string
	for _, o := range owners {
		o = strings.TrimPrefix(o, "@")
		if o != "" && !strings.Contains(o, "/") && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// changeComment says what changed between the drift the issue showed
// (ghPrev) and n.Cur: resources newly drifted, drifted differently (each
// attribute with what it showed before) and no longer drifted. What was
// told before (n.Prev) gives the resource list when it is the drift the
// issue showed; otherwise only counts are known.
func changeComment(n reporters.Notification, ghPrev *drift.Report) string {
	cur := n.Cur
	var b strings.Builder
	fmt.Fprintf(&b, "The drift changed (%s): %s.\n", when(cur), render.MarkdownText(render.Summary(cur)))
	c := n.Changes()
	if n.Prev == nil || n.Prev.Fingerprint != ghPrev.Fingerprint || !c.Known {
		b.WriteString("\nWhat changed since the last comment is not known; the issue shows the drift as it is now.\n")
		return b.String()
	}
	list := func(head string, rs []drift.ResourceChange) {
		if len(rs) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n**%s**\n\n", head)
		for i, rc := range rs {
			if i == maxListed {
				fmt.Fprintf(&b, "- %s\n", reporters.MoreResources(len(rs)-i))
				break
			}
			fmt.Fprintf(&b, "- %s %s\n", render.MarkdownCode(rc.Address), reporters.DriftVerb(rc.Action))
		}
	}
	list("Newly drifted", c.Added)
	if len(c.Modified) > 0 {
		b.WriteString("\n**Drifted differently**\n\n")
		var lines []string
		for i, m := range c.Modified {
			if i == maxListed {
				lines = append(lines, reporters.MoreResources(len(c.Modified)-i))
				break
			}
			lines = append(lines, modifiedLines(m)...)
		}
		b.WriteString(render.MarkdownFence("diff", strings.Join(lines, "\n")))
		b.WriteString("\n")
	}
	if len(c.Removed) > 0 {
		fmt.Fprintf(&b, "\n**No longer drifted**\n\n")
		for i, rc := range c.Removed {
			if i == maxListed {
				fmt.Fprintf(&b, "- %s\n", reporters.MoreResources(len(c.Removed)-i))
				break
			}
			fmt.Fprintf(&b, "- %s\n", render.MarkdownCode(rc.Address))
		}
	}
	return b.String()
}

// maxListed is how many resources a change comment lists per section.
const maxListed = 20

// modifiedLines shows a resource drifted differently in diff style: what
// each attribute drifted to before (-) and now (+).
func modifiedLines(m reporters.Modified) []string {
	head := "# " + m.Address
	if m.Action != "" {
		head += fmt.Sprintf(": was %s, now %s", reporters.DriftVerb(m.WasAction), reporters.DriftVerb(m.Action))
	}
	lines := []string{head}
	for i, a := range m.Attributes {
		if was := m.Was[i]; was != nil {
			lines = append(lines, "-   "+render.AttributeLine(*was))
		}
		lines = append(lines, "+   "+render.AttributeLine(a))
	}
	for _, p := range m.Gone {
		lines = append(lines, "    "+p+": no longer drifted")
	}
	return lines
}

// issueBody is the issue body for r: the hidden marker, then the report's
// markdown, listing fewer resources (and then fewer attributes) until it
// fits under MaxBodyLength, with a note of what was cut.
func issueBody(r *drift.Report, m marker) string {
	head := m.String() + "\n"
	md := func(opt render.MarkdownOptions) string { return withPeople(render.Markdown(r, opt), r, m) }
	full := md(render.MarkdownOptions{})
	if len(head)+len(full) < MaxBodyLength {
		return head + full
	}
	total := len(r.Drift) + len(r.Pending)
	note := func(shown int) string {
		return fmt.Sprintf("> [!NOTE]\n> This report was cut to fit GitHub's %d-character limit on issue bodies: %d of %d resources shown. Run `driftd check` for the full diff.\n\n", MaxBodyLength, shown, total)
	}
	fits := func(n, attrs int) (string, bool) {
		s := head + note(n) + md(render.MarkdownOptions{MaxResources: n, MaxAttributes: attrs})
		return s, len(s) < MaxBodyLength
	}
	// Largest resource count that fits: sizes grow with n.
	lo, hi := 0, total-1 // lo fits-candidate bound; search in [1, total-1]
	best := ""
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if s, ok := fits(mid, 0); ok {
			lo, best = mid, s
		} else {
			hi = mid - 1
		}
	}
	if best != "" {
		return best
	}
	for _, attrs := range []int{100, 10, 1} {
		if s, ok := fits(1, attrs); ok {
			return s
		}
	}
	// One resource's attributes, or a scan error, too long even so.
	s, _ := reporters.TruncateBytes(head+note(min(total, 1))+full, MaxBodyLength-200)
	return s + "\n\n_(cut to fit GitHub's limit)_\n"
}

// withPeople adds who owns the workspace and since when it drifted under
// the markdown's heading and facts (its first two paragraphs). Owners are
// @-mentioned, teams included: mentions are how GitHub tells a team, which
// cannot be assigned.
func withPeople(md string, r *drift.Report, m marker) string {
	var parts []string
	if len(r.Owners) > 0 {
		var who []string
		for _, o := range r.Owners {
			who = append(who, "@"+strings.TrimPrefix(o, "@"))
		}
		parts = append(parts, "**Owners:** "+strings.Join(who, ", "))
	}
	if !m.FirstSeen.IsZero() && r.Status == drift.StatusDrifted {
		parts = append(parts, "**First seen:** "+stamp(m.FirstSeen))
	}
	if len(parts) == 0 {
		return md
	}
	line := strings.Join(parts, " · ") + "\n\n"
	i := strings.Index(md, "\n\n")
	if i < 0 {
		return md + "\n\n" + line
	}
	j := strings.Index(md[i+2:], "\n\n")
	if j < 0 {
		return md + "\n\n" + line
	}
	at := i + 2 + j + 2
	return md[:at] + line + md[at:]
}

// opError names the API operation that failed.
type opError struct {
	op  string
	err error
}

func (e opError) Error() string { return e.op + ": " + e.err.Error() }
func (e opError) Unwrap() error { return e.err }

// classify turns an API error into a clear message naming the repository
// and, for permission problems, the permission needed; and says whether a
// retry may help, with the delay GitHub asked for.
func (r *Reporter) classify(err error, op string) (bool, error) {
	if err == nil {
		return false, nil
	}
	repo := r.owner + "/" + r.repo
	var oe opError
	if op == "" && errors.As(err, &oe) {
		op = oe.op
	}
	if op == "" {
		op = "request"
	}
	wrap := func(retry bool, format string, args ...any) (bool, error) {
		e := fmt.Errorf("github: %s in %s: "+format, append([]any{op, repo}, args...)...)
		return retry, reporters.Redact(e, r.cfg.Token)
	}
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	var er *gh.ErrorResponse
	switch {
	case errors.Is(err, ErrTooManyIssues):
		return false, err
	case errors.As(err, &rl):
		after := time.Until(rl.Rate.Reset.Time)
		retry, e := wrap(true, "primary rate limit exhausted, resets in %s: %w", after.Round(time.Second), err)
		return retry, reporters.WithRetryAfter(e, after)
	case errors.As(err, &ab):
		after := time.Minute // GitHub's advice when it names no delay
		if ab.RetryAfter != nil {
			after = *ab.RetryAfter
		}
		retry, e := wrap(true, "secondary rate limit, retry after %s: %w", after, err)
		return retry, reporters.WithRetryAfter(e, after)
	case errors.As(err, &er) && er.Response != nil:
		code := er.Response.StatusCode
		msg := er.Message
		switch {
		case code == http.StatusTooManyRequests:
			after := retryAfterHeader(er.Response.Header)
			retry, e := wrap(true, "too many requests (429): %s", msg)
			return retry, reporters.WithRetryAfter(e, after)
		case code >= 500:
			return wrap(true, "GitHub server error (%d)", code)
		case code == http.StatusUnauthorized:
			return wrap(false, "bad credentials (401: %s): the token or GitHub App installation is invalid or expired", msg)
		case code == http.StatusForbidden:
			return wrap(false, "permission denied (403: %s): the token or GitHub App installation needs the \"issues: write\" permission on %s", msg, repo)
		case code == http.StatusNotFound:
			return wrap(false, "not found (404: %s): %s does not exist or the token cannot see it; it needs \"issues: write\" (and \"metadata: read\") on %s", msg, repo, repo)
		case code == http.StatusUnprocessableEntity:
			return wrap(false, "rejected (422: %s%s): check that the labels and assignees are valid and the token has \"issues: write\" on %s", msg, details(er), repo)
		default:
			return wrap(false, "unexpected response (%d: %s)", code, msg)
		}
	case errors.Is(err, context.Canceled):
		return wrap(false, "%w", err)
	default:
		// Network errors and timeouts: worth another go.
		return wrap(true, "%w", err)
	}
}

func details(er *gh.ErrorResponse) string {
	var parts []string
	for _, e := range er.Errors {
		switch {
		case e.Message != "":
			parts = append(parts, e.Message)
		case e.Field != "":
			parts = append(parts, e.Field+" "+e.Code)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

func retryAfterHeader(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h.Get("Retry-After")); err == nil {
		return max(time.Until(t), 0)
	}
	return time.Minute
}
