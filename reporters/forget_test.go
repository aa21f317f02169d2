package reporters_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/filestate"
	"github.com/driftd/driftd/reporters/reportertest"
	"github.com/driftd/driftd/reporters/slack"
	"github.com/driftd/driftd/reporters/slack/slacktest"
)

// TestForgetRemovedWorkspace, for every State driftd keeps records in: a
// workspace removed from the config and re-added under the same name with
// the same drift gets a first alert again. Without Forget, its old record
// said the drift was told, and Slack heard nothing. The records of
// workspaces still configured stay, and forgetting is logged once.
func TestForgetRemovedWorkspace(t *testing.T) {
	t.Parallel()
	states := map[string]func(t *testing.T) reporters.State{
		"memory": func(*testing.T) reporters.State { return &reporters.MemState{} },
		"files": func(t *testing.T) reporters.State {
			s, err := filestate.Open(filepath.Join(t.TempDir(), "notify"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"store": func(t *testing.T) reporters.State {
			s, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, open := range states {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sls := slacktest.NewServer(t, "xoxb-x")
			sl, err := slack.New(slack.Config{Token: "xoxb-x", Channel: "#infra", APIURL: sls.APIURL(), Notify: reporters.NotifyAll}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			st := open(t)
			d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{sl}, reporters.WithTimeout(10*time.Second), reporters.WithState(st))
			report := func(ws string, day int) *drift.Report {
				r := *reportertest.Drifted("one")
				r.Workspace = ws
				r.StartedAt = time.Date(2026, 4, day, 2, 0, 0, 0, time.UTC)
				return &r
			}
			run := func(ds ...*drift.Report) {
				t.Helper()
				for _, cur := range ds {
					for _, res := range d.Deliver(ctx, cur) {
						if res.Err != nil {
							t.Fatalf("%s/%s: %v", res.Reporter, res.Workspace, res.Err)
						}
					}
				}
			}

			run(report("net", 1), report("calm", 1))
			if n := len(sls.Messages()); n != 2 {
				t.Fatalf("%d messages, want the first alerts of net and calm", n)
			}

			// net leaves the config; calm and a workspace of another shard
			// stay in it.
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			configured := func(ws string) bool { return ws == "calm" || ws == "other-shard" }
			must(t, st.PutState(ctx, "other-shard", "slack", []byte(`{"status":"clean"}`)))
			gone, err := reporters.Forget(ctx, st, log, configured)
			if err != nil || !slices.Equal(gone, []string{"net"}) {
				t.Fatalf("Forget = %q, %v; want net forgotten", gone, err)
			}
			for _, entry := range []string{"slack", "drift"} {
				if b, err := st.GetState(ctx, "net", entry); b != nil || err != nil {
					t.Errorf("net's %s record after Forget: %s, %v", entry, b, err)
				}
				if b, err := st.GetState(ctx, "calm", entry); b == nil || err != nil {
					t.Errorf("calm's %s record lost: %v", entry, err)
				}
			}
			if b, _ := st.GetState(ctx, "other-shard", "slack"); b == nil {
				t.Error("another shard's record lost")
			}
			if n := strings.Count(logs.String(), "no longer configured"); n != 1 || !strings.Contains(logs.String(), "workspace=net") {
				t.Errorf("want one info line for net, got:\n%s", logs.String())
			}
			if gone, err := reporters.Forget(ctx, st, log, configured); len(gone) != 0 || err != nil {
				t.Errorf("second Forget = %q, %v; want nothing", gone, err)
			}

			// net comes back with the same drift: a first alert, not a
			// repeat of nothing nor "drift is back".
			run(report("net", 9), report("calm", 9))
			msgs := sls.Messages()
			if len(msgs) != 3 {
				t.Fatalf("%d messages after net came back, want 3", len(msgs))
			}
			if j := msgs[2].BlocksJSON(); !strings.Contains(j, "Drift detected in net") || msgs[2].ThreadTS != "" {
				t.Errorf("net came back: thread %q, %s", msgs[2].ThreadTS, j)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
