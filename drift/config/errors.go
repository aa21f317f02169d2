package config

import (
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file, located as precisely as the
// YAML allows. It renders as FILE:LINE:COL: PATH: MESSAGE; parts that are
// unknown (a syntax error has no path) are left out.
type Error struct {
	File   string
	Line   int
	Column int
	// Path names the offending value, e.g. workspaces[2].schedule.
	Path string
	Msg  string
	// Warning marks something that is allowed but most likely does not do
	// what was meant (Config.Warnings).
	Warning bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	if e.Path != "" {
		b.WriteString(": " + e.Path)
	}
	if e.Warning {
		b.WriteString(": warning")
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration file, in file order.
// Parse and Load collect them all so that one run shows everything to fix.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders errors by position; errors found by later checks (a var file
// missing from a workspace's directory) land next to the line they concern.
func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
}
