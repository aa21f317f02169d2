package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/driftd/driftd/drift"
)

// MarkdownOptions bound the size of the markdown; zero means no bound.
type MarkdownOptions struct {
	// MaxResources caps the resources listed (drift first, then pending);
	// the rest are counted in a "… and N more resources" line.
	MaxResources int
	// MaxAttributes caps the attributes listed per resource.
	MaxAttributes int
	// Verbose shows the values a replacement recomputes (known only after
	// apply), which are otherwise left out.
	Verbose bool
}

// Markdown renders a report as GitHub-flavoured markdown: the body of a
// drift issue.
func Markdown(r *drift.Report, opt MarkdownOptions) string {
	var b strings.Builder
	switch r.Status {
	case drift.StatusError:
		fmt.Fprintf(&b, "## Drift scan failed for %s\n\n", MarkdownCode(r.Workspace))
	case drift.StatusDrifted:
		fmt.Fprintf(&b, "## Drift detected in %s\n\n", MarkdownCode(r.Workspace))
	default:
		fmt.Fprintf(&b, "## No drift in %s\n\n", MarkdownCode(r.Workspace))
	}
	b.WriteString(markdownFacts(r))
	b.WriteString("\n\n")

	if r.Status == drift.StatusError {
		writeFenced(&b, "text", strings.TrimSpace(r.Error))
		return b.String()
	}

	budget := opt.MaxResources // resources left to show; -1 means no bound
	if budget <= 0 {
		budget = -1
	}
	code, followOn := SplitPending(r.Pending)
	omitted := 0
	omitted += writeMarkdownChanges(&b, "Changed outside of Terraform", r.Drift, &budget, opt, driftWhat)
	omitted += writeMarkdownChanges(&b, "Follow-on changes (not in code; `terraform apply` would make them)", followOn, &budget, opt, followOnWhat)
	omitted += writeMarkdownChanges(&b, "Pending changes (in code, not applied)", code, &budget, opt, codeWhat)
	if omitted > 0 {
		fmt.Fprintf(&b, "… and %s not shown here (run `driftd check` for the full diff).\n\n", more(omitted, "resource"))
	}
	if len(r.Outputs) > 0 {
		b.WriteString("### Output changes\n\n")
		var lines []string
		for _, o := range r.Outputs {
			lines = append(lines, "~ "+AttributeLine(drift.AttributeChange{Path: o.Name, Before: o.Before, After: o.After, Unknown: o.Unknown}))
		}
		writeFenced(&b, "diff", strings.Join(lines, "\n"))
	}
	if r.Ignored > 0 {
		fmt.Fprintf(&b, "_%s ignored by rules._\n\n", plural(r.Ignored, "change"))
	}
	if advice := Advice(r, MarkdownCode); advice != "" {
		b.WriteString(advice + "\n")
	}
	return b.String()
}

func markdownFacts(r *drift.Report) string {
	facts := []string{"**" + MarkdownText(Summary(r)) + "**"}
	if !r.StartedAt.IsZero() {
		facts = append(facts, "scanned "+r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if r.RefreshOnly {
		facts = append(facts, "refresh-only")
	}
	if r.TerraformVersion != "" {
		facts = append(facts, "Terraform "+MarkdownText(r.TerraformVersion))
	}
	if r.Commit != "" {
		facts = append(facts, "commit "+MarkdownCode(ShortCommit(r.Commit)))
	}
	if r.Duration > 0 {
		facts = append(facts, "took "+r.Duration.Round(100*time.Millisecond).String())
	}
	return strings.Join(facts, " · ")
}

func ShortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// what says what happened to a resource: its verb, and in the table a
// reason after it.
type what struct {
	verb   func(drift.Action) string
	reason func(drift.ResourceChange) string
}

var (
	driftWhat    = what{driftVerb, func(drift.ResourceChange) string { return "" }}
	followOnWhat = what{pendingVerb, func(c drift.ResourceChange) string { return ", " + because(c, MarkdownTableCode) }}
	codeWhat     = what{pendingVerb, func(c drift.ResourceChange) string { return partly(because(c, MarkdownTableCode)) }}
)

// identityCell is identityText with each value a code span.
func identityCell(c drift.ResourceChange) string {
	parts := make([]string, 0, len(c.Identity))
	for _, a := range c.Identity {
		parts = append(parts, a.Path+" "+MarkdownTableCode(Value(a.Value)))
	}
	return strings.Join(parts, ", ")
}

// writeMarkdownChanges writes a section with a table of changes and a diff
// of their attributes within the resource budget; it returns how many it
// left out.
func writeMarkdownChanges(b *strings.Builder, title string, cs []drift.ResourceChange, budget *int, opt MarkdownOptions, what what) int {
	shown := cs
	if *budget >= 0 {
		shown = shown[:min(*budget, len(shown))]
		*budget -= len(shown)
	}
	if len(shown) > 0 {
		b.WriteString("### " + title + "\n\n")
		b.WriteString("| | Resource | What happened |\n|---|---|---|\n")
		for _, c := range shown {
			desc := what.verb(c.Action)
			if len(c.Identity) > 0 {
				desc += ": " + identityCell(c)
			}
			if attrs, _ := ShownAttributes(c.Attributes, opt.Verbose); len(attrs) > 0 {
				desc += " (" + plural(len(attrs), "attribute") + ")"
			}
			fmt.Fprintf(b, "| `%s` | %s | %s%s |\n", actionSymbol(c.Action), MarkdownTableCode(c.Address), desc, what.reason(c))
		}
		b.WriteString("\n")
		var lines []string
		for _, c := range shown {
			all, hidden := ShownAttributes(c.Attributes, opt.Verbose)
			if len(all) == 0 {
				continue // the table says all there is
			}
			lines = append(lines, fmt.Sprintf("# %s %s", c.Address, what.verb(c.Action)))
			attrs := all
			if opt.MaxAttributes > 0 && len(attrs) > opt.MaxAttributes {
				attrs = attrs[:opt.MaxAttributes]
			}
			for _, a := range attrs {
				lines = append(lines, diffLines(a)...)
			}
			if len(attrs) < len(all) {
				lines = append(lines, "  … and "+more(len(all)-len(attrs), "attribute"))
			}
			if hidden > 0 {
				lines = append(lines, "  "+hiddenNote(hidden))
			}
		}
		if len(lines) > 0 {
			writeFenced(b, "diff", strings.Join(lines, "\n"))
		}
	}
	return len(cs) - len(shown)
}

// diffLines shows an attribute as a removed and an added line, which
// GitHub colours red and green; the added one notes a cause of its own.
func diffLines(a drift.AttributeChange) []string {
	var lines []string
	if a.Before != nil || !a.Unknown && a.After == nil {
		lines = append(lines, fmt.Sprintf("-   %s = %s", a.Path, Value(a.Before)))
	}
	switch {
	case a.Unknown:
		lines = append(lines, fmt.Sprintf("+   %s = (known after apply)", a.Path))
	case a.After != nil || a.Before == nil:
		lines = append(lines, fmt.Sprintf("+   %s = %s", a.Path, Value(a.After)))
	}
	if note := CauseNote(a.Cause); note != "" && len(lines) > 0 {
		lines[len(lines)-1] += "  # " + note
	}
	return lines
}

func writeFenced(b *strings.Builder, lang, body string) {
	b.WriteString(MarkdownFence(lang, body))
	b.WriteString("\n\n")
}
