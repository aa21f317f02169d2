package drift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/internal/bench/plangen"
	"github.com/driftd/driftd/internal/testbed"
	"github.com/driftd/driftd/internal/testbed/provider"
)

// edgesPlan has what Terraform rarely writes but ReadPlan must cut down
// without losing a secret: masks that do not fit their values, no-op values
// that differ, secrets in lists, whole objects marked, nulls.
const edgesPlan = `{"format_version": "1.2",
  "resource_changes": [
    {"address": "a", "change": {"actions": ["no-op"],
      "before": {"l": ["x", "yyyy1", {"k": "zzzz2"}], "m": "s", "n": 12345678},
      "after": {"l": "not-a-list", "o": "after-only-secret"},
      "before_sensitive": {"l": [false, true, {"k": true}], "m": {"q": true}, "n": true, "missing": true},
      "after_sensitive": {"l": [true], "o": true}}},
    {"address": "b", "change": {"actions": ["no-op"], "before": [1, 2], "after": "str", "before_sensitive": true, "after_sensitive": [true]}},
    {"address": "c", "change": {"actions": ["no-op"]}},
    {"address": "d"}],
  "planned_values": {
    "outputs": {"o": {"sensitive": true, "value": {"a": [1.5, "s3cr3t-out"]}}, "p": {"sensitive": false, "value": "pub"}},
    "root_module": {
      "resources": [
        {"address": "r", "values": {"l": [{"x": "aaaa1"}, {"x": "bbbb2"}], "n": 7}, "sensitive_values": {"l": [{}, {"x": true}], "n": true}},
        {"address": "q", "values": {"a": "b"}, "sensitive_values": {}},
        null,
        {"address": "t", "values": {"a": "wholesecret"}, "sensitive_values": true}],
      "child_modules": [null, {"resources": [{"values": {"s": "childsecret"}, "sensitive_values": {"s": true}}], "child_modules": []}]}},
  "prior_state": {"format_version": "1.0", "values": {"root_module": {"resources": [
    {"values": {"s": "priorsecret", "u": 1e20}, "sensitive_values": {"s": true, "u": true}}]}}},
  "variables": {"v": {"value": "varval1"}, "w": {"value": 123456}},
  "configuration": {"provider_config": {}, "root_module": {
    "variables": {"v": {"sensitive": true}, "w": {"sensitive": true, "default": 98765}},
    "resources": [{"address": "x"}]}}}`

// planFixtures are every plan JSON in the repository, a scaled copy of the
// real one, and edgesPlan.
func planFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "plan.*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{"plangen.RealPlan": plangen.RealPlan, "edges": []byte(edgesPlan)}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = data
	}
	// The real plans explain tests keep, with data reads beside them.
	kept, err := filepath.Glob(filepath.Join("testdata", "explain", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range kept {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx struct {
			Plan json.RawMessage `json:"plan"`
		}
		if err := json.Unmarshal(data, &fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out["explain/"+filepath.Base(f)] = fx.Plan
	}
	var real tfjson.Plan
	if err := json.Unmarshal(plangen.RealPlan, &real); err != nil {
		t.Fatal(err)
	}
	scaled, err := plangen.Scale(&real, 3)
	if err != nil {
		t.Fatal(err)
	}
	if out["plangen.RealPlan×3"], err = json.Marshal(scaled); err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeFull decodes the whole plan with numbers as json.Number: the
// reference ReadPlan must agree with.
func decodeFull(t testing.TB, data []byte) *tfjson.Plan {
	t.Helper()
	var p tfjson.Plan
	p.UseJSONNumber(true)
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// decodeAsShowPlanFile decodes as terraform-exec's ShowPlanFile does without
// its JSONNumber option, which is how driftd's runner reads plans today:
// the outer decoder's UseNumber does not reach tfjson.Plan's own decoder,
// so numbers are float64.
func decodeAsShowPlanFile(t testing.TB, data []byte) *tfjson.Plan {
	t.Helper()
	var p tfjson.Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// checkSameAnalysis fails unless ReadPlan's plan gives the report and the
// secrets that the whole plan gives.
func checkSameAnalysis(t *testing.T, data []byte) {
	t.Helper()
	got, err := ReadPlan(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	full := decodeFull(t, data)
	opts := Options{Workspace: "w", StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	gotReport, wantReport := Analyze(got, opts), Analyze(full, opts)
	if !reflect.DeepEqual(gotReport, wantReport) {
		t.Errorf("report differs from the full decode's\n got: %s\nwant: %s", jsonOf(t, gotReport), jsonOf(t, wantReport))
	}
	if gotS, wantS := CollectSecrets(got), CollectSecrets(full); !reflect.DeepEqual(gotS, wantS) {
		t.Errorf("secrets differ from the full decode's\n got: %v\nwant: %v", gotS.exact, wantS.exact)
	}
	// json.Number where the runner has float64 today; what a report says
	// must not change.
	if got, today := jsonOf(t, gotReport), jsonOf(t, Analyze(decodeAsShowPlanFile(t, data), opts)); got != today {
		t.Errorf("report JSON differs from today's decode\n got: %s\nwant: %s", got, today)
	}
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadPlanAnalyzesAsFullDecode(t *testing.T) {
	for name, data := range planFixtures(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkSameAnalysis(t, data)
		})
	}
}

// TestReadPlanKeepsOnlyWhatAnalysisReads guards the point of ReadPlan: in
// the real plan, only the two drifted and the one changed resource keep
// their ordinary values; everywhere else only secrets remain.
func TestReadPlanKeepsOnlyWhatAnalysisReads(t *testing.T) {
	p, err := ReadPlan(bytes.NewReader(plangen.RealPlan))
	if err != nil {
		t.Fatal(err)
	}
	full := decodeFull(t, plangen.RealPlan)

	// Content is an ordinary attribute of every object; settings.password
	// a sensitive one.
	const ordinary, secret = "lorem ipsum", "not-a-real-password"
	var noOps int
	for _, rc := range p.ResourceChanges {
		s := jsonOf(t, rc)
		if !rc.Change.Actions.NoOp() {
			if !strings.Contains(s, ordinary) {
				t.Errorf("%s (%v) lost its values: %s", rc.Address, rc.Change.Actions, s)
			}
			continue
		}
		noOps++
		if strings.Contains(s, ordinary) || !strings.Contains(s, secret) || rc.Change.AfterUnknown != nil {
			t.Errorf("no-op %s keeps more or less than its secrets: %s", rc.Address, s)
		}
	}
	if len(p.ResourceChanges) != len(full.ResourceChanges) || noOps == 0 {
		t.Errorf("%d resource changes (%d no-op), want %d with some no-op", len(p.ResourceChanges), noOps, len(full.ResourceChanges))
	}
	for name, sv := range map[string]*tfjson.StateValues{"planned_values": p.PlannedValues, "prior_state": p.PriorState.Values} {
		if len(sv.RootModule.Resources) != len(full.PlannedValues.RootModule.Resources) {
			t.Errorf("%s: %d resources, want every one (all hold a secret)", name, len(sv.RootModule.Resources))
		}
		for _, r := range sv.RootModule.Resources {
			if s := jsonOf(t, r); strings.Contains(s, ordinary) || !strings.Contains(s, secret) {
				t.Errorf("%s: %s keeps more or less than its secrets: %s", name, r.Address, s)
			}
		}
	}
	if c := p.Config; c == nil || c.RootModule == nil || c.ProviderConfigs != nil || len(c.RootModule.Resources) == 0 ||
		strings.Contains(jsonOf(t, c.RootModule.Resources), "constant_value") {
		t.Errorf("configuration: %s, want the root module's variables and its resources without constant values", jsonOf(t, c))
	}
	before, _ := p.ResourceDrift[0].Change.Before.(map[string]any)
	if g, ok := before["generation"].(json.Number); !ok {
		t.Errorf("drift's generation = %T %v, want a json.Number", before["generation"], before["generation"])
	} else if g != "1" {
		t.Errorf("drift's generation = %s, want 1", g)
	}
}

func TestReadPlanWalksChildModules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "plan.modules.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ReadPlan(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"testbed_object.web", "module.child.testbed_object.c", "module.child.module.grandchild.testbed_object.g"}
	for name, sv := range map[string]*tfjson.StateValues{"planned_values": p.PlannedValues, "prior_state": p.PriorState.Values} {
		var got []string
		var walk func(m *tfjson.StateModule)
		walk = func(m *tfjson.StateModule) {
			for _, r := range m.Resources {
				if _, ok := r.AttributeValues["secret"]; ok {
					got = append(got, r.Address)
				}
			}
			for _, c := range m.ChildModules {
				walk(c)
			}
		}
		walk(sv.RootModule)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: secrets kept for %v, want %v", name, got, want)
		}
		if o := sv.Outputs; len(o) != 1 || o["web_secret"] == nil || o["web_secret"].Value != "var-default-s3cret" {
			t.Errorf("%s: outputs %s, want only the sensitive one", name, jsonOf(t, o))
		}
	}
}

func TestMasked(t *testing.T) {
	tests := []struct {
		name    string
		v, mask any
		want    any
		wantOK  bool
	}{
		{name: "whole value", v: map[string]any{"a": "x"}, mask: true, want: map[string]any{"a": "x"}, wantOK: true},
		{name: "unmarked", v: "s", mask: false},
		{name: "no mask", v: map[string]any{"a": "x"}, mask: nil},
		{
			name:   "map keeps marked keys",
			v:      map[string]any{"a": "x", "b": "y", "c": map[string]any{"d": "z", "e": "w"}},
			mask:   map[string]any{"a": true, "b": false, "c": map[string]any{"d": true}},
			want:   map[string]any{"a": "x", "c": map[string]any{"d": "z"}},
			wantOK: true,
		},
		{name: "empty mask map", v: map[string]any{"a": "x"}, mask: map[string]any{"a": map[string]any{}}},
		{
			name:   "list keeps positions up to the last mark",
			v:      []any{"a", "b", "c", "d"},
			mask:   []any{false, true, false, false},
			want:   []any{nil, "b"},
			wantOK: true,
		},
		{name: "mask longer than list", v: []any{"a"}, mask: []any{false, true}},
		{name: "shapes disagree", v: "s", mask: map[string]any{"a": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := masked(tt.v, tt.mask)
			if ok != tt.wantOK || (ok && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("masked = %#v, %v; want %#v, %v", got, ok, tt.want, tt.wantOK)
			}
			// What is kept under a mask of true must hold the same secrets.
			v, mask := secretsOnly(tt.v, tt.mask)
			gotS, wantS := &Secrets{exact: map[string]struct{}{}}, &Secrets{exact: map[string]struct{}{}}
			gotS.addMasked(v, mask)
			wantS.addMasked(tt.v, tt.mask)
			if !reflect.DeepEqual(gotS.exact, wantS.exact) {
				t.Errorf("secrets %v, want %v", gotS.exact, wantS.exact)
			}
		})
	}
}

func TestReadPlanErrors(t *testing.T) {
	const head = `{"format_version":"1.2",`
	tests := []struct {
		name  string
		input string
		// want are substrings of the error: what was expected, and where.
		want []string
	}{
		{name: "empty", input: "", want: []string{"top level", "unexpected EOF"}},
		{name: "truncated", input: string(plangen.RealPlan[:len(plangen.RealPlan)/2]), want: []string{"unexpected EOF"}},
		{name: "truncated element", input: head + `"resource_changes":[{"address":"a`, want: []string{"resource_changes[0]", "unexpected EOF"}},
		{name: "not an object", input: `[]`, want: []string{"top level", "expected an object, got an array"}},
		{name: "changes not a list", input: head + `"resource_changes":{}}`, want: []string{"resource_changes (byte", "expected an array, got an object"}},
		{name: "change of wrong type", input: head + `"resource_changes":[{"change":{"actions":"update"}}]}`, want: []string{"resource_changes[0]", "cannot unmarshal string"}},
		{name: "second change bad", input: head + `"resource_drift":[{}, 7]}`, want: []string{"resource_drift[1]", "cannot unmarshal number"}},
		{name: "deep", input: head + `"prior_state":{"values":{"root_module":{"child_modules":[{"resources":"x"}]}}}}`, want: []string{"prior_state.values.root_module.child_modules[0].resources", "expected an array, got a string"}},
		{name: "outputs of wrong type", input: head + `"planned_values":{"outputs":{"o":{"sensitive":"yes"}}}}`, want: []string{"planned_values.outputs.o", "cannot unmarshal string"}},
		{name: "config variables of wrong type", input: head + `"configuration":{"root_module":{"variables":[]}}}`, want: []string{"configuration.root_module.variables", "cannot unmarshal array"}},
		{name: "syntax", input: head + `"checks":[{]}`, want: []string{"checks", "invalid character"}},
		{name: "format 2.0", input: `{"format_version":"2.0"}`, want: []string{"format_version", "unsupported plan format version", `"2.0`}},
		// The version is checked before anything after it is read.
		{name: "format 2.0 before garbage", input: `{"format_version":"2.0","resource_changes":[{]`, want: []string{"unsupported plan format version"}},
		{name: "format not a version", input: `{"format_version":"one"}`, want: []string{"format_version", "invalid format version"}},
		{name: "format a number", input: `{"format_version":1.2}`, want: []string{"format_version", "cannot unmarshal number"}},
		{name: "format missing", input: `{"resource_changes":[]}`, want: []string{"format version is missing"}},
		{name: "data after the plan", input: `{"format_version":"1.2"} {}`, want: []string{"expected nothing after the plan, got an object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ReadPlan(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("no error, plan %+v", p)
			}
			if p != nil {
				t.Errorf("a plan with the error %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "drift: read plan: ") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

func TestReadPlanTruncatedAnywhere(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "plan.both.json"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.TrimSpace(data)
	for i := range len(data) {
		if _, err := ReadPlan(bytes.NewReader(data[:i])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at byte %d of %d: error %v, want unexpected EOF", i, len(data), err)
		}
	}
}

// TestReadPlanRealTerraform reads what Terraform itself prints for a plan
// with nested modules, sensitive variables and outputs, and drift.
// testdata/plan.modules.json is that output (Terraform 1.11), kept so that
// tests without terraform and the fuzzer see nested modules too.
func TestReadPlanRealTerraform(t *testing.T) {
	env := testbed.New(t)
	ws, err := env.NewWorkspace("readplan", modulesTF)
	if err != nil {
		t.Fatal(err)
	}
	for dir, tf := range map[string]string{"child": childTF, filepath.Join("child", "grandchild"): grandchildTF} {
		if err := os.MkdirAll(filepath.Join(ws.Dir, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ws.Dir, dir, "main.tf"), []byte(fmt.Sprintf(tf, provider.Address)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ws.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := env.SetAttribute("readplan-web", "tags.env", "prod"); err != nil {
		t.Fatal(err)
	}
	if err := env.SetAttribute("readplan-grandchild", "secret", "rotated-grandchild-s3cret"); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Run(t.Context(), "plan", "-input=false", "-no-color", "-lock=false", "-out=tfplan"); err != nil {
		t.Fatal(err)
	}
	data, err := ws.Run(t.Context(), "show", "-json", "tfplan")
	if err != nil {
		t.Fatal(err)
	}
	checkSameAnalysis(t, data)

	p, err := ReadPlan(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if r := Analyze(p, Options{}); len(r.Drift) != 2 {
		t.Errorf("drift %s, want web and the grandchild", jsonOf(t, r.Drift))
	}
	s := CollectSecrets(p)
	for _, want := range []string{"var-default-s3cret", "web-settings-pw", "child-module-s3cret", "grandchild-s3cret", "rotated-grandchild-s3cret"} {
		if _, ok := s.exact[want]; !ok {
			t.Errorf("secret %q not collected", want)
		}
	}
}

const modulesTF = `
variable "db_password" {
  type      = string
  sensitive = true
  default   = "var-default-s3cret"
}

resource "testbed_object" "web" {
  name     = "readplan-web"
  content  = "v1"
  secret   = var.db_password
  tags     = { env = "dev" }
  ports    = [80, 443]
  settings = { tier = "gold", password = "web-settings-pw" }
}

module "child" {
  source = "./child"
}

output "web_secret" {
  value     = testbed_object.web.secret
  sensitive = true
}

output "child_id" {
  value = module.child.id
}
`

const childTF = `
terraform {
  required_providers {
    testbed = { source = %q }
  }
}

resource "testbed_object" "c" {
  name   = "readplan-child"
  secret = "child-module-s3cret"
  rule {
    port        = 22
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
}

module "grandchild" {
  source = "./grandchild"
}

output "id" {
  value = testbed_object.c.id
}
`

const grandchildTF = `
terraform {
  required_providers {
    testbed = { source = %q }
  }
}

resource "testbed_object" "g" {
  name   = "readplan-grandchild"
  secret = "grandchild-s3cret"
}
`

func FuzzReadPlan(f *testing.F) {
	for _, data := range planFixtures(f) {
		f.Add(data)
	}
	f.Add([]byte(`{"format_version":"1.2","planned_values":{"root_module":{"child_modules":[{"child_modules":[{}]}]}}}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"change":{"actions":["no-op"],"before":[1,{"a":"b"}],"before_sensitive":[true,{"a":true}]}}]}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[null],"resource_drift":[null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPlan(bytes.NewReader(data))
		if (p == nil) == (err == nil) {
			t.Fatalf("plan %v with error %v", p, err)
		}
		if err == nil {
			Analyze(p, Options{})
		}
	})
}
