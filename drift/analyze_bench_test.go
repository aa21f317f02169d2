package drift_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/internal/bench/plangen"
)

// scaledPlanJSON is plangen.RealPlan (ten resources, two drifted) repeated
// to the given number of resources.
func scaledPlanJSON(b *testing.B, resources int) []byte {
	b.Helper()
	data, err := plangen.ScaleJSON(plangen.RealPlan, max(1, resources/10))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// decodePlan reads a whole plan as terraform-exec's ShowPlanFile does
// without its JSONNumber option. The decoder's UseNumber does not reach
// tfjson.Plan's own decoder, so numbers are float64.
func decodePlan(b *testing.B, data []byte) *tfjson.Plan {
	b.Helper()
	var p tfjson.Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		b.Fatal(err)
	}
	return &p
}

func BenchmarkAnalyze(b *testing.B) {
	for _, n := range []int{10, 2000, 20000} {
		b.Run(fmt.Sprintf("resources=%d", n), func(b *testing.B) {
			plan := decodePlan(b, scaledPlanJSON(b, n))
			b.ReportAllocs()
			for b.Loop() {
				if r := drift.Analyze(plan, drift.Options{Workspace: "bench"}); len(r.Drift) != n/5 {
					b.Fatalf("drift %d, want %d", len(r.Drift), n/5)
				}
			}
		})
	}
}

// benchDecode runs decode over scaled plans of each size, counting the
// JSON's bytes.
func benchDecode(b *testing.B, decode func(b *testing.B, n int, data []byte)) {
	for _, n := range []int{2000, 20000} {
		b.Run(fmt.Sprintf("resources=%d", n), func(b *testing.B) {
			data := scaledPlanJSON(b, n)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				decode(b, n, data)
			}
		})
	}
}

// BenchmarkDecodeAndAnalyze is driftd's whole cost for a plan once
// terraform has printed it: ReadPlan and Analyze. BenchmarkFullDecodeAndAnalyze
// is the same with the whole plan decoded, as before ReadPlan;
// BenchmarkUnmarshal is the floor, a plain decode into terraform-json's types.
func BenchmarkDecodeAndAnalyze(b *testing.B) {
	benchDecode(b, func(b *testing.B, n int, data []byte) {
		plan, err := drift.ReadPlan(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if r := drift.Analyze(plan, drift.Options{Workspace: "bench"}); len(r.Drift) != n/5 {
			b.Fatalf("drift %d, want %d", len(r.Drift), n/5)
		}
	})
}

func BenchmarkFullDecodeAndAnalyze(b *testing.B) {
	benchDecode(b, func(b *testing.B, _ int, data []byte) {
		drift.Analyze(decodePlan(b, data), drift.Options{Workspace: "bench"})
	})
}

func BenchmarkUnmarshal(b *testing.B) {
	benchDecode(b, func(b *testing.B, _ int, data []byte) {
		var p tfjson.Plan
		if err := json.Unmarshal(data, &p); err != nil {
			b.Fatal(err)
		}
	})
}
