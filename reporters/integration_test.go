package reporters_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/github"
	"github.com/driftd/driftd/reporters/github/githubtest"
	"github.com/driftd/driftd/reporters/reportertest"
	"github.com/driftd/driftd/reporters/slack"
	"github.com/driftd/driftd/reporters/slack/slacktest"
)

// TestGitHubAndSlackTogether runs scan runs through the Dispatcher to both
// fakes: the Slack message links to the issue GitHub opened, repeats are
// silent everywhere, and resolution reaches both.
func TestGitHubAndSlackTogether(t *testing.T) {
	t.Parallel()
	ghs := githubtest.NewServer(t, "acme", "infra", "ghp_x")
	sls := slacktest.NewServer(t, "xoxb-x")
	gh, err := github.New(github.Config{Repository: "acme/infra", BaseURL: ghs.URL, Token: "ghp_x"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	state := &reporters.MemState{}
	sl, err := slack.New(slack.Config{Token: "xoxb-x", Channel: "#infra", APIURL: sls.APIURL(), Notify: reporters.NotifyAll}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{sl, gh}, reporters.WithTimeout(10*time.Second), reporters.WithState(state))

	drifted := reportertest.Drifted("one")
	clean := reportertest.Clean()
	other := reportertest.Clean()
	other.Workspace = "staging"
	run := func(ds ...reporters.Delivery) {
		t.Helper()
		for _, r := range d.DeliverAll(context.Background(), ds) {
			if r.Err != nil {
				t.Fatalf("%s/%s: %v", r.Reporter, r.Workspace, r.Err)
			}
		}
	}

	run(reporters.Delivery{Cur: drifted}, reporters.Delivery{Cur: other})
	issues, msgs := ghs.OpenIssues(), sls.Messages()
	if len(issues) != 1 || len(msgs) != 1 {
		t.Fatalf("%d issues, %d messages after the first run", len(issues), len(msgs))
	}
	if j := msgs[0].BlocksJSON(); !strings.Contains(j, "<https://github.example.com/acme/infra/issues/1|GitHub issue>") {
		t.Errorf("Slack message does not link the issue: %s", j)
	}

	mutations := ghs.Mutations()
	run(reporters.Delivery{Cur: drifted}, reporters.Delivery{Cur: other})
	if ghs.Mutations() != mutations || len(sls.Messages()) != 1 {
		t.Fatalf("the same drift again changed GitHub or sent to Slack")
	}

	run(reporters.Delivery{Cur: clean})
	msgs = sls.Messages()
	if len(ghs.OpenIssues()) != 0 || len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
		t.Fatalf("resolution: %d open issues, messages %+v", len(ghs.OpenIssues()), msgs)
	}
	if !strings.Contains(msgs[1].BlocksJSON(), "issues/1|GitHub issue") {
		t.Errorf("resolution message does not link the closed issue")
	}
}
