package render

import (
	"encoding/json"
	"io"
	"time"

	"github.com/driftd/driftd/drift"
)

// Document is the JSON output of `driftd scan` and `driftd check`,
// described in docs/report-schema.md.
type Document struct {
	SchemaVersion int             `json:"schema_version"`
	GeneratedAt   time.Time       `json:"generated_at"`
	Summary       DocumentSummary `json:"summary"`
	Reports       []*drift.Report `json:"reports"`
}

// DocumentSummary counts workspaces by status.
type DocumentSummary struct {
	Workspaces int `json:"workspaces"`
	Clean      int `json:"clean"`
	Drifted    int `json:"drifted"`
	Errored    int `json:"errored"`
	// Shard is set when the run scanned one shard of the workspaces.
	Shard *Shard `json:"shard,omitempty"`
}

// Shard says which part of a sharded run the output covers.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// Total is how many workspaces the run would scan without sharding.
	Total int `json:"total_workspaces"`
}

// JSONOptions control the JSON document.
type JSONOptions struct {
	// Now stamps generated_at.
	Now   time.Time
	Shard *Shard
}

// JSON writes the reports as one versioned document.
func JSON(w io.Writer, reports []*drift.Report, opt JSONOptions) error {
	doc := Document{SchemaVersion: drift.SchemaVersion, GeneratedAt: opt.Now.UTC(), Reports: reports}
	doc.Summary.Shard = opt.Shard
	if doc.Reports == nil {
		doc.Reports = []*drift.Report{}
	}
	for _, r := range reports {
		doc.Summary.Workspaces++
		switch r.Status {
		case drift.StatusClean:
			doc.Summary.Clean++
		case drift.StatusDrifted:
			doc.Summary.Drifted++
		case drift.StatusError:
			doc.Summary.Errored++
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
