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
}

// JSON writes the reports as one versioned document.
func JSON(w io.Writer, reports []*drift.Report, now time.Time) error {
	doc := Document{SchemaVersion: drift.SchemaVersion, GeneratedAt: now.UTC(), Reports: reports}
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
