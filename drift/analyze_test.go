package drift

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func loadPlan(t *testing.T, name string) *tfjson.Plan {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &p
}

func addresses(cs []ResourceChange) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Address+":"+string(c.Action))
	}
	return out
}

func TestAnalyzeSplitsDriftFromPending(t *testing.T) {
	tests := []struct {
		plan        string
		opts        Options
		status      Status
		drift       []string
		pending     []string
		driftAttrs  map[string][]string
		pendAttrs   map[string][]string
		outputs     int
		ignoredWant int
	}{
		{
			plan:       "plan.update_drift.json",
			status:     StatusDrifted,
			drift:      []string{"testbed_object.web:update"},
			pending:    []string{},
			driftAttrs: map[string][]string{"testbed_object.web": {"rule[0].port", "secret", "tags.env"}},
		},
		{
			plan:    "plan.delete_drift.json",
			status:  StatusDrifted,
			drift:   []string{"testbed_object.cache:delete"},
			pending: []string{},
		},
		{
			plan:       "plan.both.json",
			status:     StatusDrifted,
			drift:      []string{"testbed_object.web:update"},
			pending:    []string{"testbed_object.new:create", "testbed_object.web:update"},
			driftAttrs: map[string][]string{"testbed_object.web": {"tags.env"}},
			pendAttrs:  map[string][]string{"testbed_object.web": {"content"}},
			outputs:    1,
		},
		{
			plan:    "plan.refresh_only_outputs.json",
			opts:    Options{RefreshOnly: true},
			status:  StatusClean,
			drift:   []string{},
			pending: []string{},
			outputs: 1,
		},
		{
			plan:        "plan.update_drift.json",
			opts:        Options{Ignore: []IgnoreRule{{Type: "testbed_*", Attributes: []string{"tags.*", "rule*"}}}},
			status:      StatusDrifted,
			drift:       []string{"testbed_object.web:update"},
			pending:     []string{},
			driftAttrs:  map[string][]string{"testbed_object.web": {"secret"}},
			ignoredWant: 2,
		},
		{
			// The bracket form of a key the report writes tags.env.
			plan:        "plan.update_drift.json",
			opts:        Options{Ignore: []IgnoreRule{{Attributes: []string{`tags["env"]`}}}},
			status:      StatusDrifted,
			drift:       []string{"testbed_object.web:update"},
			pending:     []string{},
			driftAttrs:  map[string][]string{"testbed_object.web": {"rule[0].port", "secret"}},
			ignoredWant: 1,
		},
		{
			plan:        "plan.both.json",
			opts:        Options{Ignore: []IgnoreRule{{Address: "testbed_object.web"}}},
			status:      StatusClean,
			drift:       []string{},
			pending:     []string{"testbed_object.new:create"},
			outputs:     1,
			ignoredWant: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.plan, func(t *testing.T) {
			r := Analyze(loadPlan(t, tt.plan), tt.opts)
			if r.Status != tt.status {
				t.Errorf("status = %s, want %s (error %q)", r.Status, tt.status, r.Error)
			}
			if got := addresses(r.Drift); !reflect.DeepEqual(got, tt.drift) {
				t.Errorf("drift = %v, want %v", got, tt.drift)
			}
			if got := addresses(r.Pending); !reflect.DeepEqual(got, tt.pending) {
				t.Errorf("pending = %v, want %v", got, tt.pending)
			}
			checkAttrs(t, "drift", r.Drift, tt.driftAttrs)
			checkAttrs(t, "pending", r.Pending, tt.pendAttrs)
			if len(r.Outputs) != tt.outputs {
				t.Errorf("outputs = %+v, want %d", r.Outputs, tt.outputs)
			}
			if r.Ignored != tt.ignoredWant {
				t.Errorf("ignored = %d, want %d", r.Ignored, tt.ignoredWant)
			}
			if (r.Fingerprint != "") != (r.Status == StatusDrifted) {
				t.Errorf("fingerprint %q with status %s", r.Fingerprint, r.Status)
			}
		})
	}
}

func checkAttrs(t *testing.T, what string, cs []ResourceChange, want map[string][]string) {
	t.Helper()
	for _, c := range cs {
		w, ok := want[c.Address]
		if !ok {
			continue
		}
		var got []string
		for _, a := range c.Attributes {
			got = append(got, a.Path)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s %s attributes = %v, want %v", what, c.Address, got, w)
		}
	}
}

func TestAnalyzeHidesSecretsEverywhere(t *testing.T) {
	secrets := []string{"hunter2-db-pass", "rotated-by-hand", "s3cr3t-from-var", "old-token-value", "new-token-value"}
	for _, name := range []string{"plan.update_drift.json", "plan.both.json"} {
		r := Analyze(loadPlan(t, name), Options{Workspace: "w"})
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(out), s) {
				t.Errorf("%s: report contains secret %q:\n%s", name, s, out)
			}
		}
		if !strings.Contains(string(out), SensitiveMarker) {
			t.Errorf("%s: no sensitive marker in %s", name, out)
		}
	}
}

func TestAnalyzeKeepsOrdinaryValues(t *testing.T) {
	r := Analyze(loadPlan(t, "plan.both.json"), Options{})
	var content any
	for _, p := range r.Pending {
		if p.Address == "testbed_object.web" {
			content = p.Attributes[0].After
		}
	}
	if content != "b" {
		t.Errorf("non-secret value redacted: %v", content)
	}
}

func TestFailedRedactsAndKeepsText(t *testing.T) {
	s := CollectSecrets(loadPlan(t, "plan.update_drift.json"))
	r := Failed(Options{Workspace: "w"}, errString("Error: bad password hunter2-db-pass for user"), s)
	if r.Status != StatusError || strings.Contains(r.Error, "hunter2") || !strings.Contains(r.Error, "bad password") {
		t.Fatalf("Failed = %+v", r)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestFingerprint(t *testing.T) {
	a := ResourceChange{Address: "a", Action: ActionUpdate, Attributes: []AttributeChange{{Path: "x", Before: "1", After: "2"}}}
	b := ResourceChange{Address: "b", Action: ActionDelete}
	a2 := a
	a2.Attributes = []AttributeChange{{Path: "x", Before: "1", After: "3"}}
	if Fingerprint([]ResourceChange{a, b}) != Fingerprint([]ResourceChange{b, a}) {
		t.Error("fingerprint depends on order")
	}
	if Fingerprint([]ResourceChange{a, b}) == Fingerprint([]ResourceChange{a2, b}) {
		t.Error("fingerprint ignores a changed value")
	}
	if Fingerprint(nil) != "" {
		t.Error("empty drift has a fingerprint")
	}
}

// A null entry in a plan's lists (valid JSON, never written by terraform)
// must not crash a scan.
func TestAnalyzeNullEntries(t *testing.T) {
	plan := &tfjson.Plan{
		ResourceChanges: []*tfjson.ResourceChange{nil, {Address: "x.y", Change: nil}},
		ResourceDrift:   []*tfjson.ResourceChange{nil},
		OutputChanges:   map[string]*tfjson.Change{"o": nil},
	}
	r := Analyze(plan, Options{Workspace: "w"})
	if r.Status != StatusClean || len(r.Drift)+len(r.Pending)+len(r.Outputs) != 0 {
		t.Errorf("report = %+v", r)
	}
}

// TestIdentityRedacted: a deleted object's identifying attributes are
// hidden when marked sensitive, or when they hold a secret from elsewhere.
func TestIdentityRedacted(t *testing.T) {
	plan := &tfjson.Plan{
		ResourceDrift: []*tfjson.ResourceChange{{
			Address: "x.gone", Mode: tfjson.ManagedResourceMode, Type: "x", Name: "gone",
			Change: &tfjson.Change{
				Actions:         tfjson.Actions{tfjson.ActionDelete},
				Before:          map[string]any{"id": "i-123", "name": "db-hunter2-name", "arn": "arn:x:hunter2-pass"},
				BeforeSensitive: map[string]any{"name": true},
			},
		}},
		Variables: map[string]*tfjson.PlanVariable{"pw": {Value: "hunter2-pass"}},
		Config:    &tfjson.Config{RootModule: &tfjson.ConfigModule{Variables: map[string]*tfjson.ConfigVariable{"pw": {Sensitive: true}}}},
	}
	r := Analyze(plan, Options{})
	if len(r.Drift) != 1 {
		t.Fatalf("drift %+v", r.Drift)
	}
	got := map[string]any{}
	for _, a := range r.Drift[0].Identity {
		got[a.Path] = a.Value
	}
	want := map[string]any{"id": "i-123", "name": SensitiveMarker, "arn": "arn:x:" + SensitiveMarker}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("identity %v, want %v", got, want)
	}
}
