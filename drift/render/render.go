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
	var s string
	switch r.Status {
	case drift.StatusError:
		first, _, _ := strings.Cut(strings.TrimSpace(r.Error), "\n")
		if first = strings.TrimSpace(first); first == "" {
			return "scan failed"
		}
		return "scan failed: " + first
	case drift.StatusDrifted:
		s = plural(len(r.Drift), "resource") + " drifted"
	default:
		s = "no drift"
	}
	code, followOn := SplitPending(r.Pending)
	if len(followOn) > 0 {
		s += ", " + plural(len(followOn), "follow-on change")
	}
	if len(code) > 0 {
		s += ", " + plural(len(code), "pending code change")
	}
	return s
}

// isCode reports whether a pending change is code not applied. Reports
// stored before causes existed have none: all their pending changes were
// taken for code.
func isCode(c drift.ResourceChange) bool {
	return c.Cause == drift.CauseCode || c.Cause == ""
}

// SplitPending separates code not applied from follow-on changes: those
// that follow from drift, a data source's input or a rotation.
func SplitPending(cs []drift.ResourceChange) (code, followOn []drift.ResourceChange) {
	for _, c := range cs {
		if isCode(c) {
			code = append(code, c)
		} else {
			followOn = append(followOn, c)
		}
	}
	return code, followOn
}

// Because says, in plain text, what a pending change follows from outside
// the code; empty for none.
func Because(c drift.ResourceChange) string { return because(c, plainCode) }

// because says what a pending change follows from, outside the code:
// "because testbed_object.src drifted and data.x read a new value". code
// writes each address (as a code span, in markdown). Empty without origins.
func because(c drift.ResourceChange, code func(string) string) string {
	by := map[drift.Cause][]string{}
	for _, o := range c.FollowsFrom {
		by[o.Cause] = append(by[o.Cause], o.Address)
	}
	var parts []string
	if addrs := by[drift.CauseDrift]; len(addrs) > 0 {
		parts = append(parts, addressList(addrs, code)+" drifted")
	}
	if addrs := by[drift.CauseInput]; len(addrs) > 0 {
		verb := " read a new value"
		if len(addrs) > 1 {
			verb = " read new values"
		}
		parts = append(parts, addressList(addrs, code)+verb)
	}
	if addrs := by[drift.CauseTime]; len(addrs) > 0 {
		if len(addrs) == 1 && addrs[0] == c.Address {
			parts = append(parts, "its rotation time passed")
		} else {
			parts = append(parts, "the rotation time of "+addressList(addrs, code)+" passed")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "because " + joinAnd(parts)
}

// maxAddresses is how many addresses a because clause names.
const maxAddresses = 3

func addressList(addrs []string, code func(string) string) string {
	shown := make([]string, 0, maxAddresses+1)
	for i, a := range addrs {
		if i == maxAddresses {
			shown = append(shown, more(len(addrs)-i, "object"))
			break
		}
		shown = append(shown, code(a))
	}
	return joinAnd(shown)
}

// joinAnd joins a, b and c.
func joinAnd(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// CauseNote marks an attribute of a pending change whose own cause differs
// from the change's: "follows drift", "follows a data source"...
func CauseNote(c drift.Cause) string {
	switch c {
	case drift.CauseDrift:
		return "follows drift"
	case drift.CauseInput:
		return "follows a data source"
	case drift.CauseTime:
		return "follows a rotation"
	}
	return ""
}

// IdentityText names a deleted object by its identifying attributes:
// id "gone", name "gone"; empty when it has none.
func IdentityText(c drift.ResourceChange) string {
	parts := make([]string, 0, len(c.Identity))
	for _, a := range c.Identity {
		parts = append(parts, a.Path+" "+Value(a.Value))
	}
	return strings.Join(parts, ", ")
}

// ShownAttributes are the attributes worth showing: all with verbose, else
// all but the values a replacement computes anew; hidden counts those.
func ShownAttributes(attrs []drift.AttributeChange, verbose bool) (shown []drift.AttributeChange, hidden int) {
	if verbose {
		return attrs, 0
	}
	for _, a := range attrs {
		if a.Recomputed {
			hidden++
			continue
		}
		shown = append(shown, a)
	}
	return shown, hidden
}

// hiddenNote says how many recomputed values were left out.
func hiddenNote(n int) string {
	noun := "values"
	if n == 1 {
		noun = "value"
	}
	return fmt.Sprintf("# (%d %s known only after apply hidden)", n, noun)
}

// where says where the workspace's code lives.
func where(r *drift.Report, code func(string) string) string {
	s := r.Source
	switch {
	case s == nil:
		return "the workspace"
	case s.Repo != "":
		out := code(s.Repo)
		if s.Path != "" {
			out = code(s.Path) + " of " + out
		}
		switch {
		case r.Commit != "":
			out += " at commit " + code(ShortCommit(r.Commit))
		case s.Ref != "":
			out += " at " + code(s.Ref)
		}
		return out
	case s.Dir != "":
		return code(s.Dir)
	}
	return "the workspace"
}

// Advice says what to do about a drifted report: what `terraform apply`
// would do there, and how to keep the drift instead. Empty for other
// reports.
func Advice(r *drift.Report, code func(string) string) string {
	if r.Status != drift.StatusDrifted {
		return ""
	}
	pending, followOn := SplitPending(r.Pending)
	apply, refresh := code("terraform apply"), code("terraform apply -refresh-only")
	var b strings.Builder
	also := ""
	if len(followOn) > 0 {
		also = " and make the " + plural(len(followOn), "follow-on change") + " above"
	}
	if len(pending) == 0 {
		fmt.Fprintf(&b, "To undo the drift, run %s in %s: it would restore what changed outside Terraform%s.", apply, where(r, code), also)
	} else {
		fmt.Fprintf(&b, "Running %s in %s would undo the drift%s, but it would also apply the %s above: review %s first.",
			apply, where(r, code), also, plural(len(pending), "pending code change"), pronoun(len(pending)))
	}
	fmt.Fprintf(&b, " To keep the drift instead, change the code to match it, then run %s to record it in the state (it changes no infrastructure).", refresh)
	return b.String()
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// partly turns a code change's because clause into a note on the part
// that follows from elsewhere.
func partly(because string) string {
	if because == "" {
		return ""
	}
	return ", partly " + because
}

// plainCode writes a name as is: text output.
func plainCode(s string) string { return s }

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
