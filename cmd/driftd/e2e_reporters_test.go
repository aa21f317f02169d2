package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/reporters/github/githubtest"
	"github.com/driftd/driftd/reporters/slack/slacktest"
)

// TestScanReportsToGitHubAndSlack: driftd scan on real workspaces, with both
// reporters pointed at fakes that speak the real wire format: one issue and
// one message for new drift, nothing for the same drift again (GitHub is
// the source of truth without a store), the issue closed and a message when
// the drift is gone.
func TestScanReportsToGitHubAndSlack(t *testing.T) {
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	sl := slacktest.NewServer(t, "xoxb-fake-slack-token-456")

	f := newFleet(t)
	f.add(t, "net", fmt.Sprintf(webTF, "net"), true)
	f.add(t, "calm", fmt.Sprintf(webTF, "calm"), true)
	cfg := f.writeConfig(t)
	appendFile(t, cfg, reportersYAML(gh, ""))
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token, "DRIFTD_TEST_SLACK_URL="+sl.WebhookURL())

	scanOnce := func(wantCode int) result {
		t.Helper()
		res := runCLI(t, env, "scan", "--config", cfg, "--log-level", "debug")
		if res.code != wantCode {
			t.Fatalf("exit %d, want %d\n%s\n%s", res.code, wantCode, res.stdout, res.stderr)
		}
		for _, secret := range []string{gh.Token, sl.WebhookURL(), "fake-slack-token"} {
			if strings.Contains(res.stdout+res.stderr, secret) {
				t.Errorf("secret %q in output or logs", secret)
			}
		}
		return res
	}

	scanOnce(exitClean)
	if n := len(gh.Issues()); n != 0 || len(sl.Messages()) != 0 {
		t.Fatalf("clean fleet: %d issues, %d messages", n, len(sl.Messages()))
	}

	must(t, f.env.SetAttribute("net-web", "tags.env", "staging"))
	scanOnce(exitDrift)
	open := gh.OpenIssues()
	if len(open) != 1 {
		t.Fatalf("open issues %d, want 1", len(open))
	}
	is := open[0]
	for _, want := range []string{"driftd:workspace=net", "tags.env", `"staging"`} {
		if !strings.Contains(is.Body, want) {
			t.Errorf("issue body lacks %q:\n%s", want, is.Body)
		}
	}
	msgs := sl.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].BlocksJSON(), "net") {
		t.Fatalf("slack messages %+v, want one about net", msgs)
	}

	// Same drift again: no new issue, no comment, no message.
	mutations := gh.Mutations()
	scanOnce(exitDrift)
	if gh.Mutations() != mutations || len(gh.Issues()) != 1 || len(sl.Messages()) != 1 {
		t.Errorf("repeat scan changed something: mutations %d -> %d, issues %d, messages %d",
			mutations, gh.Mutations(), len(gh.Issues()), len(sl.Messages()))
	}

	// Drift undone out of band: issue closed with a comment, resolved message.
	must(t, f.env.SetAttribute("net-web", "tags.env", "prod"))
	scanOnce(exitClean)
	closed, _ := gh.Issue(is.Number)
	if closed.State != "closed" || len(closed.Comments) == 0 {
		t.Errorf("issue after resolution: state %s, %d comments", closed.State, len(closed.Comments))
	}
	if msgs := sl.Messages(); len(msgs) != 2 {
		t.Errorf("slack messages %d after resolution, want 2", len(msgs))
	}
}

// reportersYAML points GitHub and Slack at the fakes, with the tokens
// from DRIFTD_TEST_GH_TOKEN and DRIFTD_TEST_SLACK_URL; slackExtra adds
// lines to the slack block.
func reportersYAML(gh *githubtest.Server, slackExtra string) string {
	return fmt.Sprintf(`reporters:
  github:
    repository: acme/infra
    base_url: %s
    token_env: DRIFTD_TEST_GH_TOKEN
  slack:
    webhook_url_env: DRIFTD_TEST_SLACK_URL
%s`, gh.BaseURL(), slackExtra)
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	defer f.Close()
	_, err = f.WriteString(text)
	must(t, err)
}

// TestScanSlackOwedWithoutStore: `driftd scan` with no store, Slack by bot
// token. Slack fails the whole run that finds new drift; the next scan
// sends that first alert exactly once, owners mentioned; the scan after
// sends nothing; a change is a reply in the alert's thread saying what
// changed; the resolution too, with how long the drift lasted. What Slack
// was told lives in the cache dir. Before, the next scan saw the drift as
// known (GitHub's issue said so) and Slack never heard of it.
func TestScanSlackOwedWithoutStore(t *testing.T) {
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	sl := slacktest.NewServer(t, "xoxb-fake-slack-token-456")
	sl.RetryAfter = time.Hour // longer than driftd waits: the run fails at once

	f := newFleet(t)
	f.add(t, "net", fmt.Sprintf(webTF, "net"), true)
	f.extra["net"] = "    owners: [alice, acme/platform]\n"
	cfg := f.writeConfig(t)
	appendFile(t, cfg, fmt.Sprintf(`reporters:
  github:
    repository: acme/infra
    base_url: %s
    token_env: DRIFTD_TEST_GH_TOKEN
  slack:
    token_env: DRIFTD_TEST_SLACK_TOKEN
    channel: "#infra-drift"
    api_url: %s
    owners:
      acme/platform: "<!subteam^S0PLATFORM>"
`, gh.BaseURL(), sl.APIURL()))
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token, "DRIFTD_TEST_SLACK_TOKEN="+sl.Token)
	scan := func(wantCode int) {
		t.Helper()
		if res := runCLI(t, env, "scan", "--config", cfg); res.code != wantCode {
			t.Fatalf("exit %d, want %d\n%s\n%s", res.code, wantCode, res.stdout, res.stderr)
		}
	}

	must(t, f.env.SetAttribute("net-web", "tags.env", "staging"))
	sl.Fail(slacktest.RateLimited)
	scan(exitError) // drift found, but a delivery failed
	if n := len(sl.Messages()); n != 0 || len(gh.OpenIssues()) != 1 {
		t.Fatalf("failed run: %d messages, %d issues", n, len(gh.OpenIssues()))
	}
	scan(exitDrift)
	scan(exitDrift)
	msgs := sl.Messages()
	if len(msgs) != 1 || msgs[0].ThreadTS != "" || !strings.Contains(msgs[0].BlocksJSON(), "Drift detected in net") {
		t.Fatalf("after the failed run: %d messages %+v, want the first alert once", len(msgs), msgs)
	}
	first := msgs[0]
	if !strings.Contains(first.Text, "<!subteam^S0PLATFORM>") || !strings.Contains(first.BlocksJSON(), "*First seen:*") {
		t.Errorf("first alert: text %q blocks %s", first.Text, first.BlocksJSON())
	}

	must(t, f.env.SetAttribute("net-web", "content", "v2"))
	scan(exitDrift)
	must(t, f.env.SetAttribute("net-web", "tags.env", "prod"))
	must(t, f.env.SetAttribute("net-web", "content", "v1"))
	scan(exitClean)
	msgs = sl.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want alert, change, resolution", len(msgs))
	}
	changed, resolved := msgs[1].BlocksJSON(), msgs[2].BlocksJSON()
	if msgs[1].ThreadTS != first.TS || !strings.Contains(changed, "Drifted differently") || !strings.Contains(changed, "content") || !strings.Contains(changed, "newly drifted") {
		t.Errorf("change: thread %q, %s", msgs[1].ThreadTS, changed)
	}
	if msgs[2].ThreadTS != first.TS || !strings.Contains(resolved, "Drift resolved in net") || !strings.Contains(resolved, "*Drifted for:*") {
		t.Errorf("resolution: thread %q, %s", msgs[2].ThreadTS, resolved)
	}
}
