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
	return []*drift.Report{
		{
			SchemaVersion: drift.SchemaVersion, Workspace: "network", Status: drift.StatusDrifted,
			StartedAt: started, Duration: 3200 * time.Millisecond, TerraformVersion: "1.11.4",
			Fingerprint: "0123456789abcdef",
			Drift: []drift.ResourceChange{
				{Address: "testbed_object.cache", Type: "testbed_object", Name: "cache", Action: drift.ActionDelete},
				{Address: "testbed_object.web", Type: "testbed_object", Name: "web", Action: drift.ActionUpdate,
					Attributes: []drift.AttributeChange{
						{Path: "rule[0].port", Before: 443.0, After: 8443.0},
						{Path: "secret", Before: drift.SensitiveMarker, After: drift.SensitiveMarker, Sensitive: true},
						{Path: `tags["Cost Center"]`, Before: nil, After: "ops"},
						{Path: "tags.env", Before: "prod", After: "staging"},
					}},
			},
			Pending: []drift.ResourceChange{
				{Address: "testbed_object.new", Action: drift.ActionCreate},
				{Address: "testbed_object.cfg", Action: drift.ActionUpdate, Attributes: []drift.AttributeChange{
					{Path: "content", Before: "a ``` b", After: "c"},
					{Path: "id", Before: "x", Unknown: true},
				}},
			},
			Outputs: []drift.OutputChange{{Name: "url", Action: drift.ActionUpdate, Before: "a", After: "b"}},
			Ignored: 2,
		},
		{SchemaVersion: drift.SchemaVersion, Workspace: "app", Status: drift.StatusError, StartedAt: started,
			Duration: time.Second, Error: "Error: Invalid expression\n\n  on main.tf line 2"},
		{SchemaVersion: drift.SchemaVersion, Workspace: "storage", Status: drift.StatusClean, StartedAt: started,
			Drift: []drift.ResourceChange{}, Pending: []drift.ResourceChange{}},
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
}

func TestMarkdownBounds(t *testing.T) {
	r := sampleReports()[0]
	md := Markdown(r, MarkdownOptions{MaxResources: 2, MaxAttributes: 2})
	for _, want := range []string{"… and 2 more resources not shown here", "… and 2 more attributes"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "testbed_object.new") || strings.Contains(md, "Pending changes") {
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
	want := DocumentSummary{Workspaces: 3, Clean: 1, Drifted: 1, Errored: 1}
	if doc.SchemaVersion != drift.SchemaVersion || doc.Summary != want || len(doc.Reports) != 3 {
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
		r[0]: "2 resources drifted, 2 pending changes",
		r[1]: "scan failed: Error: Invalid expression",
		r[2]: "no drift",
		{Status: drift.StatusClean, Pending: []drift.ResourceChange{{}}}: "no drift, 1 pending change",
	}
	for rep, want := range tests {
		if got := Summary(rep); got != want {
			t.Errorf("Summary = %q, want %q", got, want)
		}
	}
}
