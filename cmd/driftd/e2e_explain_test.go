package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
)

// inputsTF has changes that follow from outside the code once its data
// source reads something new and its rotation has expired, and no drift.
const inputsTF = `
data "testbed_object" "ext" {
  name = "%[1]s-ext"
}

resource "testbed_trigger" "on_ext" {
  triggers = { c = data.testbed_object.ext.content }
}

resource "testbed_rotating" "r" {
  rotation_minutes = 60
}

resource "testbed_trigger" "pw" {
  triggers = { r = testbed_rotating.r.id }
}

resource "testbed_object" "code" {
  name    = "%[1]s-code"
  content = "v1"
}
`

// cascadeTF has a change that follows from drift.
const cascadeTF = `
resource "testbed_object" "src" {
  name    = "%[1]s-src"
  content = "s1"
}

resource "testbed_trigger" "on_src" {
  triggers = { id = testbed_object.src.id }
}
`

// TestScanExplainsPendingChanges runs driftd on real plans whose changes
// follow from a data source's input, an expired rotation and drift: each
// is explained in every format, --fail-on-pending counts code only, and the
// advice names the workspace's directory.
func TestScanExplainsPendingChanges(t *testing.T) {
	f := newFleet(t)
	must(t, f.env.PutObject("inputs-ext", map[string]any{"content": "v1"}))
	f.env.Now = time.Now().Add(-2 * time.Hour) // r expires an hour ago
	inputs := f.add(t, "inputs", fmt.Sprintf(inputsTF, "inputs"), true)
	f.env.Now = time.Time{}
	f.add(t, "cascade", fmt.Sprintf(cascadeTF, "cascade"), true)
	cfg := f.writeConfig(t)

	must(t, f.env.PutObject("inputs-ext", map[string]any{"content": "v2"}))
	must(t, f.env.Recreate("cascade-src"))

	res := runCLI(t, cliEnv(t), "scan", "--config", cfg, "--output", "json")
	if res.code != exitDrift {
		t.Fatalf("exit %d, want 2 (cascade drifted)\n%s", res.code, res.stderr)
	}
	doc := decodeDoc(t, res.stdout)
	if doc.SchemaVersion != 2 {
		t.Errorf("schema_version %d, want 2", doc.SchemaVersion)
	}
	reports := byWorkspace(doc)
	causes := func(r *drift.Report) map[string]string {
		m := map[string]string{}
		for _, p := range r.Pending {
			var from []string
			for _, o := range p.FollowsFrom {
				from = append(from, o.Address)
			}
			m[p.Address] = string(p.Cause) + " " + strings.Join(from, ",")
		}
		return m
	}
	want := map[string]string{
		"testbed_trigger.on_ext": "input data.testbed_object.ext",
		"testbed_rotating.r":     "time testbed_rotating.r",
		"testbed_trigger.pw":     "time testbed_rotating.r",
	}
	if got := causes(reports["inputs"]); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("inputs: pending %v, want %v", got, want)
	}
	if r := reports["inputs"]; r.Status != drift.StatusClean || r.Source == nil || r.Source.Dir != inputs.Dir {
		t.Errorf("inputs: status %s, source %+v; want clean in %s", r.Status, r.Source, inputs.Dir)
	}
	want = map[string]string{"testbed_trigger.on_src": "drift testbed_object.src"}
	if got := causes(reports["cascade"]); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("cascade: pending %v, want %v", got, want)
	}

	// Follow-on changes are no code left unapplied.
	if res := runCLI(t, cliEnv(t), "scan", "--config", cfg, "--fail-on-pending", "inputs"); res.code != exitClean {
		t.Errorf("only follow-on changes, --fail-on-pending: exit %d, want 0\n%s", res.code, res.stdout)
	}

	res = runCLI(t, cliEnv(t), "scan", "--config", cfg, "--verbose")
	for _, w := range []string{
		"Follow-on changes (not in code; terraform apply would make them):",
		"-/+ testbed_trigger.on_ext will be replaced, because data.testbed_object.ext read a new value",
		`~ triggers.c: "v1" → "v2"`,
		"+ testbed_rotating.r will be created, because its rotation time passed",
		"-/+ testbed_trigger.pw will be replaced, because the rotation time of testbed_rotating.r passed",
		"-/+ testbed_trigger.on_src will be replaced, because testbed_object.src drifted",
		"- testbed_object.src deleted outside Terraform: id \"cascade-src\", name \"cascade-src\"",
		`~ id: "`, // recomputed, shown with --verbose
		`~ triggers.id: "cascade-src" → (known after apply)`,
		"To undo the drift, run `terraform apply` in",
		"`terraform apply -refresh-only`",
		"✓ inputs   clean    no drift, 3 follow-on changes",
	} {
		if !strings.Contains(res.stdout, w) {
			t.Errorf("text lacks %q:\n%s", w, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "Pending changes (in code") {
		t.Errorf("follow-on changes listed as code:\n%s", res.stdout)
	}
	if strings.Contains(res.stdout, "hidden") {
		t.Errorf("--verbose hides values:\n%s", res.stdout)
	}

	// Code on top: it is pending code, and --fail-on-pending fails.
	must(t, inputs.SetMainTF(strings.Replace(fmt.Sprintf(inputsTF, "inputs"), `content = "v1"`, `content = "v2"`, 1)))
	res = runCLI(t, cliEnv(t), "scan", "--config", cfg, "--fail-on-pending", "inputs")
	if res.code != exitDrift || !strings.Contains(res.stdout, "Pending changes (in code, not applied):\n\n  ~ testbed_object.code will be updated in-place") {
		t.Errorf("code pending, --fail-on-pending: exit %d, want 2\n%s", res.code, res.stdout)
	}
}
