package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/shard"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/reporters/slack/slacktest"
)

// TestScanForgetsRemovedWorkspace: `driftd scan` without a store forgets
// the records of a workspace removed from the config, so that the
// workspace re-added under the same name with the same drift gets a first
// alert again. Before, its old record said the drift was told and Slack
// heard nothing. A shard's or a selection's run forgets no workspace of
// the config.
func TestScanForgetsRemovedWorkspace(t *testing.T) {
	if testing.Short() {
		t.Skip("scans end to end")
	}
	sl := slacktest.NewServer(t, "xoxb-fake-slack-token-456")
	f := newFleet(t)
	f.add(t, "net", fmt.Sprintf(webTF, "net"), true)
	f.add(t, "calm", fmt.Sprintf(webTF, "calm"), true)
	must(t, f.env.SetAttribute("net-web", "tags.env", "staging"))
	must(t, f.env.SetAttribute("calm-web", "tags.env", "staging"))
	slackYAML := "reporters:\n  slack:\n    webhook_url_env: DRIFTD_TEST_SLACK_URL\n"
	config := func(names ...string) string {
		f.names = names
		cfg := f.writeConfig(t)
		appendFile(t, cfg, slackYAML)
		return cfg
	}
	env := append(cliEnv(t), "DRIFTD_TEST_SLACK_URL="+sl.WebhookURL())
	notifyDir := ""
	for _, kv := range env {
		if dir, ok := strings.CutPrefix(kv, "DRIFTD_CACHE_DIR="); ok {
			notifyDir = filepath.Join(dir, "notify")
		}
	}
	scan := func(args ...string) string {
		t.Helper()
		res := runCLI(t, env, append([]string{"scan", "--log-level", "info"}, args...)...)
		if res.code != exitDrift {
			t.Fatalf("scan %q: exit %d, want %d\n%s\n%s", args, res.code, exitDrift, res.stdout, res.stderr)
		}
		return res.stderr
	}
	recorded := func() []string {
		t.Helper()
		ents, err := os.ReadDir(notifyDir)
		must(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}

	scan("--config", config("net", "calm"))
	if n := len(sl.Messages()); n != 2 {
		t.Fatalf("%d messages, want the first alerts of net and calm", n)
	}

	// net leaves the config: its records go, once, and calm's stay.
	cfg := config("calm")
	logs := scan("--config", cfg)
	if got := recorded(); !slices.Equal(got, []string{"calm"}) {
		t.Errorf("records after net left the config: %q, want calm's only", got)
	}
	if n := strings.Count(logs, "no longer configured"); n != 1 || !strings.Contains(logs, `"msg":"forgot the notification records of a workspace no longer configured","workspace":"net"`) {
		t.Errorf("want one line forgetting net, got:\n%s", logs)
	}

	// net comes back with the same drift: a first alert.
	cfg = config("net", "calm")
	scan("--config", cfg)
	msgs := sl.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages after net came back, want 3", len(msgs))
	}
	if j := msgs[2].BlocksJSON(); !strings.Contains(j, "Drift detected in net") {
		t.Errorf("net came back: %s", j)
	}

	// A shard's run, and a run of one workspace, keep the others' records.
	for i := range 2 {
		if !slices.Equal(shard.Filter(shard.Shard{Index: i, Count: 2}, []string{"net", "calm"}, func(s string) string { return s }), []string{"calm"}) {
			continue
		}
		scan("--config", cfg, "--shard", fmt.Sprintf("%d/2", i))
	}
	scan("--config", cfg, "calm")
	if got := recorded(); !slices.Equal(got, []string{"calm", "net"}) {
		t.Errorf("records after runs of calm alone: %q, want calm's and net's", got)
	}
	if n := len(sl.Messages()); n != 3 {
		t.Errorf("%d messages, want 3: nothing changed", n)
	}
}

// TestServeForgetsRemovedWorkspaces: `driftd serve` forgets, in its
// store, the records of workspaces outside the config when it starts and
// when a reload removes them; a shard keeps those of the other shards.
func TestServeForgetsRemovedWorkspaces(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon end to end")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	must(t, os.MkdirAll(data, 0o700))
	st, err := store.Open(filepath.Join(data, "driftd.db"), store.Options{})
	must(t, err)
	ctx := context.Background()
	for _, ws := range []string{"one", "two", "gone"} {
		must(t, st.PutState(ctx, ws, "slack", []byte(`{"status":"drifted"}`)))
		must(t, st.PutState(ctx, ws, "drift", []byte(`{"first_seen":"2026-01-01T00:00:00Z"}`)))
	}
	must(t, st.Close())

	cfg := filepath.Join(dir, "driftd.yaml")
	config := func(names ...string) {
		var b strings.Builder
		b.WriteString("version: 1\nworkspaces:\n")
		for _, n := range names {
			fmt.Fprintf(&b, "  - name: %s\n    dir: %s\n    schedule: \"@daily\"\n", n, dir)
		}
		must(t, os.WriteFile(cfg, []byte(b.String()), 0o600))
	}
	config("one", "two")
	addr := freeAddr(t)
	// Each shard holds one of one and two: whichever this is, the other's
	// records stay.
	d := startDaemonAt(t, addr, cliEnv(t), "--config", cfg, "--data-dir", data, "--listen", addr, "--shard", "0/2", "--log-format", "json")
	forgot := func() int { return strings.Count(d.log(), "no longer configured") }
	if n := forgot(); n != 1 || !strings.Contains(d.log(), `"workspace":"gone"`) {
		t.Fatalf("start-up forgot %d workspaces, want gone:\n%s", n, d.log())
	}

	config("one")
	d.reload(t, "the reload")
	if n := forgot(); n != 2 || !strings.Contains(d.log(), `"workspace":"two"`) {
		t.Fatalf("the reload forgot %d workspaces in all, want gone and two:\n%s", n, d.log())
	}

	must(t, d.cmd.Process.Kill())
	<-d.done
	st, err = store.Open(filepath.Join(data, "driftd.db"), store.Options{})
	must(t, err)
	defer st.Close()
	wss, err := st.StateWorkspaces(ctx)
	must(t, err)
	if !slices.Equal(wss, []string{"one"}) {
		t.Errorf("records kept for %q, want one's only", wss)
	}
}
