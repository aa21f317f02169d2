package slack

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/reportertest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.txt")

// readable renders a message roughly as Slack shows it, for people to
// review: the notification text, then each block (a header as "#", a
// context as "_…_"), blank lines between.
func readable(t *testing.T, m Msg) string {
	t.Helper()
	b, err := json.Marshal(m.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Text string `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(b, &blocks); err != nil {
		t.Fatal(err)
	}
	parts := []string{"notification: " + m.Text}
	for _, bl := range blocks {
		switch bl.Type {
		case "header":
			parts = append(parts, "# "+bl.Text.Text)
		case "context":
			for _, e := range bl.Elements {
				parts = append(parts, "_"+e.Text+"_")
			}
		default:
			parts = append(parts, bl.Text.Text)
		}
	}
	return strings.Join(parts, "\n\n") + "\n"
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	reportertest.Golden(t, filepath.Join("testdata", name+".golden.txt"), got, *update)
}

// The fleet of the golden messages: prod-network, owned by a team mapped
// to a Slack user group and a person mapped to a Slack user, and by one
// without a mapping.
var (
	goldenOwners = map[string]string{"acme/platform": "<!subteam^S0PLATFORM>", "alice": "<@U0ALICE>"}
	day          = func(d int) time.Time { return time.Date(2026, 3, d, 2, 0, 0, 0, time.UTC) }
	dbPassword   = drift.AttributeChange{Path: "password", Before: drift.SensitiveMarker, After: drift.SensitiveMarker, Sensitive: true}
	dbEnv        = drift.AttributeChange{Path: "tags.env", Before: "prod", After: "staging"}
	db           = drift.ResourceChange{Address: "aws_db_instance.main", Type: "aws_db_instance", Name: "main", Action: drift.ActionUpdate,
		Attributes: []drift.AttributeChange{dbPassword, dbEnv}}
	sg = drift.ResourceChange{Address: "aws_security_group_rule.ssh", Type: "aws_security_group_rule", Name: "ssh", Action: drift.ActionUpdate,
		Attributes: []drift.AttributeChange{{Path: "cidr_blocks[0]", Before: "10.0.0.0/16", After: "0.0.0.0/0"}}}
	logs = drift.ResourceChange{Address: "aws_s3_bucket.old_logs", Type: "aws_s3_bucket", Name: "old_logs", Action: drift.ActionDelete}
)

func goldenReport(d int, st drift.Status, fp string, rs ...drift.ResourceChange) *drift.Report {
	return &drift.Report{
		SchemaVersion: drift.SchemaVersion, Workspace: "prod-network", Status: st, Fingerprint: fp, Drift: rs,
		StartedAt: day(d), Commit: "3f2a9c1e0b7d4a6f8e9d0c1b2a3f4e5d6c7b8a9f", Owners: []string{"acme/platform", "alice", "bob"},
	}
}

// TestGoldenMessages: the messages a platform team reads, one file each,
// reviewed by eye when they change.
func TestGoldenMessages(t *testing.T) {
	t.Parallel()
	links := reporters.Links{"github": "https://github.com/acme/infra/issues/42"}
	dbDev := db
	dbDev.Attributes = []drift.AttributeChange{dbPassword, {Path: "tags.env", Before: "prod", After: "dev"}, {Path: "tags.owner", Before: "platform", After: "data"}}
	told := goldenReport(1, drift.StatusDrifted, "a1", db, logs)
	failed := goldenReport(3, drift.StatusError, "")
	failed.Error = "Error: reading S3 Bucket (old-logs): operation error S3: HeadBucket, https response error StatusCode: 403\n\n  with aws_s3_bucket.old_logs,\n  on storage.tf line 12"
	cases := []struct {
		name string
		n    reporters.Notification
	}{
		{"new", reporters.Notification{Kind: reporters.New, Cur: told, FirstSeen: day(1), Links: links}},
		{"changed", reporters.Notification{Kind: reporters.Changed, Cur: goldenReport(2, drift.StatusDrifted, "b2", dbDev, sg),
			Prev: told, FirstSeen: day(1), Links: links}},
		{"error", reporters.Notification{Kind: reporters.Error, Cur: failed, FirstSeen: day(1), Links: links}},
		{"resolved", reporters.Notification{Kind: reporters.Resolved, Cur: goldenReport(5, drift.StatusClean, ""),
			Prev: told, FirstSeen: day(1), Resolved: day(5), Links: links}},
		{"back", reporters.Notification{Kind: reporters.New, Cur: goldenReport(9, drift.StatusDrifted, "c3", sg),
			FirstSeen: day(9), Before: day(5), Links: links}},
	}
	for _, c := range cases {
		golden(t, "message."+c.name, readable(t, Message(c.n, goldenOwners)))
	}
	d := &Digest{poster: poster{cfg: Config{Owners: goldenOwners}}}
	other := goldenReport(9, drift.StatusClean, "")
	other.Workspace, other.Owners = "staging-app", []string{"bob"}
	golden(t, "digest", readable(t, d.message([]reporters.Notification{
		cases[1].n, {Kind: reporters.Resolved, Cur: other, FirstSeen: day(2), Resolved: day(9)}, cases[4].n,
	}, 40)))
}
