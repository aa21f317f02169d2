package drift_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift"
)

// mutated returns the kept refreshed plan of Terraform 1.11 and its reads
// after change has edited them (the plan as generic JSON).
func mutated(t *testing.T, change func(plan map[string]any, reads drift.DataReads)) ([]byte, drift.DataReads) {
	t.Helper()
	data, reads := readFixture(t, "refreshed-1.11.json")
	var plan map[string]any
	if err := json.Unmarshal(data, &plan); err != nil {
		t.Fatal(err)
	}
	change(plan, reads)
	out, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	return out, reads
}

func resourceChange(t *testing.T, plan map[string]any, addr string) map[string]any {
	t.Helper()
	for _, rc := range plan["resource_changes"].([]any) {
		if m := rc.(map[string]any); m["address"] == addr {
			return m
		}
	}
	t.Fatalf("no resource change %s", addr)
	return nil
}

func configResource(t *testing.T, plan map[string]any, addr string) map[string]any {
	t.Helper()
	root := plan["configuration"].(map[string]any)["root_module"].(map[string]any)
	for _, r := range root["resources"].([]any) {
		if m := r.(map[string]any); m["address"] == addr {
			return m
		}
	}
	t.Fatalf("no configuration for %s", addr)
	return nil
}

// TestExplainNeverHidesCode: whatever the plan does not prove to follow
// from outside Terraform is code. Each case takes away one piece of the
// proof, or adds code to a change that followed from outside.
func TestExplainNeverHidesCode(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, plan map[string]any, reads drift.DataReads)
		// code lists changes that must now be code; from, for each, the
		// origins still named (address:cause).
		code map[string][]string
	}{
		{
			name:   "what data sources read at the last apply is unknown",
			change: func(_ *testing.T, _ map[string]any, reads drift.DataReads) { clear(reads) },
			code:   map[string][]string{"testbed_object.consumer": nil, "testbed_trigger.on_ext": nil, "module.m.testbed_trigger.t": nil},
		},
		{
			name: "the data source read with other arguments: the code changed them",
			change: func(_ *testing.T, _ map[string]any, reads drift.DataReads) {
				reads["data.testbed_object.ext"]["name"] = "other"
			},
			code: map[string][]string{"testbed_object.consumer": nil, "testbed_trigger.on_ext": nil, "module.m.testbed_trigger.t": nil},
		},
		{
			name: "the code changed an expression as the input changed",
			change: func(t *testing.T, plan map[string]any, _ drift.DataReads) {
				after := resourceChange(t, plan, "testbed_object.consumer")["change"].(map[string]any)["after"].(map[string]any)
				after["tags"] = map[string]any{"t": "other-v2"}
			},
			code: map[string][]string{"testbed_object.consumer": {"data.testbed_object.ext:input"}},
		},
		{
			name: "terraform does not count the input among what contributed",
			change: func(_ *testing.T, plan map[string]any, _ drift.DataReads) {
				var kept []any
				for _, ra := range plan["relevant_attributes"].([]any) {
					if ra.(map[string]any)["resource"] != "data.testbed_object.ext" {
						kept = append(kept, ra)
					}
				}
				plan["relevant_attributes"] = kept
			},
			code: map[string][]string{"testbed_object.consumer": nil, "testbed_trigger.on_ext": nil, "module.m.testbed_trigger.t": nil},
		},
		{
			name: "the value comes through a local value driftd cannot see into",
			change: func(t *testing.T, plan map[string]any, _ drift.DataReads) {
				exprs := configResource(t, plan, "testbed_trigger.on_src")["expressions"].(map[string]any)
				exprs["triggers"] = map[string]any{"references": []any{"local.src_id"}}
			},
			code: map[string][]string{"testbed_trigger.on_src": nil},
		},
		{
			name: "the data source is new since the last apply",
			change: func(_ *testing.T, _ map[string]any, reads drift.DataReads) {
				delete(reads, "data.testbed_object.ext")
			},
			code: map[string][]string{"testbed_object.consumer": nil, "testbed_trigger.on_ext": nil, "module.m.testbed_trigger.t": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, reads := mutated(t, func(plan map[string]any, reads drift.DataReads) { tt.change(t, plan, reads) })
			got := explainedOf(analyze(t, data, reads))
			for addr, from := range tt.code {
				if g := got[addr]; g.Cause != drift.CauseCode || strings.Join(g.From, ",") != strings.Join(from, ",") {
					t.Errorf("%s: %+v, want code following from %v", addr, g, from)
				}
			}
			for addr, w := range wantRefreshed {
				if _, changed := tt.code[addr]; changed {
					continue
				}
				if g := got[addr]; g.Cause != w.Cause {
					t.Errorf("%s: %+v, unchanged by the case, want %+v", addr, g, w)
				}
			}
		})
	}
}

// TestExplainRotationNotPassed: an object with a rotation time still ahead
// that is gone was deleted outside Terraform: drift, and its dependants
// follow from that drift.
func TestExplainRotationNotPassed(t *testing.T) {
	data, reads := mutated(t, func(plan map[string]any, _ drift.DataReads) {
		plan["timestamp"] = "2000-01-01T00:00:00Z"
	})
	r := analyze(t, data, reads)
	var deleted bool
	for _, d := range r.Drift {
		deleted = deleted || d.Address == "testbed_rotating.r" && d.Action == drift.ActionDelete
	}
	if !deleted {
		t.Errorf("testbed_rotating.r not drift: %+v", r.Drift)
	}
	got := explainedOf(r)
	if _, listed := got["testbed_rotating.r"]; listed {
		t.Errorf("testbed_rotating.r listed as pending, want its re-creation to undo the drift unlisted")
	}
	if g := got["testbed_trigger.pw"]; g.Cause != drift.CauseDrift || strings.Join(g.From, ",") != "testbed_rotating.r:drift" {
		t.Errorf("testbed_trigger.pw: %+v, want drift of testbed_rotating.r", g)
	}
}

// TestExplainRecomputed: in a replacement, the unknown values the
// configuration does not set are marked recomputed, unless they force the
// replacement.
func TestExplainRecomputed(t *testing.T) {
	for name, want := range map[string]map[string]map[string]bool{
		"refreshed-1.11.json": {"testbed_trigger.on_ext": {"id": true, "triggers.c": false}},
		"norefresh-1.11.json": {"testbed_rotating.r": {"id": true, "rfc3339": true, "rotation_rfc3339": false}},
	} {
		data, reads := readFixture(t, name)
		r := analyze(t, data, reads)
		for _, p := range r.Pending {
			w, ok := want[p.Address]
			if !ok {
				continue
			}
			got := map[string]bool{}
			for _, a := range p.Attributes {
				got[a.Path] = a.Recomputed
			}
			if !equalMaps(got, w) {
				t.Errorf("%s %s: recomputed %v, want %v", name, p.Address, got, w)
			}
		}
	}
}

func equalMaps(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
