package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleReports() []*drift.Report {
	started := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	webDrift := []drift.Origin{{Address: "testbed_object.web", Cause: drift.CauseDrift}}
	ext := []drift.Origin{{Address: "data.testbed_object.ext", Cause: drift.CauseInput}}
	return []*drift.Report{
		{
			SchemaVersion: drift.SchemaVersion, Workspace: "network", Status: drift.StatusDrifted,
			StartedAt: started, Duration: 3200 * time.Millisecond, TerraformVersion: "1.11.4",
			Commit:      "3f2a9c1e0b7d4a5e6f708192a3b4c5d6e7f80912",
			Source:      &drift.Source{Repo: "https://github.com/acme/infra.git", Path: "network", Ref: "main"},
			Fingerprint: "0123456789abcdef",
			Drift: []drift.ResourceChange{
				{Address: "testbed_object.cache", Type: "testbed_object", Name: "cache", Action: drift.ActionDelete,
					Identity: []drift.Attribute{{Path: "id", Value: "cache-7"}, {Path: "name", Value: "cache"}}},
				{Address: "testbed_object.web", Type: "testbed_object", Name: "web", Action: drift.ActionUpdate,
					Attributes: []drift.AttributeChange{
						{Path: "rule[0].port", Before: 443.0, After: 8443.0},
						{Path: "secret", Before: drift.SensitiveMarker, After: drift.SensitiveMarker, Sensitive: true},
						{Path: `tags["Cost Center"]`, Before: nil, After: "ops"},
						{Path: "tags.env", Before: "prod", After: "staging"},
					}},
			},
			Pending: []drift.ResourceChange{
				{Address: "testbed_object.new", Action: drift.ActionCreate, Cause: drift.CauseCode},
				{Address: "testbed_object.cfg", Action: drift.ActionUpdate, Cause: drift.CauseCode, Attributes: []drift.AttributeChange{
					{Path: "content", Before: "a ``` b", After: "c"},
					{Path: "id", Before: "x", Unknown: true},
				}},
				{Address: "testbed_object.old", Action: drift.ActionDelete, Cause: drift.CauseCode,
					Identity: []drift.Attribute{{Path: "id", Value: "old"}}},
				{Address: "testbed_object.mix", Action: drift.ActionUpdate, Cause: drift.CauseCode, FollowsFrom: ext,
					Attributes: []drift.AttributeChange{
						{Path: "content", Before: "v1", After: "v2", Cause: drift.CauseInput},
						{Path: "tags.team", Before: "a", After: "b"},
					}},
				{Address: "testbed_trigger.on_web", Action: drift.ActionReplace, Cause: drift.CauseDrift, FollowsFrom: webDrift,
					Attributes: []drift.AttributeChange{
						{Path: "id", Before: "5c1d0e4f", Unknown: true, Recomputed: true},
						{Path: "triggers.port", Before: "443", After: "8443"},
					}},
				{Address: "testbed_rotating.r", Action: drift.ActionCreate, Cause: drift.CauseTime,
					FollowsFrom: []drift.Origin{{Address: "testbed_rotating.r", Cause: drift.CauseTime}}},
			},
			Outputs: []drift.OutputChange{{Name: "url", Action: drift.ActionUpdate, Before: "a", After: "b"}},
			Ignored: 2,
		},
		{SchemaVersion: drift.SchemaVersion, Workspace: "app", Status: drift.StatusError, StartedAt: started,
			Duration: time.Second, Error: "Error: Invalid expression\n\n  on main.tf line 2"},
		{SchemaVersion: drift.SchemaVersion, Workspace: "storage", Status: drift.StatusClean, StartedAt: started,
			Drift: []drift.ResourceChange{}, Pending: []drift.ResourceChange{}},
		{
			SchemaVersion: drift.SchemaVersion, Workspace: "dns", Status: drift.StatusDrifted, StartedAt: started,
			Duration: 2 * time.Second, Source: &drift.Source{Dir: "/srv/infra/dns"}, Fingerprint: "fedcba9876543210",
			Drift: []drift.ResourceChange{{Address: "testbed_object.zone", Action: drift.ActionUpdate,
				Attributes: []drift.AttributeChange{{Path: "content", Before: "a", After: "b"}}}},
			Pending: []drift.ResourceChange{
				{Address: "testbed_trigger.on_zone", Action: drift.ActionReplace, Cause: drift.CauseDrift,
					FollowsFrom: []drift.Origin{{Address: "testbed_object.zone", Cause: drift.CauseDrift}},
					Attributes: []drift.AttributeChange{
						{Path: "id", Before: "9a8b", Unknown: true, Recomputed: true},
						{Path: "triggers.zone", Before: "a", Unknown: true},
					}},
				{Address: "testbed_object.record", Action: drift.ActionUpdate, Cause: drift.CauseInput, FollowsFrom: ext,
					Attributes: []drift.AttributeChange{{Path: "content", Before: "10.0.0.1", After: "10.0.0.2"}}},
			},
		},
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file (run with -update and review):\n%s", name, got)
	}
}

func TestTextGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, sampleReports(), TextOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "text.golden", buf.String())

	buf.Reset()
	if err := Text(&buf, sampleReports(), TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\x1b[33m~\x1b[0m") {
		t.Error("no colour with Color set")
	}
}

func TestMarkdownGolden(t *testing.T) {
	r := sampleReports()
	golden(t, "markdown.golden.md", Markdown(r[0], MarkdownOptions{}))
	golden(t, "markdown.error.golden.md", Markdown(r[1], MarkdownOptions{}))
	golden(t, "markdown.drift_only.golden.md", Markdown(r[3], MarkdownOptions{}))
}

// TestVerbose: the values a replacement recomputes are left out, and
// counted, unless Verbose.
func TestVerbose(t *testing.T) {
	r := sampleReports()[3]
	for _, verbose := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Text(&buf, []*drift.Report{r}, TextOptions{Verbose: verbose}); err != nil {
			t.Fatal(err)
		}
		md := Markdown(r, MarkdownOptions{Verbose: verbose})
		for name, out := range map[string]string{"text": buf.String(), "markdown": md} {
			if shown := strings.Contains(out, `"9a8b"`); shown != verbose {
				t.Errorf("%s, verbose %v: recomputed id shown %v:\n%s", name, verbose, shown, out)
			}
			if noted := strings.Contains(out, "(1 value known only after apply hidden)"); noted == verbose {
				t.Errorf("%s, verbose %v: hidden value noted %v:\n%s", name, verbose, noted, out)
			}
			// An unknown value the configuration sets is never noise.
			if !strings.Contains(out, "triggers.zone") {
				t.Errorf("%s, verbose %v: triggers.zone left out:\n%s", name, verbose, out)
			}
		}
	}
}

// TestAdvice: what to run, and where, for each case.
func TestAdvice(t *testing.T) {
	r := sampleReports()
	tests := []struct {
		r         *drift.Report
		want, not []string
	}{
		{r[0], []string{
			"Running `terraform apply` in `network` of `https://github.com/acme/infra.git` at commit `3f2a9c1e0b7d` would undo the drift and make the 2 follow-on changes above, but it would also apply the 4 pending code changes above: review them first.",
			"To keep the drift instead, change the code to match it, then run `terraform apply -refresh-only`",
		}, []string{"To undo the drift, run"}},
		{r[3], []string{
			"To undo the drift, run `terraform apply` in `/srv/infra/dns`: it would restore what changed outside Terraform and make the 2 follow-on changes above.",
			"`terraform apply -refresh-only`",
		}, []string{"pending code"}},
		{r[1], nil, []string{"terraform apply"}},
		{r[2], nil, []string{"terraform apply"}},
	}
	for _, tt := range tests {
		md := Markdown(tt.r, MarkdownOptions{})
		for _, w := range tt.want {
			if !strings.Contains(md, w) {
				t.Errorf("%s: markdown lacks %q:\n%s", tt.r.Workspace, w, md)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(md, n) {
				t.Errorf("%s: markdown has %q:\n%s", tt.r.Workspace, n, md)
			}
		}
	}
}

func TestMarkdownBounds(t *testing.T) {
	r := sampleReports()[0]
	md := Markdown(r, MarkdownOptions{MaxResources: 2, MaxAttributes: 2})
	for _, want := range []string{"… and 6 more resources not shown here", "… and 2 more attributes"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "testbed_object.new") || strings.Contains(md, "Pending changes") || strings.Contains(md, "Follow-on") {
		t.Errorf("resources past the bound were shown:\n%s", md)
	}
	// A value holding a fence cannot end the block early.
	md = Markdown(r, MarkdownOptions{})
	if !strings.Contains(md, "````diff") {
		t.Errorf("fence not lengthened past a ``` in a value:\n%s", md)
	}
}

func TestJSONDocument(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if err := JSON(&buf, sampleReports(), JSONOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	var doc Document
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := DocumentSummary{Workspaces: 4, Clean: 1, Drifted: 2, Errored: 1}
	if doc.SchemaVersion != drift.SchemaVersion || doc.Summary != want || len(doc.Reports) != 4 {
		t.Errorf("document = %+v", doc)
	}
	buf.Reset()
	if err := JSON(&buf, nil, JSONOptions{Now: now}); err != nil || !strings.Contains(buf.String(), `"reports": []`) {
		t.Errorf("empty document: %v %s", err, buf.String())
	}
	if strings.Contains(buf.String(), "shard") {
		t.Errorf("unsharded document names a shard:\n%s", buf.String())
	}
}

// TestShardNamed: a sharded run's summary says which shard, in text and
// JSON, even when the shard holds no workspace.
func TestShardNamed(t *testing.T) {
	sh := &Shard{Index: 2, Count: 8, Total: 40}
	for _, reports := range [][]*drift.Report{sampleReports(), nil} {
		var buf bytes.Buffer
		if err := Text(&buf, reports, TextOptions{Shard: sh}); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("shard 2/8: %d of 40 workspaces (the others belong to other shards)\n", len(reports))
		if !strings.HasSuffix(buf.String(), want) {
			t.Errorf("text lacks %q at the end:\n%s", want, buf.String())
		}
		buf.Reset()
		if err := JSON(&buf, reports, JSONOptions{Shard: sh}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), `"shard": {
      "index": 2,
      "count": 8,
      "total_workspaces": 40
    }`) {
			t.Errorf("JSON summary lacks the shard:\n%s", buf.String())
		}
	}
}

func TestSummary(t *testing.T) {
	r := sampleReports()
	tests := map[*drift.Report]string{
		r[0]: "2 resources drifted, 2 follow-on changes, 4 pending code changes",
		r[1]: "scan failed: Error: Invalid expression",
		r[2]: "no drift",
		r[3]: "1 resource drifted, 2 follow-on changes",
		// Stored before causes: taken for code, as they were.
		{Status: drift.StatusClean, Pending: []drift.ResourceChange{{}}}:                       "no drift, 1 pending code change",
		{Status: drift.StatusClean, Pending: []drift.ResourceChange{{Cause: drift.CauseTime}}}: "no drift, 1 follow-on change",
	}
	for rep, want := range tests {
		if got := Summary(rep); got != want {
			t.Errorf("Summary = %q, want %q", got, want)
		}
	}
}
