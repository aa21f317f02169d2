package render

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/driftd/driftd/drift"
)

// TextOptions control the terminal rendering.
type TextOptions struct {
	// Color enables ANSI colours; set it only when writing to a terminal.
	Color bool
	// Verbose shows the values a replacement recomputes (known only after
	// apply), which are otherwise left out.
	Verbose bool
	// Shard, when set, adds a line naming the shard to the summary.
	Shard *Shard
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

type painter bool

func (p painter) paint(code, s string) string {
	if !p {
		return s
	}
	return code + s + ansiReset
}

func (p painter) symbol(sym string) string {
	switch sym {
	case "+":
		return p.paint(ansiGreen, sym)
	case "-", "-/+":
		return p.paint(ansiRed, sym)
	}
	return p.paint(ansiYellow, sym)
}

// Text writes each report as a diff in Terraform's style, then a one-line
// summary per workspace.
func Text(w io.Writer, reports []*drift.Report, opt TextOptions) error {
	bw := bufio.NewWriter(w)
	p := painter(opt.Color)
	for _, r := range reports {
		writeTextReport(bw, r, p, opt.Verbose)
	}
	if len(reports) > 0 {
		writeTextSummary(bw, reports, p)
	}
	if s := opt.Shard; s != nil {
		fmt.Fprintf(bw, "shard %d/%d: %d of %s (the others belong to other shards)\n", s.Index, s.Count, len(reports), plural(s.Total, "workspace"))
	}
	return bw.Flush()
}

func writeTextReport(w *bufio.Writer, r *drift.Report, p painter, verbose bool) {
	if r.Status == drift.StatusClean && len(r.Pending) == 0 && len(r.Outputs) == 0 {
		return
	}
	fmt.Fprintf(w, "%s\n", p.paint(ansiBold, "Workspace "+Terminal(r.Workspace)))
	if r.Status == drift.StatusError {
		fmt.Fprintf(w, "  %s\n", p.paint(ansiRed, "Scan failed:"))
		for _, line := range strings.Split(strings.TrimSpace(r.Error), "\n") {
			fmt.Fprintf(w, "    %s\n", Terminal(line))
		}
		fmt.Fprintln(w)
		return
	}
	if len(r.Drift) > 0 {
		fmt.Fprintf(w, "  Objects changed outside of Terraform:\n\n")
		for _, c := range r.Drift {
			head := driftVerb(c.Action)
			if len(c.Identity) > 0 {
				head += ": " + Terminal(IdentityText(c))
			}
			fmt.Fprintf(w, "  %s %s %s\n", p.symbol(actionSymbol(c.Action)), p.paint(ansiBold, Terminal(c.Address)), head)
			writeTextAttributes(w, c.Attributes, p, verbose)
		}
		fmt.Fprintln(w)
	}
	code, followOn := SplitPending(r.Pending)
	if len(followOn) > 0 {
		fmt.Fprintf(w, "  Follow-on changes (not in code; terraform apply would make them):\n\n")
		for _, c := range followOn {
			writeTextPending(w, c, p, verbose, ", "+because(c, Terminal))
		}
		fmt.Fprintln(w)
	}
	if len(code) > 0 {
		fmt.Fprintf(w, "  Pending changes (in code, not applied):\n\n")
		for _, c := range code {
			writeTextPending(w, c, p, verbose, partly(because(c, Terminal)))
		}
		fmt.Fprintln(w)
	}
	if len(r.Outputs) > 0 {
		fmt.Fprintf(w, "  Changes to outputs:\n\n")
		for _, o := range r.Outputs {
			a := drift.AttributeChange{Path: o.Name, Before: o.Before, After: o.After, Unknown: o.Unknown}
			fmt.Fprintf(w, "      %s %s\n", p.symbol(actionSymbol(o.Action)), Terminal(AttributeLine(a)))
		}
		fmt.Fprintln(w)
	}
	if r.Ignored > 0 {
		fmt.Fprintf(w, "  (%s ignored by rules)\n\n", plural(r.Ignored, "change"))
	}
	if advice := Advice(r, terminalCode); advice != "" {
		for _, line := range wrap(advice, 76) {
			fmt.Fprintf(w, "  %s\n", line)
		}
		fmt.Fprintln(w)
	}
}

// writeTextPending writes a pending change; why ends its head line.
func writeTextPending(w *bufio.Writer, c drift.ResourceChange, p painter, verbose bool, why string) {
	head := pendingVerb(c.Action)
	if len(c.Identity) > 0 {
		head += ": " + Terminal(IdentityText(c))
	}
	fmt.Fprintf(w, "  %s %s %s%s\n", p.symbol(actionSymbol(c.Action)), p.paint(ansiBold, Terminal(c.Address)), head, why)
	writeTextAttributes(w, c.Attributes, p, verbose)
}

func writeTextAttributes(w *bufio.Writer, attrs []drift.AttributeChange, p painter, verbose bool) {
	shown, hidden := ShownAttributes(attrs, verbose)
	for _, a := range shown {
		line := Terminal(AttributeLine(a))
		if note := CauseNote(a.Cause); note != "" {
			line += "  # " + note
		}
		fmt.Fprintf(w, "      %s %s\n", p.symbol(attributeSymbol(a)), line)
	}
	if hidden > 0 {
		fmt.Fprintf(w, "      %s\n", hiddenNote(hidden))
	}
}

// terminalCode quotes a command or a path in text.
func terminalCode(s string) string { return "`" + Terminal(s) + "`" }

// wrap breaks text into lines of at most width bytes at spaces; a longer
// word gets a line of its own.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func writeTextSummary(w *bufio.Writer, reports []*drift.Report, p painter) {
	width := 0
	for _, r := range reports {
		width = max(width, len(Terminal(r.Workspace)))
	}
	for _, r := range reports {
		mark := p.paint(ansiGreen, "✓")
		switch r.Status {
		case drift.StatusDrifted:
			mark = p.paint(ansiYellow, "~")
		case drift.StatusError:
			mark = p.paint(ansiRed, "✗")
		}
		fmt.Fprintf(w, "%s %-*s  %-7s  %s (%s)\n", mark, width, Terminal(r.Workspace), r.Status, Terminal(Summary(r)), r.Duration.Round(100*time.Millisecond))
	}
}
