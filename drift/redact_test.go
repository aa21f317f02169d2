package drift

import (
	"encoding/json"
	"strings"
	"testing"
)

// secretKeyPlan is a plan in which the sensitive variable pw's value is a
// for_each key and a map key: the shape terraform gives
//
//	resource "testbed_object" "x" {
//	  for_each = toset([nonsensitive(var.pw)])
//	  tags     = { (nonsensitive(var.pw)) = "a", env = "prod" }
//	}
//
// drifted outside Terraform (the tag set to "b"), with an output keyed the
// same way. ignore are the workspace's ignore rules.
func secretKeyPlan(t *testing.T, pw string, ignore ...IgnoreRule) *Report {
	t.Helper()
	q, _ := json.Marshal(pw)
	addr, _ := json.Marshal(`testbed_object.x["` + pw + `"]`)
	doc := strings.NewReplacer("PW", string(q), "ADDR", string(addr)).Replace(`{
  "format_version": "1.2", "terraform_version": "1.11.4",
  "variables": {"pw": {"value": PW}},
  "configuration": {"root_module": {"variables": {"pw": {"sensitive": true}}}},
  "resource_drift": [{"address": ADDR, "mode": "managed", "type": "testbed_object", "name": "x", "index": PW,
    "change": {"actions": ["update"], "before": {"tags": {PW: "a", "env": "prod"}}, "after": {"tags": {PW: "b", "env": "prod"}},
      "before_sensitive": {}, "after_sensitive": {}}}],
  "resource_changes": [{"address": ADDR, "mode": "managed", "type": "testbed_object", "name": "x", "index": PW,
    "change": {"actions": ["update"], "before": {"tags": {PW: "b", "env": "prod"}}, "after": {"tags": {PW: "a", "env": "prod"}},
      "before_sensitive": {}, "after_sensitive": {}, "after_unknown": {}}}],
  "output_changes": {"m": {"actions": ["update"], "before": {PW: 1}, "after": {PW: 2}, "before_sensitive": false, "after_sensitive": false}}
}`)
	plan, err := ReadPlan(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return Analyze(plan, Options{Workspace: "w", Ignore: ignore})
}

// TestSecretMapKeysRedacted: a secret used as a map key or a for_each key
// showed in attribute paths, addresses and output values.
func TestSecretMapKeysRedacted(t *testing.T) {
	r := secretKeyPlan(t, "hunter2-key")
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2") {
		t.Fatalf("report holds the secret:\n%s", out)
	}
	if len(r.Drift) != 1 || len(r.Drift[0].Attributes) != 1 {
		t.Fatalf("drift = %+v", r.Drift)
	}
	if got, want := r.Drift[0].Address, `testbed_object.x["(sensitive value)"]`; got != want {
		t.Errorf("address %s, want %s", got, want)
	}
	if got, want := r.Drift[0].Attributes[0].Path, `tags["(sensitive value)"]`; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	if len(r.Pending) != 0 {
		t.Errorf("the change restoring the drifted tag is pending: %+v", r.Pending)
	}
	if len(r.Outputs) != 1 || !r.Outputs[0].Sensitive {
		t.Errorf("output keyed by the secret not marked sensitive: %+v", r.Outputs)
	}
	// The fingerprint is public: it must not tell two secrets apart.
	if other := secretKeyPlan(t, "other-secret-9"); other.Fingerprint != r.Fingerprint {
		t.Errorf("fingerprint depends on the secret: %s vs %s", r.Fingerprint, other.Fingerprint)
	}
}

// TestIgnoreRulesMatchRedactedPaths: a rule copied from a report, where a
// secret key shows as "(sensitive value)", matches what it was copied
// from; rules naming the key itself still match, and neither matches
// anything else.
func TestIgnoreRulesMatchRedactedPaths(t *testing.T) {
	for _, tt := range []struct {
		name      string
		rule      IgnoreRule
		wantDrift bool
	}{
		{"path as shown", IgnoreRule{Attributes: []string{`tags["(sensitive value)"]`}}, false},
		{"path glob as shown", IgnoreRule{Attributes: []string{`tags["(sensitive*"]`}}, false},
		{"path with the key itself", IgnoreRule{Attributes: []string{`tags["hunter2-key"]`}}, false},
		{"address as shown", IgnoreRule{Address: `testbed_object.x["(sensitive value)"]`}, false},
		{"address and path as shown", IgnoreRule{Address: `testbed_object.x["(sensitive value)"]`, Attributes: []string{`tags["(sensitive value)"]`}}, false},
		{"address with the key itself", IgnoreRule{Address: `testbed_object.x["hunter2-key"]`}, false},
		{"another path", IgnoreRule{Attributes: []string{`tags.env`}}, true},
		{"another key shown redacted", IgnoreRule{Attributes: []string{`labels["(sensitive value)"]`}}, true},
		{"another address", IgnoreRule{Address: `testbed_object.y["(sensitive value)"]`}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := secretKeyPlan(t, "hunter2-key", tt.rule)
			if r.Status == StatusError {
				t.Fatal(r.Error)
			}
			if got := len(r.Drift) > 0; got != tt.wantDrift {
				t.Errorf("drift kept = %v, want %v: %+v", got, tt.wantDrift, r.Drift)
			}
			if want := map[bool]int{true: 0, false: 1}[tt.wantDrift]; r.Ignored != want {
				t.Errorf("ignored %d, want %d", r.Ignored, want)
			}
		})
	}
}

func TestSecretsPath(t *testing.T) {
	s := &Secrets{exact: map[string]struct{}{"hunter2-key": {}, "pw": {}}}
	s.finish()
	for _, tt := range []struct{ in, want string }{
		{"tags.env", "tags.env"},
		{`tags["hunter2-key"]`, `tags["(sensitive value)"]`},
		{"tags.pw", `tags["(sensitive value)"]`},
		{`tags["db-hunter2-key"].x`, `tags["db-(sensitive value)"].x`},
		{`rule[0].tags["a b"][1]`, `rule[0].tags["a b"][1]`},
		{`m["a\"hunter2-key"]`, `m["a\"(sensitive value)"]`},
		{`broken["hunter2-key`, `broken["(sensitive value)`},
	} {
		if got := s.path(tt.in); got != tt.want {
			t.Errorf("path(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
