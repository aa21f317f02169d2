package github

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/github/githubtest"
)

// TestCommentNotRepeated: GitHub takes a comment and its answer is lost (a
// 502 after the fact), or the edit after it fails or loses its answer,
// perhaps with a person commenting in between; neither the retry within
// the run nor the next run (a new process, after a crash) posts the
// comment again, and the issue ends as one delivery leaves it. Before the
// comment markers, the retry posted "The drift changed" twice.
func TestCommentNotRepeated(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name  string
		lose  func(*githubtest.Server)
		human bool // a person comments after the fault
	}{
		{"comment's answer lost", func(s *githubtest.Server) { s.FailAfterApplying(http.MethodPost, githubtest.ServerError, 1) }, false},
		{"comment's answer lost, then a person comments", func(s *githubtest.Server) { s.FailAfterApplying(http.MethodPost, githubtest.ServerError, 1) }, true},
		{"edit after the comment fails", func(s *githubtest.Server) { s.Fail(http.MethodPatch, githubtest.ServerError, 1) }, false},
		{"edit applied, its answer lost", func(s *githubtest.Server) { s.FailAfterApplying(http.MethodPatch, githubtest.ServerError, 1) }, false},
	}
	repeated := reliability.Times(t, "GitHub", "a comment's or the following edit's answer lost (502 after GitHub applied it) or the edit failed; retried in the run or by the next process after a crash, a person commenting between",
		"the comment posted once; the issue ends as one delivery leaves it; the same drift again changes nothing")
	for _, f := range faults {
		for _, nextRun := range []bool{false, true} {
			name := f.name + "/retry"
			if nextRun {
				name = f.name + "/next run"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				srv := githubtest.NewServer(t, "acme", "infra", token)
				r := newReporter(t, srv, nil)
				st := &reporters.MemState{}
				run := func(attempts int, fp string, addrs ...string) []reporters.Result {
					d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{r}, reporters.WithState(st),
						reporters.WithBackoff(reporters.Backoff{Attempts: attempts}),
						reporters.WithSleep(func(context.Context, time.Duration) error {
							if f.human {
								srv.AddComment(1, "Looking into it.")
							}
							return nil
						}))
					return d.Deliver(context.Background(), drifted(fp, addrs...))
				}
				if res := run(1, "a", "aws_s3_bucket.logs"); res[0].Err != nil {
					t.Fatal(res[0].Err)
				}
				f.lose(srv)
				if nextRun {
					if res := run(1, "b", "aws_s3_bucket.logs", "aws_iam_role.ci"); res[0].Err == nil {
						t.Fatal("the faulty run succeeded")
					}
					if f.human {
						srv.AddComment(1, "Looking into it.")
					}
				}
				if res := run(2, "b", "aws_s3_bucket.logs", "aws_iam_role.ci"); res[0].Err != nil {
					t.Fatalf("%+v", res[0])
				}
				is, _ := srv.Issue(1)
				changed := 0
				for _, c := range is.Comments {
					if strings.HasPrefix(c, "The drift changed") {
						changed++
					}
				}
				if changed != 1 || !strings.Contains(is.Body, "fingerprint=b ") || !strings.Contains(is.Body, "aws_iam_role.ci") {
					t.Fatalf("%d change comments (want 1) in %q; body %.120q", changed, is.Comments, is.Body)
				}
				// The same drift again: nothing more.
				before := srv.Mutations()
				run(1, "b", "aws_s3_bucket.logs", "aws_iam_role.ci")
				if srv.Mutations() != before {
					t.Errorf("a settled issue changed again")
				}
				repeated.Add(1)
			})
		}
	}
}

// TestCommentAfterSameStateAgain: a comment for a state the issue was in
// before (drift a, then b, then a again) is posted: only a comment no
// edit followed counts as already posted.
func TestCommentAfterSameStateAgain(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	r := newReporter(t, srv, nil)
	st := &reporters.MemState{}
	d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{r}, reporters.WithState(st), reporters.WithBackoff(reporters.Backoff{Attempts: 1}))
	for _, fp := range []string{"a", "b", "a", "b"} {
		if res := d.Deliver(context.Background(), drifted(fp, "x."+fp)); res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
	}
	if is, _ := srv.Issue(1); len(is.Comments) != 3 {
		t.Fatalf("%d comments, want 3: %q", len(is.Comments), is.Comments)
	}
}

// TestReopenedByHandTwice: a person closes the issue of drift that is
// still there, twice; each reopening says why. The second reopening's
// comment is the same as the first's, which the issue's marker records as
// followed by its edit, so it is not taken for an unfinished attempt.
func TestReopenedByHandTwice(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	r := newReporter(t, srv, nil)
	d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{r}, reporters.WithState(&reporters.MemState{}), reporters.WithBackoff(reporters.Backoff{Attempts: 1}))
	for range 3 {
		if res := d.Deliver(context.Background(), drifted("a", "x.y")); res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		srv.CloseIssue(1)
	}
	is, _ := srv.Issue(1)
	if len(is.Comments) != 2 || !strings.Contains(is.Comments[1], "Drift is back") {
		t.Fatalf("comments %q, want two reopenings", is.Comments)
	}
}

// TestCreateAnswerLost: GitHub opens the issue and the answer is lost; the
// retry finds it (listing by label, never searching) and opens no other.
func TestCreateAnswerLost(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "infra", token)
	srv.FailAfterApplying(http.MethodPost, githubtest.ServerError, 1)
	r := newReporter(t, srv, nil)
	d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{r}, reporters.WithState(&reporters.MemState{}),
		reporters.WithBackoff(reporters.Backoff{Attempts: 2}), reporters.WithSleep(func(context.Context, time.Duration) error { return nil }))
	if res := d.Deliver(context.Background(), drifted("a", "x.y")); res[0].Err != nil || res[0].Attempts != 2 {
		t.Fatalf("%+v", res[0])
	}
	if n := len(srv.Issues()); n != 1 {
		t.Fatalf("%d issues, want 1", n)
	}
	reliability.Record(t, "GitHub", "GitHub opens the issue and its answer is lost (502 after applying)",
		"the retry finds the issue by label and opens no other: one issue")
}
