package planfile_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/planfile"
	"github.com/driftd/driftd/internal/testbed"
)

// TestDataReadsRealPlan: what a real plan file says its data sources read
// at the last apply, in the root module and a module called with for_each,
// with and without instance keys; managed resources are not read.
func TestDataReadsRealPlan(t *testing.T) {
	env := testbed.New(t)
	for _, id := range []string{"one", "two"} {
		if err := env.PutObject(id, map[string]any{"content": "at apply " + id}); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := env.NewWorkspace("reads", `
data "testbed_object" "one" {
  name = "one"
}

data "testbed_object" "counted" {
  count = 1
  name  = "two"
}

module "m" {
  source   = "./m"
  for_each = toset(["a"])
}

resource "testbed_object" "managed" {
  name = "reads-managed"
}
`)
	if err != nil {
		t.Fatal(err)
	}
	mod := fmt.Sprintf("terraform {\n  required_providers {\n    testbed = { source = %q }\n  }\n}\n\ndata \"testbed_object\" \"in\" {\n  name = \"one\"\n}\n", "driftd.test/driftd/testbed")
	if err := os.MkdirAll(filepath.Join(ws.Dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws.Dir, "m", "main.tf"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ws.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := env.PutObject("one", map[string]any{"content": "since"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Run(t.Context(), "plan", "-input=false", "-no-color", "-lock=false", "-out=tfplan"); err != nil {
		t.Fatal(err)
	}
	reads, err := planfile.DataReads(filepath.Join(ws.Dir, "tfplan"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for addr, attrs := range reads {
		got[addr] = attrs["content"]
	}
	want := map[string]any{
		"data.testbed_object.one":              "at apply one",
		"data.testbed_object.counted[0]":       "at apply two",
		`module.m["a"].data.testbed_object.in`: "at apply one",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reads = %v, want %v", got, want)
	}
}

func TestDataReadsErrors(t *testing.T) {
	state := func(s string) entry { return entry{"tfstate-prev", []byte(s)} }
	tests := []struct {
		name    string
		entries []entry
		want    string
	}{
		{"no previous state", []entry{{"tfplan", nil}}, "no tfstate-prev entry"},
		{"twice", []entry{state(`{"version":4}`), state(`{"version":4}`)}, "twice"},
		{"not json", []entry{state(`{"version":4,`)}, "tfstate-prev"},
		{"version 3", []entry{state(`{"version":3,"resources":[]}`)}, "state version 3, want 4"},
		{"no version", []entry{state(`{"resources":[]}`)}, "no state version"},
		{"bad key", []entry{state(`{"version":4,"resources":[{"mode":"data","type":"t","name":"n","instances":[{"index_key":1.5,"attributes":{}}]}]}`)}, "index_key 1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := planfile.DataReads(writeEntries(t, tt.entries...))
			if !errors.Is(err, planfile.ErrUnknownFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrUnknownFormat saying %q", err, tt.want)
			}
		})
	}
	reads, err := planfile.DataReads(writeEntries(t, state(`{"version":4,"terraform_version":"1.11.4","resources":[
		{"mode":"managed","type":"t","name":"m","instances":[{"attributes":{"secret":"x"}}]},
		{"module":"module.a[0]","mode":"data","type":"t","name":"d","instances":[{"index_key":"k","attributes":{"n":1}}]}]}`)))
	if err != nil {
		t.Fatal(err)
	}
	want := drift.DataReads{`module.a[0].data.t.d["k"]`: {"n": json.Number("1")}}
	if !reflect.DeepEqual(reads, want) {
		t.Errorf("reads = %v, want %v", reads, want)
	}
}
