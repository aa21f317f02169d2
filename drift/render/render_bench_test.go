package render_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/internal/bench/plangen"
)

// report analyses plangen.RealPlan scaled to the given number of resources
// (a fifth of them drifted).
func report(b *testing.B, name string, resources int) *drift.Report {
	b.Helper()
	data, err := plangen.ScaleJSON(plangen.RealPlan, max(1, resources/10))
	if err != nil {
		b.Fatal(err)
	}
	// Read as driftd reads plans.
	plan, err := drift.ReadPlan(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	return drift.Analyze(plan, drift.Options{Workspace: name, StartedAt: time.Unix(0, 0)})
}

// cases are the two shapes that matter: one huge report, and a fleet of
// many small ones (what `driftd scan` prints).
func cases(b *testing.B) map[string][]*drift.Report {
	b.Helper()
	small := report(b, "ws", 10)
	fleet := make([]*drift.Report, 500)
	for i := range fleet {
		r := *small
		r.Workspace = fmt.Sprintf("ws%03d", i)
		fleet[i] = &r
	}
	return map[string][]*drift.Report{
		"large=2000":   {report(b, "large", 2000)},
		"fleet=500x10": fleet,
	}
}

func BenchmarkText(b *testing.B) {
	for name, reports := range cases(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := render.Text(io.Discard, reports, render.TextOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJSON(b *testing.B) {
	now := time.Unix(0, 0)
	for name, reports := range cases(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := render.JSON(io.Discard, reports, render.JSONOptions{Now: now}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMarkdown renders one issue body, unbounded and with bounds of
// the size a GitHub issue allows.
func BenchmarkMarkdown(b *testing.B) {
	r := report(b, "large", 2000)
	for name, opt := range map[string]render.MarkdownOptions{
		"unbounded": {},
		"bounded":   {MaxResources: 50, MaxAttributes: 20},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if render.Markdown(r, opt) == "" {
					b.Fatal("empty markdown")
				}
			}
		})
	}
}
