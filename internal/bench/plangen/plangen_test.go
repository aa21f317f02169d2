package plangen

import (
	"encoding/json"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func TestScaleKeepsShapeAndMakesUniqueAddresses(t *testing.T) {
	t.Parallel()
	var p tfjson.Plan
	if err := json.Unmarshal(RealPlan, &p); err != nil {
		t.Fatal(err)
	}
	big, err := Scale(&p, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON and back, as a benchmark uses it.
	data, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	var got tfjson.Plan
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if n, want := len(got.ResourceChanges), 3*len(p.ResourceChanges); n != want {
		t.Errorf("resource_changes: %d, want %d", n, want)
	}
	if n, want := len(got.ResourceDrift), 3*len(p.ResourceDrift); n != want {
		t.Errorf("resource_drift: %d, want %d", n, want)
	}
	if n, want := len(got.PriorState.Values.RootModule.Resources), 3*len(p.PriorState.Values.RootModule.Resources); n != want {
		t.Errorf("prior_state resources: %d, want %d", n, want)
	}
	seen := map[string]bool{}
	for _, rc := range got.ResourceChanges {
		if seen[rc.Address] {
			t.Errorf("duplicate address %s", rc.Address)
		}
		seen[rc.Address] = true
	}
	for _, want := range []string{"testbed_object.r[0]", "testbed_object.r[9]", "testbed_object.r[10]", "testbed_object.r[29]"} {
		if !seen[want] {
			t.Errorf("no %s among %d addresses", want, len(seen))
		}
	}
	// Drift of r[0] repeats as r[10] and r[20], with its index.
	var drifted []string
	for _, rc := range got.ResourceDrift {
		drifted = append(drifted, rc.Address)
	}
	if drifted[len(p.ResourceDrift)] != "testbed_object.r[10]" {
		t.Errorf("second copy's drift starts at %s, want testbed_object.r[10]", drifted[len(p.ResourceDrift)])
	}
}

func TestScaleRefusesForEachKeys(t *testing.T) {
	t.Parallel()
	p := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{{Address: `a.b["k"]`, Index: "k"}}}
	if _, err := Scale(p, 2); err == nil {
		t.Fatal("want an error for a for_each key")
	}
}

func TestReaddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		i    int
		want string
	}{
		{"testbed_object.r[3]", 13, "testbed_object.r[13]"},
		{"terraform_data.copy", 1, "terraform_data.copy[1]"},
		{"module.m.testbed_object.r[0]", 5, "module.m.testbed_object.r[5]"},
	} {
		if got := readdress(c.in, c.i); got != c.want {
			t.Errorf("readdress(%q, %d) = %q, want %q", c.in, c.i, got, c.want)
		}
	}
}
