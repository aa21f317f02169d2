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
		writeTextReport(bw, r, p)
	}
	if len(reports) > 0 {
		writeTextSummary(bw, reports, p)
	}
	if s := opt.Shard; s != nil {
		fmt.Fprintf(bw, "shard %d/%d: %d of %s (the others belong to other shards)\n", s.Index, s.Count, len(reports), plural(s.Total, "workspace"))
	}
	return bw.Flush()
}

func writeTextReport(w *bufio.Writer, r *drift.Report, p painter) {
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
			fmt.Fprintf(w, "  %s %s %s\n", p.symbol(actionSymbol(c.Action)), p.paint(ansiBold, Terminal(c.Address)), driftVerb(c.Action))
			writeTextAttributes(w, c.Attributes, p)
		}
		fmt.Fprintln(w)
	}
	if len(r.Pending) > 0 {
		fmt.Fprintf(w, "  Pending changes (in code, not applied):\n\n")
		for _, c := range r.Pending {
			fmt.Fprintf(w, "  %s %s %s\n", p.symbol(actionSymbol(c.Action)), p.paint(ansiBold, Terminal(c.Address)), pendingVerb(c.Action))
			writeTextAttributes(w, c.Attributes, p)
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
}

func writeTextAttributes(w *bufio.Writer, attrs []drift.AttributeChange, p painter) {
	for _, a := range attrs {
		fmt.Fprintf(w, "      %s %s\n", p.symbol(attributeSymbol(a)), Terminal(AttributeLine(a)))
	}
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
