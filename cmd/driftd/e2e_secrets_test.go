package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const secretsTF = `
variable "db_password" {
  type      = string
  sensitive = true
  default   = "var-secret-Zq9v"
}

resource "testbed_object" "db" {
  name     = "db"
  secret   = "attr-secret-Xk4w"
  settings = { tier = "gold", password = var.db_password }
  tags     = { env = "prod" }
}

# Terraform drops the mark here: the same value, unmarked, in an ordinary
# attribute and in terraform_data.
resource "testbed_object" "leak" {
  name    = "leak"
  content = nonsensitive(var.db_password)
}

resource "terraform_data" "copy" {
  input = nonsensitive(testbed_object.db.secret)
}

output "password" {
  value     = var.db_password
  sensitive = true
}

output "copied" {
  value = terraform_data.copy.output
}
`

// TestNoSecretLeaves: values Terraform marks sensitive (attribute, variable,
// output) never appear in text, JSON or markdown output, nor in logs, where
// they drifted or where Terraform copied them unmarked.
func TestNoSecretLeaves(t *testing.T) {
	f := newFleet(t)
	ws := f.add(t, "secrets", secretsTF, true)
	state, err := os.ReadFile(ws.StatePath())
	must(t, err)
	secrets := []string{"var-secret-Zq9v", "attr-secret-Xk4w", "rotated-Pq7m", "rotated-pw-Yy3n"}
	for _, s := range secrets[:2] {
		if !bytes.Contains(state, []byte(s)) {
			t.Fatalf("test setup: %q not in state, so the test would prove nothing", s)
		}
	}
	must(t, f.env.SetAttribute("db", "secret", "rotated-Pq7m"))
	must(t, f.env.SetAttribute("db", "settings.password", "rotated-pw-Yy3n"))
	must(t, f.env.SetAttribute("db", "tags.env", "staging"))
	// The unmarked copy drifts too: its old value (the variable's secret)
	// is the "before" of an ordinary attribute.
	must(t, f.env.SetAttribute("leak", "content", "overwritten"))
	cfg := f.writeConfig(t)

	for _, args := range [][]string{
		{"scan", "--config", cfg, "--log-level", "debug", "--log-format", "json"},
		{"scan", "--config", cfg, "--output", "json", "--log-level", "debug"},
		{"scan", "--config", cfg, "--output", "markdown", "--log-level", "debug", "--log-format", "text"},
		{"check", ws.Dir, "--pass-env", "TESTBED_*", "--output", "json", "--log-level", "debug"},
		{"check", ws.Dir, "--pass-env", "TESTBED_*", "--refresh-only"},
	} {
		env := append(cliEnv(t), f.env.Environ()...)
		res := runCLI(t, env, args...)
		if res.code != exitDrift {
			t.Fatalf("%v: exit %d\n%s\n%s", args, res.code, res.stdout, res.stderr)
		}
		for _, s := range secrets {
			if strings.Contains(res.stdout, s) || strings.Contains(res.stderr, s) {
				t.Errorf("%v: secret %q leaked:\nstdout:\n%s\nstderr:\n%s", args, s, res.stdout, res.stderr)
			}
		}
		for _, want := range []string{"(sensitive value)", "staging", "overwritten"} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, res.stdout)
			}
		}
	}
}
