package slack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/reportertest"
	"github.com/driftd/driftd/reporters/slack/slacktest"
)

const token = "xoxb-1111-2222-testtokenvalue"

func rep(ws string, st drift.Status, fp string, addrs ...string) *drift.Report {
	r := &drift.Report{SchemaVersion: drift.SchemaVersion, Workspace: ws, Status: st, Fingerprint: fp,
		StartedAt: time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)}
	for _, a := range addrs {
		r.Drift = append(r.Drift, drift.ResourceChange{Address: a, Action: drift.ActionUpdate,
			Attributes: []drift.AttributeChange{{Path: `tags["env"]`, Before: "prod", After: "dev"}}})
	}
	if st == drift.StatusError {
		r.Error = "Error: No valid credential sources found"
	}
	return r
}

type mode string

const (
	webhookMode mode = "webhook"
	tokenMode   mode = "token"
)

func newReporter(t *testing.T, srv *slacktest.Server, m mode, logs *bytes.Buffer, notify reporters.Notify, mutate ...func(*Config)) *Reporter {
	t.Helper()
	cfg := Config{Notify: notify}
	if m == webhookMode {
		cfg.WebhookURL = srv.WebhookURL()
	} else {
		cfg.Token, cfg.Channel, cfg.APIURL = token, "#infra", srv.APIURL()
	}
	for _, f := range mutate {
		f(&cfg)
	}
	r, err := New(cfg, reportertest.Logger(logs))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deliver delivers cur to r as one run, through a Dispatcher keeping its
// bookkeeping in state.
func deliver(t *testing.T, r reporters.Reporter, state reporters.State, cur *drift.Report) {
	t.Helper()
	if err := reportertest.Deliver(reportertest.Dispatcher(r, state, slog.New(slog.DiscardHandler)), cur); err != nil {
		t.Fatal(err)
	}
}

func headerText(m slacktest.Message) string {
	for _, b := range m.Blocks {
		if b["type"] == "header" {
			return b["text"].(map[string]any)["text"].(string)
		}
	}
	return ""
}

func TestTransitionsSendRepeatsDont(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{webhookMode, tokenMode} {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t, token)
			var logs bytes.Buffer
			r := newReporter(t, srv, m, &logs, reporters.NotifyAll)
			state := &reporters.MemState{}
			steps := []struct {
				cur    *drift.Report
				header string // "" = nothing sent
				thread int    // token mode: index of the message replied to, -1 top-level
			}{
				{rep("prod", drift.StatusClean, ""), "", 0},
				{rep("prod", drift.StatusDrifted, "a", "aws_s3_bucket.logs"), ":warning: Drift detected in prod", -1},
				{rep("prod", drift.StatusDrifted, "a", "aws_s3_bucket.logs"), "", 0},
				{rep("prod", drift.StatusDrifted, "b", "aws_s3_bucket.logs", "aws_iam_role.ci"), ":arrows_counterclockwise: Drift changed in prod", 0},
				{rep("prod", drift.StatusError, ""), ":x: Drift scan failed for prod", 0},
				{rep("prod", drift.StatusError, ""), "", 0},
				{rep("prod", drift.StatusDrifted, "b", "aws_s3_bucket.logs", "aws_iam_role.ci"), ":white_check_mark: Drift scan of prod works again", 0},
				{rep("prod", drift.StatusClean, ""), ":white_check_mark: Drift resolved in prod", 0},
				{rep("prod", drift.StatusClean, ""), "", 0},
				{rep("prod", drift.StatusDrifted, "c", "aws_s3_bucket.logs"), ":repeat: Drift is back in prod", -1},
			}
			for i, s := range steps {
				before := len(srv.Messages())
				deliver(t, r, state, s.cur)
				msgs := srv.Messages()
				if s.header == "" {
					if len(msgs) != before {
						t.Fatalf("step %d: repeat sent %q", i, headerText(msgs[len(msgs)-1]))
					}
					continue
				}
				if len(msgs) != before+1 {
					t.Fatalf("step %d: %d messages sent, want 1", i, len(msgs)-before)
				}
				got := msgs[len(msgs)-1]
				if headerText(got) != s.header || got.Via != string(map[mode]string{webhookMode: "webhook", tokenMode: "api"}[m]) {
					t.Errorf("step %d: %s message %q, want %q", i, got.Via, headerText(got), s.header)
				}
				if m == tokenMode {
					want := ""
					if s.thread >= 0 {
						want = msgs[s.thread].TS
					}
					if got.ThreadTS != want || got.Channel != "#infra" {
						t.Errorf("step %d: thread %q channel %q, want thread %q", i, got.ThreadTS, got.Channel, want)
					}
				}
			}
			// The last New started a new thread after the resolution.
			if m == tokenMode {
				msgs := srv.Messages()
				if last := msgs[len(msgs)-1]; last.ThreadTS != "" {
					t.Errorf("new drift after resolution replied in %q", last.ThreadTS)
				}
			}
			for _, s := range []string{token, srv.WebhookURL(), srv.WebhookPath} {
				if strings.Contains(logs.String(), s) {
					t.Errorf("log carries a secret")
				}
			}
		})
	}
}

func TestRestartDoesNotNotifyTwice(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t, token)
	state := &reporters.MemState{}
	var logs bytes.Buffer
	cur := rep("prod", drift.StatusDrifted, "a", "x.y")
	deliver(t, newReporter(t, srv, tokenMode, &logs, reporters.NotifyAll), state, cur)
	// A new process with the same store.
	deliver(t, newReporter(t, srv, tokenMode, &logs, reporters.NotifyAll), state, cur)
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	reliability.Record(t, "Slack", "driftd restarted on the same store after a Slack alert, the drift unchanged", "not sent again")
}

// TestFailedRunDeliveredOnce: Slack fails a whole run (every retry); the
// next run delivers the message exactly once, starting the thread that
// later messages reply in. Before the Dispatcher kept what Slack was told,
// the next run saw the drift as already known and never sent it.
func TestFailedRunDeliveredOnce(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t, token)
	state := &reporters.MemState{}
	var logs bytes.Buffer
	r := newReporter(t, srv, tokenMode, &logs, reporters.NotifyAll)
	nextRun := func() *reporters.Dispatcher {
		return reporters.NewDispatcher(reportertest.Logger(&logs), []reporters.Reporter{r}, reporters.WithState(state),
			reporters.WithBackoff(reporters.Backoff{Attempts: 3}), reporters.WithSleep(func(context.Context, time.Duration) error { return nil }))
	}
	drifted := rep("prod", drift.StatusDrifted, "a", "x.y")
	srv.Fail(slacktest.ServerError, slacktest.ServerError, slacktest.ServerError)
	if res := nextRun().Deliver(context.Background(), drifted); res[0].Err == nil || res[0].Attempts != 3 {
		t.Fatalf("failing run: %+v", res)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("the failing run sent %d messages", n)
	}
	for i := range 2 {
		if res := nextRun().Deliver(context.Background(), drifted); res[0].Err != nil {
			t.Fatalf("run %d: %v", i+2, res[0].Err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || headerText(msgs[0]) != ":warning: Drift detected in prod" || msgs[0].ThreadTS != "" {
		t.Fatalf("after the failed run: %d messages %+v, want the first alert once", len(msgs), msgs)
	}
	nextRun().Deliver(context.Background(), rep("prod", drift.StatusClean, ""))
	if msgs := srv.Messages(); len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
		t.Errorf("resolution not in the first alert's thread: %+v", msgs)
	}
	reliability.Record(t, "Slack", "Slack failing a whole run (500 to every retry)",
		"nothing sent, the alert kept owed; the next runs deliver it exactly once, and the resolution replies in its thread")
}

func TestNotifyFlags(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t, token)
	var logs bytes.Buffer
	r := newReporter(t, srv, webhookMode, &logs, reporters.Notify{Resolved: true})
	state := &reporters.MemState{}
	for _, cur := range []*drift.Report{
		rep("prod", drift.StatusDrifted, "a", "x.y"), rep("prod", drift.StatusDrifted, "b", "x.y"),
		rep("prod", drift.StatusError, ""), rep("prod", drift.StatusClean, ""),
	} {
		deliver(t, r, state, cur)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || headerText(msgs[0]) != ":white_check_mark: Drift resolved in prod" {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestLinksToIssue(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t, token)
	var logs bytes.Buffer
	r := newReporter(t, srv, webhookMode, &logs, reporters.NotifyAll)
	n := reporters.Notification{Kind: reporters.New, Cur: rep("prod", drift.StatusDrifted, "a", "x.y"),
		Links: reporters.Links{"github": "https://github.com/acme/infra/issues/7"}}
	if _, _, err := r.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if j := srv.Messages()[0].BlocksJSON(); !strings.Contains(j, "<https://github.com/acme/infra/issues/7|GitHub issue>") {
		t.Errorf("no issue link in %s", j)
	}
}

// checkLimits checks a received message against Block Kit's documented
// limits.
func checkLimits(t *testing.T, m slacktest.Message) {
	t.Helper()
	if len(m.Blocks) > MaxBlocks {
		t.Errorf("%d blocks, Slack allows %d", len(m.Blocks), MaxBlocks)
	}
	total := 0
	for i, b := range m.Blocks {
		text := func(o any) string {
			s, _ := o.(map[string]any)["text"].(string)
			return s
		}
		switch b["type"] {
		case "header":
			if n := utf8.RuneCountInString(text(b["text"])); n > MaxHeaderText {
				t.Errorf("block %d: header of %d characters", i, n)
			}
		case "section":
			n := utf8.RuneCountInString(text(b["text"]))
			total += n
			if n > MaxSectionText {
				t.Errorf("block %d: section text of %d characters", i, n)
			}
		case "context":
			if els, _ := b["elements"].([]any); len(els) > 10 {
				t.Errorf("block %d: %d context elements", i, len(els))
			}
		}
	}
	if total > maxMessageText+MaxSectionText {
		t.Errorf("message text totals %d characters", total)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t, token)
	var logs bytes.Buffer
	r := newReporter(t, srv, tokenMode, &logs, reporters.NotifyAll)
	big := rep(strings.Repeat("very-long-workspace-name-", 10), drift.StatusDrifted, "big")
	for i := range 120 {
		rc := drift.ResourceChange{Address: fmt.Sprintf("aws_instance.web[%d]", i), Action: drift.ActionUpdate}
		for j := range 30 {
			rc.Attributes = append(rc.Attributes, drift.AttributeChange{Path: fmt.Sprintf("tags[\"k%d\"]", j), Before: strings.Repeat("é", 200), After: "<b>&x"})
		}
		big.Drift = append(big.Drift, rc)
	}
	failed := rep("prod", drift.StatusError, "")
	failed.Error = strings.Repeat("Error: something failed ``` badly\n", 500)
	for _, n := range []reporters.Notification{{Kind: reporters.New, Cur: big}, {Kind: reporters.Error, Cur: failed}} {
		if _, _, err := r.Notify(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, m := range msgs {
		checkLimits(t, m)
	}
	j := msgs[0].BlocksJSON()
	if !strings.Contains(j, "more resources") || !strings.Contains(j, "and 20 more attributes") {
		t.Errorf("cut message does not say what it left out")
	}
	if strings.Contains(j, "<b>") || !strings.Contains(j, "&lt;b&gt;&amp;x") {
		t.Errorf("values not escaped for mrkdwn")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode      mode
		fault     slacktest.Fault
		wantRetry bool
		wantAfter time.Duration
		wantText  string
	}{
		{webhookMode, slacktest.RateLimited, true, time.Second, "rate limited"},
		{tokenMode, slacktest.RateLimited, true, time.Second, "rate limited"},
		{webhookMode, slacktest.ServerError, true, 0, "500"},
		{tokenMode, slacktest.ServerError, true, 0, "500"},
		{webhookMode, slacktest.InvalidAuth, false, 0, "403"},
		{tokenMode, slacktest.InvalidAuth, false, 0, "invalid_auth: the bot token is invalid or revoked"},
		{tokenMode, slacktest.ChannelNotFound, false, 0, "invite the bot to channel #infra"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.mode, tt.fault), func(t *testing.T) {
			t.Parallel()
			srv := slacktest.NewServer(t, token)
			srv.Fail(tt.fault)
			var logs bytes.Buffer
			r := newReporter(t, srv, tt.mode, &logs, reporters.NotifyAll)
			n := reporters.Notification{Kind: reporters.New, Cur: rep("prod", drift.StatusDrifted, "a", "x.y")}
			_, retry, err := r.Notify(context.Background(), n)
			if err == nil || retry != tt.wantRetry || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("retry %v err %v; want retry %v, text %q", retry, err, tt.wantRetry, tt.wantText)
			}
			if after, ok := reporters.RetryAfter(err); (tt.wantAfter > 0) != ok || after != tt.wantAfter {
				t.Errorf("delay %v %v, want %v", after, ok, tt.wantAfter)
			}
			for _, s := range []string{token, srv.WebhookPath} {
				if strings.Contains(err.Error()+logs.String(), s) {
					t.Errorf("secret in error or log: %v", err)
				}
			}
			// The fault is spent: a retry sends.
			if _, _, err := r.Notify(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			if len(srv.Messages()) != 1 {
				t.Errorf("retry sent %d messages", len(srv.Messages()))
			}
		})
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t, token)
	var logs bytes.Buffer
	d, err := NewDigest(Config{WebhookURL: srv.WebhookURL(), Notify: reporters.NotifyAll}, reportertest.Logger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	run := []reporters.Delivery{
		{Cur: rep("a", drift.StatusDrifted, "1", "x.y"), Links: reporters.Links{"github": "https://gh/1"}},
		{Cur: rep("b", drift.StatusClean, "")},
		{Cur: rep("c", drift.StatusError, "")},
	}
	for i := range 74 { // more than one message's blocks can list
		run = append(run, reporters.Delivery{Cur: rep(fmt.Sprintf("ws%d", i), drift.StatusDrifted, "1", "x.y")})
	}
	state := &reporters.MemState{}
	res := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{d}, reporters.WithState(state)).DeliverAll(context.Background(), run)
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("results %+v", res)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want one digest", len(msgs))
	}
	checkLimits(t, msgs[0])
	j := msgs[0].BlocksJSON()
	if !strings.Contains(j, "Drift scan: 76 of 77 workspaces changed") || !strings.Contains(j, "Drift detected in a") ||
		!strings.Contains(j, "<https://gh/1|GitHub issue>") || !strings.Contains(j, "more workspaces") || strings.Contains(j, "Drift report for b") {
		t.Errorf("digest: %s", j)
	}
	// The same run again: nothing changed, nothing sent.
	reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{d}, reporters.WithState(state)).DeliverAll(context.Background(), run)
	if len(srv.Messages()) != 1 {
		t.Errorf("repeat run sent a digest")
	}
}

// TestDigestNamesShard: shards post their digests side by side; each says
// which shard it covers.
func TestDigestNamesShard(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t, token)
	d, err := NewDigest(Config{WebhookURL: srv.WebhookURL(), Notify: reporters.NotifyAll, Shard: "2/8"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	run := []reporters.Delivery{{Cur: rep("a", drift.StatusDrifted, "1", "x.y")}, {Cur: rep("b", drift.StatusClean, "")}}
	reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{d}).DeliverAll(context.Background(), run)
	msgs := srv.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].BlocksJSON(), "Drift scan (shard 2/8): 1 of 2 workspaces changed") {
		t.Errorf("digest does not name its shard: %+v", msgs)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "slack: set webhook_url, or token and channel"},
		{Config{WebhookURL: "https://hooks/x", Token: "t"}, "slack: set webhook_url or token, not both"},
		{Config{Token: "t"}, "slack: a token needs a channel"},
		{Config{Name: "slack[2]", WebhookURL: "hooks.slack.com/services/SECRET"}, "slack[2]: webhook_url is not an http(s) URL"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, slog.New(slog.DiscardHandler))
		if err == nil || err.Error() != tt.want {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestContract(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{webhookMode, tokenMode} {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			var secrets []string
			reportertest.Run(t, func(t *testing.T, client *http.Client, logger *slog.Logger) reporters.Reporter {
				srv := slacktest.NewServer(t, token)
				cfg := Config{Notify: reporters.NotifyAll, HTTPClient: client}
				if m == webhookMode {
					cfg.WebhookURL = srv.WebhookURL()
				} else {
					cfg.Token, cfg.Channel, cfg.APIURL = token, "C123", srv.APIURL()
				}
				secrets = append(secrets, srv.WebhookPath)
				r, err := New(cfg, logger)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}, reportertest.Options{Secrets: []string{token, "/services/T0000/B0000/XXXXsecretXXXX"}})
		})
	}
}

// TestOwners: owners mapped to a channel get their workspaces' messages
// there, replies in the thread started there; owners mapped to mentions
// are mentioned in the blocks and the notification text. When the
// mapping changes, the next message starts anew in the new channel rather
// than reply to a thread elsewhere.
func TestOwners(t *testing.T) {
	t.Parallel()
	srv := slacktest.NewServer(t, token)
	var logs bytes.Buffer
	owners := map[string]string{"acme/platform": "#platform-drift", "alice": "<@U0ALICE>"}
	r := newReporter(t, srv, tokenMode, &logs, reporters.NotifyAll, func(c *Config) { c.Owners = owners })
	state := &reporters.MemState{}
	cur := func(fp string) *drift.Report {
		x := rep("prod", drift.StatusDrifted, fp, "x.y")
		x.Owners = []string{"alice", "acme/platform"}
		return x
	}
	deliver(t, r, state, cur("a"))
	deliver(t, r, state, cur("b"))
	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[0].Channel != "#platform-drift" || msgs[1].Channel != "#platform-drift" || msgs[1].ThreadTS != msgs[0].TS {
		t.Fatalf("messages %+v: want the first alert and a reply in #platform-drift", msgs)
	}
	if !strings.Contains(msgs[0].Text, "<@U0ALICE>") || !strings.Contains(msgs[0].BlocksJSON(), "*Owners:* <@U0ALICE>, acme/platform") {
		t.Errorf("owners not mentioned: %q %s", msgs[0].Text, msgs[0].BlocksJSON())
	}
	deliver(t, newReporter(t, srv, tokenMode, &logs, reporters.NotifyAll), state, cur("c"))
	if m := srv.Messages()[2]; m.Channel != "#infra" || m.ThreadTS != "" {
		t.Errorf("after the mapping went: channel %q thread %q, want a new message in #infra", m.Channel, m.ThreadTS)
	}
}

func TestOwnersConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg    Config
		digest bool
		want   string
	}{
		{Config{WebhookURL: "https://hooks/x", Owners: map[string]string{"alice": "@alice"}}, false,
			`slack: owners[alice]: "@alice" is neither a mention (<@U…>, <!subteam^S…>) nor a channel (#name, C…)`},
		{Config{WebhookURL: "https://hooks/x", Owners: map[string]string{"alice": "#alice"}}, false,
			"slack: owners[alice]: a channel needs a bot token (a webhook posts to its own channel)"},
		{Config{Token: "t", Channel: "#infra", Owners: map[string]string{"alice": "#alice"}}, true,
			"slack: owners[alice]: a digest goes to one channel; map owners to mentions only"},
	} {
		var err error
		if tt.digest {
			_, err = NewDigest(tt.cfg, slog.New(slog.DiscardHandler))
		} else {
			_, err = New(tt.cfg, slog.New(slog.DiscardHandler))
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v: %v, want %q", tt.cfg.Owners, err, tt.want)
		}
	}
}
