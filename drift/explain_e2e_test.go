package drift_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/planfile"
	"github.com/driftd/driftd/internal/testbed"
)

var updateFixtures = flag.Bool("update", false, "rewrite testdata/explain/*-VERSION.json from real plans of the terraform on PATH")

// explainTF has one planned change of every kind once explainSetup has
// run: code not applied, consequences of drift (directly, through a data
// source read during apply, and through drift the plan keeps), of a data
// source's input (directly, inside a string, through a module variable,
// mixed with code), and of an expired rotation.
const explainTF = `
data "testbed_object" "ext" {
  name = "ext"
}

resource "testbed_object" "consumer" {
  name    = "consumer"
  content = data.testbed_object.ext.content
  tags    = { t = "prefix-${data.testbed_object.ext.content}" }
}

resource "testbed_trigger" "on_ext" {
  triggers = { c = data.testbed_object.ext.content }
}

resource "testbed_object" "mix" {
  name    = "mix"
  content = data.testbed_object.ext.content
  tags    = { a = "MIX" }
}

module "m" {
  source = "./m"
  in     = data.testbed_object.ext.content
}

resource "testbed_object" "src" {
  name    = "src"
  content = "s1"
}

resource "testbed_trigger" "on_src" {
  triggers = { id = testbed_object.src.id }
}

data "testbed_object" "src_read" {
  name = testbed_object.src.name
}

resource "testbed_trigger" "on_src_read" {
  triggers = { c = data.testbed_object.src_read.content }
}

resource "testbed_object" "kept" {
  name    = "kept"
  content = "k1"
  lifecycle {
    ignore_changes = [content]
  }
}

resource "testbed_trigger" "on_kept" {
  triggers = { c = "kept:${testbed_object.kept.content}" }
}

resource "testbed_object" "restored" {
  name    = "restored"
  content = "r1"
}

resource "testbed_rotating" "r" {
  rotation_minutes = 60
}

resource "testbed_trigger" "pw" {
  triggers = { r = testbed_rotating.r.id }
}

resource "testbed_object" "code" {
  name    = "code"
  content = "CODE"
}

resource "testbed_object" "gone" {
  name    = "gone"
  content = "g1"
}
`

const explainModuleTF = `
terraform {
  required_providers {
    testbed = { source = "driftd.test/driftd/testbed" }
  }
}

variable "in" {
  type = string
}

resource "testbed_trigger" "t" {
  triggers = { v = var.in }
}
`

// explainSetup applies explainTF under a clock two hours behind (so that
// testbed_rotating.r has expired by the real one), then changes things
// outside Terraform and in the code.
func explainSetup(t *testing.T) (*testbed.Env, *testbed.Workspace) {
	t.Helper()
	env := testbed.New(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.PutObject("ext", map[string]any{"content": "v1"}))
	ws, err := env.NewWorkspace("explain", explainTF)
	must(err)
	must(os.MkdirAll(filepath.Join(ws.Dir, "m"), 0o755))
	must(os.WriteFile(filepath.Join(ws.Dir, "m", "main.tf"), []byte(explainModuleTF), 0o644))
	env.Now = time.Now().Add(-2 * time.Hour)
	must(ws.Apply(t.Context()))
	env.Now = time.Time{}

	must(env.PutObject("ext", map[string]any{"content": "v2"})) // an input changed
	must(env.Recreate("src"))                                   // deleted and made again
	must(env.SetAttribute("kept", "content", "k2"))             // drift the code ignores
	must(env.SetAttribute("restored", "content", "r2"))         // drift apply undoes
	must(env.DeleteObject("gone"))                              // deleted outside Terraform
	tf := strings.Replace(explainTF, `"CODE"`, `"CODE2"`, 1)
	tf = strings.Replace(tf, `"MIX"`, `"MIX2"`, 1)
	must(ws.SetMainTF(tf))
	return env, ws
}

// planAndRead plans the workspace (with extra plan arguments), and returns
// the JSON plan and the data reads driftd's runner would give Analyze.
func planAndRead(t *testing.T, ws *testbed.Workspace, args ...string) ([]byte, drift.DataReads) {
	t.Helper()
	args = append([]string{"plan", "-input=false", "-no-color", "-lock=false", "-out=tfplan"}, args...)
	if _, err := ws.Run(t.Context(), args...); err != nil {
		t.Fatal(err)
	}
	data, err := ws.Run(t.Context(), "show", "-json", "tfplan")
	if err != nil {
		t.Fatal(err)
	}
	reads, err := planfile.DataReads(filepath.Join(ws.Dir, "tfplan"))
	if err != nil {
		t.Fatal(err)
	}
	return data, reads
}

// explained is a pending change as the tests compare it.
type explained struct {
	Action drift.Action
	Cause  drift.Cause
	From   []string // address:cause
	// Attrs are attributes with a cause of their own, path:cause.
	Attrs []string `json:",omitempty"`
}

func explainedOf(r *drift.Report) map[string]explained {
	out := map[string]explained{}
	for _, p := range r.Pending {
		e := explained{Action: p.Action, Cause: p.Cause}
		for _, o := range p.FollowsFrom {
			e.From = append(e.From, o.Address+":"+string(o.Cause))
		}
		for _, a := range p.Attributes {
			if a.Cause != "" {
				e.Attrs = append(e.Attrs, a.Path+":"+string(a.Cause))
			}
		}
		sort.Strings(e.Attrs)
		out[p.Address] = e
	}
	return out
}

const (
	ext       = "data.testbed_object.ext:input"
	srcDrift  = "testbed_object.src:drift"
	keptDrift = "testbed_object.kept:drift"
	rotation  = "testbed_rotating.r:time"
)

// wantRefreshed is the explanation of the refreshing plan.
var wantRefreshed = map[string]explained{
	"testbed_object.code":         {Action: drift.ActionUpdate, Cause: drift.CauseCode},
	"testbed_object.consumer":     {Action: drift.ActionUpdate, Cause: drift.CauseInput, From: []string{ext}},
	"testbed_object.mix":          {Action: drift.ActionUpdate, Cause: drift.CauseCode, From: []string{ext}, Attrs: []string{"content:input"}},
	"testbed_trigger.on_ext":      {Action: drift.ActionReplace, Cause: drift.CauseInput, From: []string{ext}},
	"module.m.testbed_trigger.t":  {Action: drift.ActionReplace, Cause: drift.CauseInput, From: []string{ext}},
	"testbed_trigger.on_src":      {Action: drift.ActionReplace, Cause: drift.CauseDrift, From: []string{srcDrift}},
	"testbed_trigger.on_src_read": {Action: drift.ActionReplace, Cause: drift.CauseDrift, From: []string{srcDrift}},
	"testbed_trigger.on_kept":     {Action: drift.ActionReplace, Cause: drift.CauseDrift, From: []string{keptDrift}},
	"testbed_rotating.r":          {Action: drift.ActionCreate, Cause: drift.CauseTime, From: []string{rotation}},
	"testbed_trigger.pw":          {Action: drift.ActionReplace, Cause: drift.CauseTime, From: []string{rotation}},
}

// wantUnrefreshed is the explanation of the plan without refresh: no
// drift is seen, the rotation replaces testbed_rotating.r in the plan.
var wantUnrefreshed = map[string]explained{
	"testbed_object.code":        wantRefreshed["testbed_object.code"],
	"testbed_object.consumer":    wantRefreshed["testbed_object.consumer"],
	"testbed_object.mix":         wantRefreshed["testbed_object.mix"],
	"testbed_trigger.on_ext":     wantRefreshed["testbed_trigger.on_ext"],
	"module.m.testbed_trigger.t": wantRefreshed["module.m.testbed_trigger.t"],
	"testbed_rotating.r":         {Action: drift.ActionReplace, Cause: drift.CauseTime, From: []string{rotation}},
	"testbed_trigger.pw":         wantRefreshed["testbed_trigger.pw"],
}

// explainCases are the plans of explainSetup's workspace: with and
// without refresh.
var explainCases = []struct {
	name  string
	args  []string
	drift []string
	want  map[string]explained
}{
	{"refreshed", nil, []string{"testbed_object.gone:delete", "testbed_object.kept:update", "testbed_object.restored:update", "testbed_object.src:delete"}, wantRefreshed},
	{"norefresh", []string{"-refresh=false"}, nil, wantUnrefreshed},
}

// TestExplainRealPlans explains the pending changes of real plans, with
// and without refresh. With -update it keeps the plans in
// testdata/explain, one set per terraform version, for tests without
// terraform and the fuzzer.
func TestExplainRealPlans(t *testing.T) {
	_, ws := explainSetup(t)
	for _, tt := range explainCases {
		t.Run(tt.name, func(t *testing.T) {
			data, reads := planAndRead(t, ws, tt.args...)
			r := analyze(t, data, reads)
			checkExplained(t, r, tt.drift, tt.want)
			if *updateFixtures {
				v := strings.Join(strings.SplitN(r.TerraformVersion, ".", 3)[:2], ".")
				writeFixture(t, tt.name+"-"+v+".json", data, reads)
			}
		})
	}
}

func analyze(t *testing.T, data []byte, reads drift.DataReads) *drift.Report {
	t.Helper()
	plan, err := drift.ReadPlan(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return drift.Analyze(plan, drift.Options{Workspace: "explain", PreviousReads: reads})
}

func checkExplained(t *testing.T, r *drift.Report, wantDrift []string, want map[string]explained) {
	t.Helper()
	var gotDrift []string
	for _, d := range r.Drift {
		gotDrift = append(gotDrift, d.Address+":"+string(d.Action))
	}
	if !reflect.DeepEqual(gotDrift, wantDrift) {
		t.Errorf("drift = %v, want %v", gotDrift, wantDrift)
	}
	got := explainedOf(r)
	for addr, w := range want {
		if g, ok := got[addr]; !ok {
			t.Errorf("%s: not pending, want %+v", addr, w)
		} else if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %+v, want %+v", addr, g, w)
		}
	}
	for addr, g := range got {
		if _, ok := want[addr]; !ok {
			t.Errorf("%s: pending %+v, want it not listed", addr, g)
		}
	}
	if t.Failed() {
		b, _ := json.MarshalIndent(r.Pending, "", "  ")
		t.Logf("pending: %s", b)
	}
}

// fixture is a kept real plan: `terraform show -json` output and the data
// reads of its plan file.
type fixture struct {
	Reads drift.DataReads `json:"reads"`
	Plan  json.RawMessage `json:"plan"`
}

func writeFixture(t *testing.T, name string, plan []byte, reads drift.DataReads) {
	t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, plan); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(fixture{Reads: reads, Plan: compact.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "explain", name), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFixture(t *testing.T, name string) ([]byte, drift.DataReads) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "explain", name))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	return f.Plan, f.Reads
}

// TestExplainFixtures explains the kept real plans without terraform.
func TestExplainFixtures(t *testing.T) {
	for _, tt := range explainCases {
		files, err := filepath.Glob(filepath.Join("testdata", "explain", tt.name+"-*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no testdata/explain/%s-*.json (%v)", tt.name, err)
		}
		for _, f := range files {
			t.Run(filepath.Base(f), func(t *testing.T) {
				data, reads := readFixture(t, filepath.Base(f))
				checkExplained(t, analyze(t, data, reads), tt.drift, tt.want)
			})
		}
	}
}
