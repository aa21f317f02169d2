package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/reporters/github/githubtest"
	"github.com/driftd/driftd/reporters/slack/slacktest"
)

// keyedTF uses a sensitive variable's value, unmarked, as a for_each key
// and as a map key: it shows in the address and in the attribute path.
const keyedTF = `
variable "pw" {
  type      = string
  sensitive = true
  default   = "keySecret9Xq"
}

resource "testbed_object" "keyed" {
  for_each = toset([nonsensitive(var.pw)])
  name     = "keyed"
  tags     = { (nonsensitive(var.pw)) = "a", env = "prod" }
}
`

// echoFailTF hands a sensitive variable, given in terraform.tfvars, to
// the provider, which rejects it with a diagnostic quoting its value: the
// scan fails without a JSON plan.
const echoFailTF = `
variable "pw" {
  type      = string
  sensitive = true
}

provider "testbed" {
  read_latency = var.pw
}

resource "testbed_object" "x" {
  name = "echo-x"
}
`

// TestSecretsInKeysAndDiagnostics: a secret used as a map key or for_each
// key, and a sensitive variable a provider echoes in a failed plan's
// diagnostics, reach no output format, log line, GitHub issue or comment,
// or Slack message.
func TestSecretsInKeysAndDiagnostics(t *testing.T) {
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	sl := slacktest.NewServer(t, "xoxb-fake-slack-token-456")
	f := newFleet(t)
	f.add(t, "keyed", keyedTF, true)
	echo := f.add(t, "echo", echoFailTF, false)
	must(t, os.WriteFile(filepath.Join(echo.Dir, "terraform.tfvars"), []byte(`pw = "echoSecret7Wp"`), 0o644))
	must(t, f.env.SetAttribute("keyed", "tags.keySecret9Xq", "b"))
	cfg := f.writeConfig(t)
	appendFile(t, cfg, fmt.Sprintf(`reporters:
  github:
    repository: acme/infra
    base_url: %s
    token_env: DRIFTD_TEST_GH_TOKEN
    error_issues: true
  slack:
    webhook_url_env: DRIFTD_TEST_SLACK_URL
`, gh.BaseURL()))
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token, "DRIFTD_TEST_SLACK_URL="+sl.WebhookURL())
	env = append(env, f.env.Environ()...)
	secrets := []string{"keySecret9Xq", "echoSecret7Wp"}

	for _, args := range [][]string{
		{"scan", "--config", cfg, "--output", "json", "--log-level", "debug", "--log-format", "json"},
		{"scan", "--config", cfg, "--output", "markdown", "--log-level", "debug", "--log-format", "text"},
		{"scan", "--config", cfg, "--output", "text", "--log-level", "debug"},
	} {
		res := runCLI(t, env, args...)
		if res.code != exitError {
			t.Fatalf("%v: exit %d, want %d (one workspace fails)\n%s\n%s", args, res.code, exitError, res.stdout, res.stderr)
		}
		for _, s := range secrets {
			if strings.Contains(res.stdout+res.stderr, s) {
				t.Errorf("%v: secret %q leaked:\nstdout:\n%s\nstderr:\n%s", args, s, res.stdout, res.stderr)
			}
		}
		for _, want := range []string{`(sensitive value)`, "read_latency must be"} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, res.stdout)
			}
		}
		if args[4] == "json" {
			reports := byWorkspace(decodeDoc(t, res.stdout))
			keyed := reports["keyed"]
			if keyed == nil || len(keyed.Drift) != 1 || keyed.Drift[0].Address != `testbed_object.keyed["(sensitive value)"]` ||
				len(keyed.Drift[0].Attributes) != 1 || keyed.Drift[0].Attributes[0].Path != `tags["(sensitive value)"]` {
				b, _ := json.Marshal(keyed)
				t.Errorf("keyed report: %s", b)
			}
		}
	}

	if n := len(gh.Issues()); n != 2 {
		t.Errorf("%d issues, want 2 (drift, scan error)", n)
	}
	var sent strings.Builder
	for _, is := range gh.Issues() {
		sent.WriteString(is.Title + is.Body + strings.Join(is.Comments, ""))
	}
	for _, m := range sl.Messages() {
		sent.WriteString(m.Text + m.BlocksJSON())
	}
	for _, s := range secrets {
		if strings.Contains(sent.String(), s) {
			t.Errorf("secret %q reached GitHub or Slack:\n%s", s, sent.String())
		}
	}
}
