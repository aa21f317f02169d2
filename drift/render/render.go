// Package render turns reports into what people read: a terminal diff in
// Terraform's style, the versioned JSON document, and the markdown a GitHub
// issue shows. Reports are already redacted; rendering adds no values.
package render

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/driftd/driftd/drift"
)

// Value prints a JSON value the way Terraform's plan output does:
// strings quoted, null as null, collections as compact JSON.
func Value(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		if t == drift.SensitiveMarker {
			return t
		}
		return strconv.Quote(t)
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case json.Number:
		return t.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func AttributeLine(a drift.AttributeChange) string {
	switch {
	case a.Unknown:
		return fmt.Sprintf("%s: %s → (known after apply)", a.Path, Value(a.Before))
	case a.Before == nil:
		return fmt.Sprintf("%s: %s", a.Path, Value(a.After))
	case a.After == nil:
		return fmt.Sprintf("%s: %s → null", a.Path, Value(a.Before))
	}
	return fmt.Sprintf("%s: %s → %s", a.Path, Value(a.Before), Value(a.After))
}

// attributeSymbol is the diff symbol Terraform uses for one attribute.
func attributeSymbol(a drift.AttributeChange) string {
	switch {
	case a.Before == nil && !a.Unknown:
		return "+"
	case a.After == nil && !a.Unknown:
		return "-"
	}
	return "~"
}

func actionSymbol(a drift.Action) string {
	switch a {
	case drift.ActionCreate:
		return "+"
	case drift.ActionDelete:
		return "-"
	case drift.ActionReplace:
		return "-/+"
	case drift.ActionRead:
		return "<="
	}
	return "~"
}

// driftVerb says what happened outside Terraform.
func driftVerb(a drift.Action) string {
	if a == drift.ActionDelete {
		return "deleted outside Terraform"
	}
	return "changed outside Terraform"
}

// pendingVerb says what applying the code would do.
func pendingVerb(a drift.Action) string {
	switch a {
	case drift.ActionCreate:
		return "will be created"
	case drift.ActionDelete:
		return "will be destroyed"
	case drift.ActionReplace:
		return "will be replaced"
	}
	return "will be updated in-place"
}

// Summary is the one-line verdict for a report.
func Summary(r *drift.Report) string {
	switch r.Status {
	case drift.StatusError:
		first, _, _ := strings.Cut(strings.TrimSpace(r.Error), "\n")
		if first = strings.TrimSpace(first); first == "" {
			return "scan failed"
		}
		return "scan failed: " + first
	case drift.StatusDrifted:
		s := plural(len(r.Drift), "resource") + " drifted"
		if len(r.Pending) > 0 {
			s += ", " + plural(len(r.Pending), "pending change")
		}
		return s
	}
	if len(r.Pending) > 0 {
		return "no drift, " + plural(len(r.Pending), "pending change")
	}
	return "no drift"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// more counts what was left out: "1 more resource", "3 more resources".
func more(n int, noun string) string {
	if n == 1 {
		return "1 more " + noun
	}
	return strconv.Itoa(n) + " more " + noun + "s"
}
