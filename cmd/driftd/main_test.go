package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/scan"
	"github.com/driftd/driftd/internal/reliability"
)

func TestCommandsWithoutTerraform(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "net"), 0o755))
	good := filepath.Join(dir, "good.yaml")
	must(t, os.WriteFile(good, []byte("version: 1\nworkspaces:\n  - name: net\n    dir: net\n"), 0o644))
	needsEnv := filepath.Join(dir, "needs-env.yaml")
	must(t, os.WriteFile(needsEnv, []byte("version: 1\nworkspaces:\n  - name: net\n    dir: ${INFRA_ROOT}/net\nreporters:\n  slack:\n    channel: \"#drift\"\n    api_url: https://slack.example.com/api/\n    token_env: SLACK_BOT_TOKEN\n"), 0o644))
	warns := filepath.Join(dir, "warns.yaml")
	must(t, os.WriteFile(warns, []byte("version: 1\nworkspaces:\n  - name: net\n    dir: net\n    ignore:\n      - attributes: [\"tags['x']\"]\n"), 0o644))
	bad := filepath.Join(dir, "bad.yaml")
	must(t, os.WriteFile(bad, []byte("version: 1\nworkspaces:\n  - name: net\n    dir: net\n    timout: 5m\n  - name: Bad Name\n    dir: net\n    schedule: \"61 * * * *\"\n"), 0o644))

	tests := []struct {
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{args: []string{"version"}, code: 0, stdout: []string{"driftd "}},
		{args: []string{}, code: 1, stderr: []string{"Usage: driftd"}},
		{args: []string{"frobnicate"}, code: 1, stderr: []string{`unknown command "frobnicate"`}},
		{args: []string{"validate", "--config", good}, code: 0, stdout: []string{"OK, 1 workspace(s)"}},
		{args: []string{"validate", bad}, code: 1, stderr: []string{
			"bad.yaml:5:5: workspaces[0].timout: unknown field",
			"bad.yaml:6:11: workspaces[1].name:",
			"bad.yaml:8:15: workspaces[1].schedule:",
			"3 error(s)",
		}},
		{args: []string{"validate", "--config", filepath.Join(dir, "missing.yaml")}, code: 1, stderr: []string{"missing.yaml"}},
		{args: []string{"validate", needsEnv}, code: 1, stderr: []string{
			"needs-env.yaml:4:10: workspaces[0].dir: environment variable INFRA_ROOT is not set",
			"needs-env.yaml:9:16: reporters.slack.token_env: environment variable SLACK_BOT_TOKEN is not set",
			"2 error(s)",
		}},
		{args: []string{"validate", "--offline", needsEnv}, code: 0, stdout: []string{"OK, 1 workspace(s) (offline: environment variables and secret files not checked)"}},
		{args: []string{"validate", "--offline", bad}, code: 1, stderr: []string{"bad.yaml:5:5: workspaces[0].timout: unknown field", "3 error(s)"}},
		{args: []string{"validate", warns}, code: 0, stdout: []string{"OK, 1 workspace(s)"}, stderr: []string{
			`warns.yaml:6:22: workspaces[0].ignore[0].attributes[0]: warning: "tags['x']" can never match: paths quote keys with double quotes: ["x"]`,
		}},
		{args: []string{"scan", "--config", good, "nope"}, code: 1, stderr: []string{"nope"}},
		{args: []string{"scan", "--config", good, "--output", "yaml"}, code: 1, stderr: []string{"--output: want text, json or markdown"}},
		{args: []string{"scan", "--config", good, "--concurrency", "0"}, code: 1, stderr: []string{"--concurrency must be at least 1"}},
		{args: []string{"check", dir, "--output", "json", "--verbose"}, code: 1, stderr: []string{"--verbose is for text and markdown output"}},
		{args: []string{"check"}, code: 1, stderr: []string{"want exactly one directory"}},
		{args: []string{"check", filepath.Join(dir, "nowhere")}, code: 1, stderr: []string{"is not a directory"}},
		{args: []string{"check", dir, "--var", "novalue"}, code: 1, stderr: []string{`--var "novalue": want NAME=VALUE`}},
		{args: []string{"check", dir, "--report"}, code: 1, stderr: []string{"--report needs --config"}},
		{args: []string{"check", dir, "--pass-env", "TF_WORKSPACE"}, code: 1, stderr: []string{"--pass-env TF_WORKSPACE: driftd does not pass TF_WORKSPACE to terraform"}},
		{args: []string{"scan", "-h"}, code: 0, stderr: []string{"-concurrency int"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			res := runCLI(t, []string{"HOME=" + t.TempDir()}, tt.args...)
			if res.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", res.code, tt.code, res.stdout, res.stderr)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, res.stdout)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
				}
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	clean := &drift.Report{Status: drift.StatusClean}
	pending := &drift.Report{Status: drift.StatusClean, Pending: []drift.ResourceChange{{Address: "a", Cause: drift.CauseCode}}}
	// Changes that follow from drift, a data source or a rotation are no
	// code left unapplied.
	followOn := &drift.Report{Status: drift.StatusClean, Pending: []drift.ResourceChange{
		{Address: "b", Cause: drift.CauseInput}, {Address: "c", Cause: drift.CauseTime}, {Address: "d", Cause: drift.CauseDrift}}}
	drifted := &drift.Report{Status: drift.StatusDrifted}
	failed := &drift.Report{Status: drift.StatusError}
	tests := []struct {
		reports       []*drift.Report
		failOnPending bool
		want          int
	}{
		{nil, false, exitClean},
		{[]*drift.Report{clean, pending}, false, exitClean},
		{[]*drift.Report{clean, pending}, true, exitDrift},
		{[]*drift.Report{clean, followOn}, true, exitClean},
		{[]*drift.Report{followOn, pending}, true, exitDrift},
		{[]*drift.Report{clean, drifted}, false, exitDrift},
		{[]*drift.Report{drifted, failed}, false, exitError},
		{[]*drift.Report{failed, drifted}, false, exitError},
	}
	for i, tt := range tests {
		if got := exitCode(tt.reports, tt.failOnPending); got != tt.want {
			t.Errorf("%d: exitCode = %d, want %d", i, got, tt.want)
		}
	}
}

func TestProgressOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	p := startProgress(&buf, 2, func() time.Time { return now })
	p.event(scan.Event{Workspace: "net", Started: now.Add(-3 * time.Second)})
	p.event(scan.Event{Workspace: "app", Started: now.Add(-1 * time.Second)})
	p.event(scan.Event{Workspace: "net", Report: &drift.Report{Workspace: "net", Status: drift.StatusDrifted,
		Drift: []drift.ResourceChange{{Address: "x"}}, Duration: 3 * time.Second}})
	p.close()
	out := buf.String()
	for _, want := range []string{"scanning 0/2 · app 1s, net 3s", "~ net: 1 resource drifted (3s)", "scanning 1/2 · app 1s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("progress line not cleared at the end: %q", out)
	}
}

// TestPanicExitsOne: a panic in any command exits 1 with its message, not
// Go's 2, which reads as "drift found".
func TestPanicExitsOne(t *testing.T) {
	recovered := reliability.Times(t, "commands", "panic in a command (scan, check, serve, validate, version)",
		"exit 1 with the panic's message, never 2, which means drift found")
	for _, cmd := range []string{"scan", "check", "serve", "validate", "version"} {
		recovered.Add(1)
		var out, errb bytes.Buffer
		a := newApp(&out, &errb, nil)
		a.beforeCommand = func(name string) { panic("boom in " + name) }
		if code := a.run(t.Context(), []string{cmd}); code != exitError {
			t.Errorf("%s: exit %d, want %d", cmd, code, exitError)
		}
		if want := "driftd " + cmd + ": panic: boom in " + cmd + "\n"; !strings.HasPrefix(errb.String(), want) {
			t.Errorf("%s: stderr %q, want it to start with %q", cmd, errb.String(), want)
		}
	}
}

// TestValidateCanceled: validate stops when its context is done (SIGINT,
// SIGTERM) and says so.
func TestValidateCanceled(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "w.yaml")
	must(t, os.WriteFile(cfg, []byte("version: 1\nworkspaces:\n  - name: a\n    dir: .\n"), 0o644))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errb bytes.Buffer
	if code := newApp(&out, &errb, nil).run(ctx, []string{"validate", cfg}); code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if !strings.Contains(errb.String(), "context canceled") || out.Len() > 0 {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
	reliability.Record(t, "signals", "driftd validate canceled, as SIGINT or SIGTERM cancel it", "stops and exits 1, saying canceled; nothing on stdout")
}
