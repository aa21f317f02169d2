package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/github/githubtest"
	"github.com/driftd/driftd/reporters/reportertest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.md")

const token = "ghp_testtoken0123456789abcdef"

func newReporter(t *testing.T, srv *githubtest.Server, mutate func(*Config)) *Reporter {
	t.Helper()
	cfg := Config{Repository: srv.Owner + "/" + srv.Repo, BaseURL: srv.URL, Token: token, AssignOwners: true}
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func report(ws string, st drift.Status, fp string, addrs ...string) *drift.Report {
	r := &drift.Report{SchemaVersion: drift.SchemaVersion, Workspace: ws, Status: st, Fingerprint: fp,
		StartedAt: time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC), Owners: []string{"alice", "acme/platform"}}
	for _, a := range addrs {
		typ, name, _ := strings.Cut(a, ".")
		r.Drift = append(r.Drift, drift.ResourceChange{Address: a, Type: typ, Name: name, Action: drift.ActionUpdate,
			Attributes: []drift.AttributeChange{{Path: `tags["env"]`, Before: "prod", After: "dev"}}})
	}
	if st == drift.StatusError {
		r.Error = "Error: No valid credential sources found"
	}
	return r
}

func drifted(fp string, addrs ...string) *drift.Report {
	return report("prod", drift.StatusDrifted, fp, addrs...)
}

// notify tells r about cur directly, as the Dispatcher does (GitHub judges
// the transition from its issues, whatever the Notification's kind).
func notify(ctx context.Context, r *Reporter, cur *drift.Report) (bool, error) {
	_, retry, err := r.Notify(ctx, reporters.Notification{Cur: cur})
	return retry, err
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	r := newReporter(t, srv, nil)

	type want struct {
		open, total, comments int
		lastComment           string
		labels                []string
		mutations             bool
	}
	steps := []struct {
		name string
		cur  *drift.Report
		want want
	}{
		{"clean on first sight", report("prod", drift.StatusClean, ""), want{0, 0, 0, "", nil, false}},
		{"new drift opens an issue", drifted("a", "aws_s3_bucket.logs"), want{1, 1, 0, "", []string{"drift"}, true}},
		{"same drift changes nothing", drifted("a", "aws_s3_bucket.logs"), want{1, 1, 0, "", []string{"drift"}, false}},
		{"changed drift comments", drifted("b", "aws_s3_bucket.logs", "aws_iam_role.ci"), want{1, 1, 1, "**Newly drifted**\n\n- `aws_iam_role.ci` changed outside Terraform", []string{"drift"}, true}},
		{"failed scan does not close", report("prod", drift.StatusError, ""), want{1, 1, 2, "No valid credential sources", []string{"drift", FailedLabel}, true}},
		{"failed again stays quiet", report("prod", drift.StatusError, ""), want{1, 1, 2, "", []string{"drift", FailedLabel}, false}},
		{"recovered with same drift", drifted("b", "aws_s3_bucket.logs", "aws_iam_role.ci"), want{1, 1, 3, "succeeds again; the drift is unchanged", []string{"drift"}, true}},
		{"resolved closes", report("prod", drift.StatusClean, ""), want{0, 1, 4, "No drift left", []string{"drift"}, true}},
		{"still clean", report("prod", drift.StatusClean, ""), want{0, 1, 4, "", []string{"drift"}, false}},
		{"drift back reopens", drifted("c", "aws_s3_bucket.logs"), want{1, 1, 5, "Drift is back", []string{"drift"}, true}},
	}
	d := reportertest.Dispatcher(r, &reporters.MemState{}, slog.New(slog.DiscardHandler))
	for _, s := range steps {
		before := srv.Mutations()
		if err := reportertest.Deliver(d, s.cur); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		issues := srv.Issues()
		if len(srv.OpenIssues()) != s.want.open || len(issues) != s.want.total {
			t.Fatalf("%s: %d open of %d issues, want %d of %d", s.name, len(srv.OpenIssues()), len(issues), s.want.open, s.want.total)
		}
		if (srv.Mutations() > before) != s.want.mutations {
			t.Errorf("%s: %d changing requests, want any: %v", s.name, srv.Mutations()-before, s.want.mutations)
		}
		if len(issues) == 0 {
			continue
		}
		is := issues[0]
		if len(is.Comments) != s.want.comments {
			t.Errorf("%s: %d comments, want %d: %q", s.name, len(is.Comments), s.want.comments, is.Comments)
		}
		if s.want.lastComment != "" && !strings.Contains(is.Comments[len(is.Comments)-1], s.want.lastComment) {
			t.Errorf("%s: last comment %q lacks %q", s.name, is.Comments[len(is.Comments)-1], s.want.lastComment)
		}
		if !slices.Equal(is.Labels, s.want.labels) {
			t.Errorf("%s: labels %q, want %q", s.name, is.Labels, s.want.labels)
		}
		if !slices.Equal(is.Assignees, []string{"alice"}) {
			t.Errorf("%s: assignees %q, want the user owner only", s.name, is.Assignees)
		}
		if !strings.HasPrefix(is.Body, "<!-- driftd:workspace=prod fingerprint=") {
			t.Errorf("%s: body lacks the marker: %.80q", s.name, is.Body)
		}
		wantLink := ""
		if s.want.open == 1 || s.name == "resolved closes" {
			wantLink = "https://github.example.com/acme/infra/issues/1"
		}
		if got := r.Link("prod"); got != wantLink {
			t.Errorf("%s: link %q, want %q", s.name, got, wantLink)
		}
	}
	if is, _ := srv.Issue(1); !strings.Contains(is.Body, "fingerprint=c ") || is.Title != "Drift detected in workspace prod" {
		t.Errorf("final issue: %q %.80q", is.Title, is.Body)
	}
}

// TestGitHubIsTheRecord: with no bookkeeping at all (each run with a new,
// empty State, as a CI job without its cache), the issue is the record:
// the same drift changes nothing, a change is still told (without the
// details only bookkeeping keeps), a failure and the recovery too.
func TestGitHubIsTheRecord(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	r := newReporter(t, srv, nil)
	steps := []struct {
		cur       *drift.Report
		mutations bool
		comment   string
	}{
		{drifted("a", "x.y"), true, ""},
		{drifted("a", "x.y"), false, ""},
		{drifted("b", "x.y", "z.w"), true, "What changed since the last comment is not known"},
		{report("prod", drift.StatusError, ""), true, "failed"},
		{report("prod", drift.StatusError, ""), false, ""},
		{report("prod", drift.StatusClean, ""), true, "No drift left"},
	}
	for i, s := range steps {
		before := srv.Mutations()
		if err := reportertest.Deliver(reportertest.Dispatcher(r, &reporters.MemState{}, slog.New(slog.DiscardHandler)), s.cur); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if (srv.Mutations() > before) != s.mutations {
			t.Errorf("step %d: %d changing requests, want any: %v", i, srv.Mutations()-before, s.mutations)
		}
		is, _ := srv.Issue(1)
		if s.comment != "" && !strings.Contains(is.Comments[len(is.Comments)-1], s.comment) {
			t.Errorf("step %d: last comment %q lacks %q", i, is.Comments[len(is.Comments)-1], s.comment)
		}
	}
}

func TestFindsIssueAcrossPages(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	mine := srv.AddIssue(githubtest.Issue{Title: "x", Body: marker{Workspace: "prod", Fingerprint: "a"}.String(), Labels: []string{"drift"}})
	for i := range 230 { // updated later, so they come first
		srv.AddIssue(githubtest.Issue{Title: "other", Body: marker{Workspace: fmt.Sprintf("ws%d", i), Fingerprint: "z"}.String(), Labels: []string{"drift"}})
	}
	srv.AddIssue(githubtest.Issue{Title: "unrelated", Body: "no marker", Labels: []string{"drift"}})
	r := newReporter(t, srv, nil)
	if _, err := notify(context.Background(), r, drifted("a", "x.y")); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Issues()); n != 232 || srv.Mutations() != 0 {
		t.Fatalf("%d issues, %d changes: the issue on the last page was not found", n, srv.Mutations())
	}
	var pages []string
	for _, q := range srv.Requests() {
		pages = append(pages, q.Query.Get("page"))
		if q.Query.Get("labels") != "drift" || q.Query.Get("state") != "open" || q.Query.Get("sort") != "updated" || q.Query.Get("direction") != "desc" {
			t.Errorf("list query %v", q.Query)
		}
	}
	if !slices.Equal(pages, []string{"", "2", "3"}) {
		t.Errorf("pages fetched %q", pages)
	}
	if r.Link("prod") != fmt.Sprintf("https://github.example.com/acme/infra/issues/%d", mine) {
		t.Errorf("link %q", r.Link("prod"))
	}
}

func TestReopensClosedIssueFromLaterPage(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	closed := func(prefix string, n int) {
		for i := range n {
			srv.AddIssue(githubtest.Issue{Title: "other", Body: marker{Workspace: fmt.Sprintf("%s%d", prefix, i), Fingerprint: "z"}.String(), Labels: []string{"drift"}, State: "closed"})
		}
	}
	closed("older", 150) // updated before ours: on pages never fetched
	old := srv.AddIssue(githubtest.Issue{Title: "x", Body: marker{Workspace: "prod", Fingerprint: "a"}.String(), Labels: []string{"drift"}, State: "closed"})
	closed("newer", 150) // updated after ours: pages 1 and 2
	r := newReporter(t, srv, nil)
	if _, err := notify(context.Background(), r, drifted("b", "x.y")); err != nil {
		t.Fatal(err)
	}
	is, _ := srv.Issue(old)
	if is.State != "open" || len(srv.Issues()) != 301 || !strings.Contains(is.Comments[0], "Drift is back") {
		t.Fatalf("issue %d: %s, %d issues, comments %q", old, is.State, len(srv.Issues()), is.Comments)
	}
	var closedPages []string
	for _, q := range srv.Requests() {
		if q.Method == http.MethodGet && q.Query.Get("state") == "closed" {
			closedPages = append(closedPages, q.Query.Get("page"))
		}
	}
	if !slices.Equal(closedPages, []string{"", "2"}) {
		t.Errorf("closed pages fetched %q, want pages 1 and 2 only", closedPages)
	}
}

func TestRacingScansLeaveOneIssue(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	srv.HoldCreates(2) // both scans create before either re-lists
	a, b := newReporter(t, srv, nil), newReporter(t, srv, nil)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, r := range []*Reporter{a, b} {
		wg.Go(func() { _, errs[i] = notify(context.Background(), r, drifted("a", "x.y")) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	open := srv.OpenIssues()
	if len(srv.Issues()) != 2 || len(open) != 1 || open[0].Number != 1 {
		t.Fatalf("issues %+v", srv.Issues())
	}
	dup, _ := srv.Issue(2)
	if dup.State != "closed" || dup.StateReason != "not_planned" || !strings.Contains(strings.Join(dup.Comments, "\n"), "Duplicate of #1") {
		t.Errorf("duplicate: %+v", dup)
	}
	// The next scan finds the survivor and stays quiet.
	before := srv.Mutations()
	if _, err := notify(context.Background(), a, drifted("a", "x.y")); err != nil {
		t.Fatal(err)
	}
	if srv.Mutations() != before {
		t.Error("scan after the race changed something")
	}
	reliability.Record(t, "GitHub", "two scans opening an issue for the same drift at once",
		"the later issue closed as a duplicate of the first; one open issue; the next scan changes nothing")
}

func TestCrashAfterCreateLeavesOneIssue(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	// A scan created #1 and died; another (no bookkeeping either) created
	// #2 and died before deduplicating.
	body := marker{Workspace: "prod", Fingerprint: "a"}.String()
	srv.AddIssue(githubtest.Issue{Title: "t", Body: body, Labels: []string{"drift"}})
	srv.AddIssue(githubtest.Issue{Title: "t", Body: body, Labels: []string{"drift"}})
	r := newReporter(t, srv, nil)
	if _, err := notify(context.Background(), r, drifted("a", "x.y")); err != nil {
		t.Fatal(err)
	}
	if open := srv.OpenIssues(); len(open) != 1 || open[0].Number != 1 || len(open[0].Comments) != 0 {
		t.Fatalf("open issues: %+v", open)
	}
	reliability.Record(t, "GitHub", "two issues for one workspace left by scans that crashed after opening them, keeping no record",
		"the next scan keeps the first open and closes the other: one open issue, no comment")
}

func TestErrorIssues(t *testing.T) {
	t.Parallel()
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprint(enabled), func(t *testing.T) {
			t.Parallel()
			srv := githubtest.NewServer(t, "acme", "infra", token)
			r := newReporter(t, srv, func(c *Config) { c.ErrorIssues = enabled })
			failed := report("prod", drift.StatusError, "")
			if _, err := notify(context.Background(), r, failed); err != nil {
				t.Fatal(err)
			}
			if !enabled {
				if len(srv.Issues()) != 0 {
					t.Fatalf("error issue opened though disabled")
				}
				return
			}
			is, ok := srv.Issue(1)
			if !ok || !slices.Contains(is.Labels, FailedLabel) || !strings.Contains(is.Body, "status=error") || !strings.Contains(is.Body, "No valid credential sources") {
				t.Fatalf("error issue: %+v", is)
			}
			// Drift once the scan works: the same issue carries it.
			if _, err := notify(context.Background(), r, drifted("a", "x.y")); err != nil {
				t.Fatal(err)
			}
			is, _ = srv.Issue(1)
			if len(srv.Issues()) != 1 || slices.Contains(is.Labels, FailedLabel) || is.Title != "Drift detected in workspace prod" {
				t.Fatalf("after recovery: %+v", is)
			}
		})
	}
}

func TestMaxOpenIssues(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	srv.AddIssue(githubtest.Issue{Title: "t", Body: marker{Workspace: "other", Fingerprint: "z"}.String(), Labels: []string{"drift"}})
	r := newReporter(t, srv, func(c *Config) { c.MaxOpenIssues = 1 })
	retry, err := notify(context.Background(), r, drifted("a", "x.y"))
	if !errors.Is(err, ErrTooManyIssues) || retry || len(srv.Issues()) != 1 {
		t.Fatalf("err %v retry %v issues %d", err, retry, len(srv.Issues()))
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault      githubtest.Fault
		method     string
		wantRetry  bool
		wantAfter  time.Duration // 0: no delay carried
		wantInText []string
	}{
		{githubtest.Unauthorized, "", false, 0, []string{"acme/infra", "bad credentials"}},
		{githubtest.Forbidden, "POST", false, 0, []string{"acme/infra", `"issues: write"`, "create issue"}},
		{githubtest.NotFound, "", false, 0, []string{"acme/infra", `"issues: write"`, "404"}},
		{githubtest.Unprocessable, "POST", false, 0, []string{"acme/infra", "422", "assignees invalid"}},
		{githubtest.ServerError, "", true, 0, []string{"acme/infra", "502"}},
		{githubtest.TooManyRequests, "", true, time.Hour, []string{"429"}},
		{githubtest.SecondaryRateLimit, "", true, time.Hour, []string{"secondary rate limit"}},
		{githubtest.PrimaryRateLimit, "", true, time.Hour, []string{"primary rate limit"}},
	}
	transient := reliability.Times(t, "GitHub", "GitHub answering 502, 429, a secondary or a primary rate limit",
		"a retry asked for, after the Retry-After or reset when given; the error names the repository, never the token")
	refused := reliability.Times(t, "GitHub", "GitHub refusing driftd: 401 bad credentials, 403 not accessible, 404, 422 validation failed",
		"no retry; the error names the repository and what is missing or invalid, never the token")
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.fault), func(t *testing.T) {
			t.Parallel()
			srv := githubtest.NewServer(t, "acme", "infra", token)
			// An hour: the primary limit's delay is its reset time (whole
			// seconds) less the time the request took, however slow the
			// machine.
			srv.RetryAfter = time.Hour
			srv.Fail(tt.method, tt.fault, 1)
			r := newReporter(t, srv, nil)
			retry, err := notify(context.Background(), r, drifted("a", "x.y"))
			if err == nil || retry != tt.wantRetry {
				t.Fatalf("retry %v err %v", retry, err)
			}
			for _, s := range tt.wantInText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			after, ok := reporters.RetryAfter(err)
			if tt.wantAfter == 0 && ok {
				t.Errorf("unexpected delay %v", after)
			}
			if tt.wantAfter > 0 && (!ok || after > tt.wantAfter || after < tt.wantAfter-time.Minute) {
				t.Errorf("delay %v %v, want about %v", after, ok, tt.wantAfter)
			}
			if strings.Contains(err.Error(), token) {
				t.Error("token in error")
			}
			if tt.wantRetry {
				transient.Add(1)
			} else {
				refused.Add(1)
			}
		})
	}
}

func TestDispatcherWaitsOutSecondaryRateLimit(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	srv.Fail("POST", githubtest.SecondaryRateLimit, 1)
	r := newReporter(t, srv, nil)
	// The waits asked for are recorded, and taken: go-github itself refuses
	// requests until the limit's reset.
	var slept []time.Duration
	d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{r},
		reporters.WithSleep(func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			select {
			case <-time.After(d):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}))
	res := d.Deliver(context.Background(), drifted("a", "x.y"))
	if res[0].Err != nil || res[0].Attempts != 2 {
		t.Fatalf("result %+v", res[0])
	}
	if len(slept) != 1 || slept[0] < time.Second {
		t.Errorf("slept %v before the retry, want once, at least the Retry-After of 1s", slept)
	}
	if len(srv.OpenIssues()) != 1 {
		t.Errorf("open issues %d", len(srv.OpenIssues()))
	}
	reliability.Record(t, "GitHub", "GitHub secondary rate limit on opening an issue", "the dispatcher waits the Retry-After, retries once; one issue")
}

// bigReport renders to well over 70,000 characters.
func bigReport() *drift.Report {
	r := drifted("big")
	for i := range 400 {
		r.Drift = append(r.Drift, drift.ResourceChange{
			Address: fmt.Sprintf("aws_security_group_rule.rule_%03d", i), Type: "aws_security_group_rule", Name: fmt.Sprintf("rule_%03d", i),
			Action: drift.ActionUpdate,
			Attributes: []drift.AttributeChange{
				{Path: "description", Before: strings.Repeat("old description ", 5), After: strings.Repeat("new description ", 5)},
				{Path: "cidr_blocks[0]", Before: "10.0.0.0/16", After: "0.0.0.0/0"},
			},
		})
	}
	return r
}

func TestBodyCutToFit(t *testing.T) {
	t.Parallel()
	r := bigReport()
	if n := len(render.Markdown(r, render.MarkdownOptions{})); n < 70000 {
		t.Fatalf("the big report renders to only %d characters", n)
	}
	m := marker{Workspace: "prod", Fingerprint: "big"}
	full := m.String() + "\n"
	if full := issueBody(&drift.Report{}, m); len(full) > 1000 {
		t.Fatalf("empty report body is %d bytes", len(full))
	}
	body := issueBody(r, m)
	if len(body) >= MaxBodyLength {
		t.Fatalf("body is %d bytes", len(body))
	}
	if !strings.HasPrefix(body, full) || !strings.Contains(body, "cut to fit GitHub's 65536-character limit") ||
		!strings.Contains(body, "more resources not shown here") {
		t.Errorf("body does not say it was cut:\n%.600s", body)
	}
	// The cut keeps as much as fits: within a resource's size of the limit.
	if len(body) < MaxBodyLength-2000 {
		t.Errorf("body is %d bytes: cut too much", len(body))
	}

	srv := githubtest.NewServer(t, "acme", "infra", token)
	if _, err := notify(context.Background(), newReporter(t, srv, nil), r); err != nil {
		t.Fatal(err)
	}
	if is, _ := srv.Issue(1); is.Body != body {
		t.Errorf("issue body differs from the cut body (%d vs %d bytes)", len(is.Body), len(body))
	}
}

func TestBodyCutsHugeError(t *testing.T) {
	t.Parallel()
	r := report("prod", drift.StatusError, "")
	r.Error = strings.Repeat("Error: ✗ something failed badly\n", 4000)
	body := issueBody(r, marker{Workspace: "prod", Failed: true})
	if len(body) >= MaxBodyLength || !strings.Contains(body, "cut to fit") {
		t.Fatalf("body %d bytes, tail %q", len(body), body[len(body)-100:])
	}
}

func TestGoldenBody(t *testing.T) {
	t.Parallel()
	r := reportertest.Drifted("dev")
	r.Workspace = "prod-network"
	r.Commit = "3f2a9c1e0b7d4a6f8e9d0c1b2a3f4e5d6c7b8a9f"
	r.Drift = append(r.Drift, drift.ResourceChange{Address: "aws_s3_bucket.old_logs", Type: "aws_s3_bucket", Name: "old_logs", Action: drift.ActionDelete})
	r.Pending = []drift.ResourceChange{{Address: "aws_iam_role.deployer", Type: "aws_iam_role", Name: "deployer", Action: drift.ActionCreate}}
	r.Ignored = 2
	got := issueBody(r, markerFor(r, marker{}, time.Date(2026, 2, 26, 2, 0, 0, 0, time.UTC)))
	reportertest.Golden(t, filepath.Join("testdata", "issue.golden.md"), got, *update)
}

func TestAppAuth(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	srv := githubtest.NewServer(t, "acme", "infra", "")
	r := newReporter(t, srv, func(c *Config) {
		c.Token = ""
		c.App = &App{AppID: 42, InstallationID: 7, PrivateKey: pemKey}
	})
	if _, err := notify(context.Background(), r, drifted("a", "x.y")); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if reqs[0].Path != "/app/installations/7/access_tokens" {
		t.Errorf("first request %s %s", reqs[0].Method, reqs[0].Path)
	}
	if got := reqs[1].Header.Get("Authorization"); got != "token "+srv.InstallationToken {
		t.Errorf("issue request authorization %q", got)
	}
	if len(srv.OpenIssues()) != 1 {
		t.Error("no issue opened")
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Repository: "acme", Token: "x"}, `github: repository "acme": want owner/repo`},
		{Config{Repository: "acme/infra"}, "github: no token and no App configured"},
		{Config{Repository: "acme/infra", Token: "x", App: &App{}}, "github: set a token or an App, not both"},
		{Config{Repository: "acme/infra", App: &App{AppID: 3, PrivateKey: []byte("not a key")}}, "github: app 3: private key:"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, slog.New(slog.DiscardHandler))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestContract(t *testing.T) {
	t.Parallel()
	reportertest.Run(t, func(t *testing.T, client *http.Client, logger *slog.Logger) reporters.Reporter {
		srv := githubtest.NewServer(t, "acme", "infra", token)
		r, err := New(Config{Repository: "acme/infra", BaseURL: srv.URL, Token: token, HTTPClient: client}, logger)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, reportertest.Options{Secrets: []string{token}})
}

// countingState counts writes of the GitHub reporter's entries to a
// MemState.
type countingState struct {
	reporters.MemState
	puts int
}

func (s *countingState) PutState(ctx context.Context, ws, reporter string, b []byte) error {
	if reporter == "github" {
		s.puts++
	}
	return s.MemState.PutState(ctx, ws, reporter, b)
}

// TestLinkSurvivesRestart: with State, a new Reporter (a restarted daemon)
// knows each workspace's issue link before delivering anything, and the
// Dispatcher writes the reporter's entry only when it changes.
func TestLinkSurvivesRestart(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	st := &countingState{}
	withState := func(c *Config) { c.State = st }
	const link, title = "https://github.example.com/acme/infra/issues/1", "Drift detected in workspace prod"

	steps := []struct {
		name                string
		cur                 *drift.Report // nil: restart only
		wantLink, wantTitle string
		wantPuts            int
	}{
		{"drift opens an issue", drifted("a", "aws_s3_bucket.logs"), link, title, 1},
		{"restart", nil, link, title, 1},
		{"same drift after the restart", drifted("a", "aws_s3_bucket.logs"), link, title, 1},
		{"same drift again", drifted("a", "aws_s3_bucket.logs"), link, title, 1},
		// A failed scan comments and labels; the issue keeps its title,
		// which a title computed from the last report would not say.
		{"failed scan", report("prod", drift.StatusError, ""), link, title, 2},
		{"restart after the failure", nil, link, title, 2},
		{"resolved: the closed issue, as of this delivery", report("prod", drift.StatusClean, ""), link, title, 3},
		{"still clean: no issue", report("prod", drift.StatusClean, ""), "", "", 4},
		{"restart when clean", nil, "", "", 4},
	}
	r := newReporter(t, srv, withState)
	for _, s := range steps {
		if s.cur == nil {
			r = newReporter(t, srv, withState)
		} else if err := reportertest.Deliver(reportertest.Dispatcher(r, st, slog.New(slog.DiscardHandler)), s.cur); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := r.Link("prod"); got != s.wantLink || st.puts != s.wantPuts {
			t.Errorf("%s: link %q, %d writes; want %q, %d", s.name, got, st.puts, s.wantLink, s.wantPuts)
		}
		if u, got := r.Issue("prod"); u != s.wantLink || got != s.wantTitle {
			t.Errorf("%s: issue %q %q, want %q %q", s.name, u, got, s.wantLink, s.wantTitle)
		}
	}
	if got := newReporter(t, srv, nil).Link("prod"); got != "" {
		t.Errorf("without State, a new reporter's link is %q", got)
	}
}

// TestGoldenLifecycle: what a platform team reads on the issue over a
// drift's life (first alert, change, failed scan, recovery, resolution,
// drift back), as posted to GitHub, in one file reviewed by eye.
func TestGoldenLifecycle(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	r := newReporter(t, srv, nil)
	d := reportertest.Dispatcher(r, &reporters.MemState{}, slog.New(slog.DiscardHandler))
	day := func(n int) time.Time { return time.Date(2026, 3, n, 2, 0, 0, 0, time.UTC) }
	db := drift.ResourceChange{Address: "aws_db_instance.main", Type: "aws_db_instance", Name: "main", Action: drift.ActionUpdate,
		Attributes: []drift.AttributeChange{{Path: "tags.env", Before: "prod", After: "staging"}}}
	dbDev := db
	dbDev.Attributes = []drift.AttributeChange{{Path: "tags.env", Before: "prod", After: "dev"}, {Path: "tags.owner", Before: "platform", After: "data"}}
	sg := drift.ResourceChange{Address: "aws_security_group_rule.ssh", Type: "aws_security_group_rule", Name: "ssh", Action: drift.ActionUpdate,
		Attributes: []drift.AttributeChange{{Path: "cidr_blocks[0]", Before: "10.0.0.0/16", After: "0.0.0.0/0"}}}
	logs := drift.ResourceChange{Address: "aws_s3_bucket.old_logs", Type: "aws_s3_bucket", Name: "old_logs", Action: drift.ActionDelete}
	at := func(n int, st drift.Status, rs ...drift.ResourceChange) *drift.Report {
		r := &drift.Report{SchemaVersion: drift.SchemaVersion, Workspace: "prod-network", Status: st, Drift: rs, StartedAt: day(n),
			TerraformVersion: "1.11.4", Owners: []string{"alice", "acme/platform"}}
		if len(rs) > 0 {
			r.Fingerprint = drift.Fingerprint(rs)
		}
		if st == drift.StatusError {
			r.Error = "Error: reading S3 Bucket (old-logs): operation error S3: HeadBucket, https response error StatusCode: 403"
		}
		return r
	}
	var out strings.Builder
	for i, s := range []struct {
		what string
		cur  *drift.Report
	}{
		{"drift appears", at(1, drift.StatusDrifted, db, logs)},
		{"the drift changes", at(2, drift.StatusDrifted, dbDev, sg)},
		{"a scan fails", at(3, drift.StatusError)},
		{"the scan works again", at(4, drift.StatusDrifted, dbDev, sg)},
		{"the drift is undone", at(5, drift.StatusClean)},
		{"drift is back", at(9, drift.StatusDrifted, sg)},
	} {
		before, _ := srv.Issue(1)
		if err := reportertest.Deliver(d, s.cur); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		is, _ := srv.Issue(1)
		fmt.Fprintf(&out, "<!-- ===== %d. %s: issue %s -->\n\n", i+1, s.what, is.State)
		for _, c := range is.Comments[len(before.Comments):] {
			fmt.Fprintf(&out, "<!-- ----- comment -->\n%s\n\n", c)
		}
		if is.Body != before.Body && s.cur.Status != drift.StatusError {
			fmt.Fprintf(&out, "<!-- ----- body -->\n%s\n", is.Body)
		}
	}
	reportertest.Golden(t, filepath.Join("testdata", "lifecycle.golden.md"), out.String(), *update)
}
