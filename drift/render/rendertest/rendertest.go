// Package rendertest checks, for tests and fuzz targets, that what driftd
// writes from untrusted text (a workspace name, a resource address, a map
// key, a value, Terraform's diagnostics) has only the structure of
// driftd's own template: no markdown, Slack or terminal syntax that the
// text brought with it.
//
// Each check compares an output with a reference: the same template
// rendered from harmless text (Input.Harmless).
package rendertest

import (
	"slices"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift"
)

// Input is the untrusted text of one fuzz case.
type Input struct {
	Workspace, Address, Path, Before, After, Error string
}

// Hostile is text aimed at each output syntax: markdown code spans,
// blocks and tables, GitHub mentions, references and autolinks, HTML,
// Slack control sequences, terminal escape sequences, invalid UTF-8.
var Hostile = []string{
	"a`b", "``", "`@admin`", "x ``` y", "\n# heading\n", "| a | b |",
	"@admin @org/team", "#1 owner/repo#2 GH-3", "https://evil.example/x www.evil.example a@b.example",
	"[click](https://evil.example) ![img](https://evil.example/i.png) <img src=x> &#64;admin",
	"*em* _em_ ~~s~~ **b** $x$", "<!channel> <!here> <@U123> <#C123> <https://evil.example|ok>",
	"\x1b]0;title\x07\x1b[2J\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "\u202eevil\r\x9b31m\xff",
	"\\", "a\\|b", "`", " ", "",
}

// HostileInput puts s everywhere an Input has text.
func HostileInput(s string) Input {
	return Input{s, `res.x["` + s + `"]`, s, s, s, "Error: " + s + "\n\nmore " + s}
}

// Harmless is the reference for in: every string replaced by a plain
// word, but an empty one stays empty (it leaves out a fact) and the
// error keeps its number of lines.
func (in Input) Harmless() Input {
	word := func(s string) string {
		if s == "" {
			return ""
		}
		return "x"
	}
	out := Input{word(in.Workspace), word(in.Address), word(in.Path), word(in.Before), word(in.After), ""}
	lines := slices.Collect(strings.Lines(strings.TrimSpace(in.Error)))
	for i := range lines {
		lines[i] = "x"
	}
	out.Error = strings.Join(lines, "\n")
	return out
}

// Reports are the reports in stands for: a drifted one carrying its text
// everywhere a report can (workspace, addresses, attribute paths, values
// and map keys, output names, Terraform version, commit), and a failed
// one.
func (in Input) Reports() []*drift.Report {
	attrs := []drift.AttributeChange{
		{Path: in.Path, Before: in.Before, After: in.After},
		{Path: in.Path, Before: map[string]any{in.Before: in.After}},
	}
	return []*drift.Report{
		{
			SchemaVersion: drift.SchemaVersion, Workspace: in.Workspace, Status: drift.StatusDrifted, Fingerprint: "0123456789abcdef",
			TerraformVersion: in.Before, Commit: in.After, Owners: []string{"alice"},
			Drift: []drift.ResourceChange{
				{Address: in.Address, Action: drift.ActionUpdate, Attributes: attrs},
				{Address: in.Address, Action: drift.ActionDelete},
			},
			Pending: []drift.ResourceChange{
				{Address: in.Address, Action: drift.ActionCreate},
				{Address: in.Address, Action: drift.ActionReplace, Attributes: attrs},
			},
			Outputs: []drift.OutputChange{{Name: in.Path, Action: drift.ActionUpdate, Before: in.Before, After: in.After}},
			Ignored: 1,
		},
		{SchemaVersion: drift.SchemaVersion, Workspace: in.Workspace, Status: drift.StatusError, Error: in.Error, Commit: in.After, Owners: []string{"alice"}},
	}
}

// Fuzz runs check on each fuzz input: the seeds in the target's
// testdata/fuzz directory (Hostile's, committed) under go test, and more
// under go test -fuzz. Every target takes the same six strings, so a seed
// serves any of them.
func Fuzz(f *testing.F, check func(*testing.T, Input)) {
	f.Fuzz(func(t *testing.T, ws, addr, path, before, after, errText string) {
		check(t, Input{Workspace: ws, Address: addr, Path: path, Before: before, After: after, Error: errText})
	})
}
