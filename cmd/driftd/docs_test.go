package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// userDocs are the pages written for users of driftd: every markdown file
// of README.md, docs/ and deploy/.
func userDocs(t *testing.T) []string {
	t.Helper()
	files := []string{filepath.Join(repoRoot, "README.md")}
	for _, dir := range []string{"docs", "deploy"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".md") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// docCommand is a driftd command line a page shows.
type docCommand struct {
	where string // file:line
	args  []string
	// full says the line is a command to run (a code block), whose flag
	// values must parse too; an inline mention may name a flag alone.
	full bool
}

var (
	fenceRE      = regexp.MustCompile("^\\s*```\\s*(\\S*)")
	inlineCodeRE = regexp.MustCompile("`([^`]+)`")
)

// shellLangs are the code blocks whose lines are shell commands.
var shellLangs = map[string]bool{"sh": true, "shell": true, "bash": true, "console": true}

// docCommands finds the driftd command lines of a markdown page: in shell
// code blocks, each command whose program is driftd (after any VAR=value
// assignments, in any segment of a pipeline); in the prose, code spans
// that start with "driftd ".
func docCommands(t *testing.T, file string) []docCommand {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var (
		out     []docCommand
		inFence bool
		shell   bool
		pending string // a line continued with a backslash
		start   int
	)
	for i, line := range strings.Split(string(b), "\n") {
		where := file + ":" + strconv.Itoa(i+1)
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			inFence = !inFence
			shell = inFence && shellLangs[m[1]]
			continue
		}
		if inFence {
			if !shell {
				continue
			}
			if pending == "" {
				start = i + 1
			}
			if body, ok := strings.CutSuffix(strings.TrimRight(line, " "), "\\"); ok {
				pending += body + " "
				continue
			}
			line, pending = pending+line, ""
			where = file + ":" + strconv.Itoa(start)
			for _, seg := range shellSegments(t, where, line) {
				if args, ok := driftdArgs(seg); ok {
					out = append(out, docCommand{where: where, args: args, full: true})
				}
			}
			continue
		}
		for _, m := range inlineCodeRE.FindAllStringSubmatch(line, -1) {
			if rest, ok := strings.CutPrefix(m[1], "driftd "); ok {
				words := strings.Fields(strings.NewReplacer("[", "", "]", "").Replace(rest))
				out = append(out, docCommand{where: where, args: words})
			}
		}
	}
	return out
}

// shellSegments splits a shell line into the words of each simple command
// (split at |, ;, && and ||), with quotes removed, a comment dropped, and
// redirections (>, <, 2>&1 and their targets) left out.
func shellSegments(t *testing.T, where, line string) [][]string {
	t.Helper()
	var (
		segs  [][]string
		words []string
		word  strings.Builder
		inW   bool
		quote rune
	)
	endWord := func() {
		if inW {
			words = append(words, word.String())
		}
		word.Reset()
		inW = false
	}
	endSeg := func() {
		endWord()
		if len(words) > 0 {
			segs = append(segs, words)
		}
		words = nil
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				word.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, inW = c, true
		case c == '#' && !inW:
			i = len(rs)
		case c == ' ' || c == '\t':
			endWord()
		case c == '|' || c == ';' || c == '&':
			endSeg()
		case c == '>' || c == '<':
			// A redirection: drop it and its target (or &N).
			word.Reset()
			inW = false
			for i+1 < len(rs) && (rs[i+1] == '>' || rs[i+1] == '&' || rs[i+1] == ' ') {
				i++
			}
			for i+1 < len(rs) && rs[i+1] != ' ' && rs[i+1] != '|' && rs[i+1] != ';' {
				i++
			}
		default:
			word.WriteRune(c)
			inW = true
		}
	}
	if quote != 0 {
		t.Errorf("%s: unterminated quote in %q", where, line)
	}
	endSeg()
	return segs
}

// driftdArgs returns the arguments of a simple command whose program is
// driftd (a path ending in /driftd too), after VAR=value assignments.
func driftdArgs(words []string) ([]string, bool) {
	for i, w := range words {
		if filepath.Base(w) == "driftd" {
			return words[i+1:], true
		}
		if !strings.Contains(w, "=") || strings.HasPrefix(w, "-") {
			return nil, false
		}
	}
	return nil, false
}

// flagsOf returns the flags a driftd command defines, from its -h output:
// each name, and whether it takes a value.
func flagsOf(t *testing.T, cmd string) map[string]bool {
	t.Helper()
	res := runDocCLI(cmd, "-h")
	if res.code != exitClean {
		t.Fatalf("driftd %s -h: exit %d\n%s", cmd, res.code, res.stderr)
	}
	flags := map[string]bool{"h": false, "help": false}
	for _, m := range regexp.MustCompile(`(?m)^  -(\S+)( \S+)?$`).FindAllStringSubmatch(res.stderr, -1) {
		flags[m[1]] = m[2] != ""
	}
	return flags
}

func runDocCLI(args ...string) result {
	var out, errb bytes.Buffer
	// No HOME, no cache dir: nothing a command could write to exists, and
	// -h stops every command before it does anything.
	a := newApp(&out, &errb, []string{"PATH=/nonexistent"})
	code := a.run(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

// TestDocsCommandLines: every driftd command line the README and the docs
// show is one the CLI accepts: a command that exists, flags it defines,
// values of the right type. Code blocks are run through the command's own
// flag parsing (with -h last, which stops it there); a code span in the
// prose may name a flag without its value.
func TestDocsCommandLines(t *testing.T) {
	t.Parallel()
	commands := map[string]map[string]bool{}
	for _, c := range []string{"scan", "check", "analyze", "serve", "validate", "install-terraform"} {
		commands[c] = flagsOf(t, c)
	}
	n := 0
	for _, file := range userDocs(t) {
		for _, dc := range docCommands(t, file) {
			n++
			if len(dc.args) == 0 {
				t.Errorf("%s: driftd without a command", dc.where)
				continue
			}
			cmd := dc.args[0]
			flags, ok := commands[cmd]
			if !ok {
				if cmd != "version" && cmd != "help" {
					t.Errorf("%s: driftd %s: no such command", dc.where, strings.Join(dc.args, " "))
				}
				continue
			}
			if dc.full {
				if res := runDocCLI(append(dc.args, "-h")...); res.code != exitClean {
					t.Errorf("%s: driftd %s: %s", dc.where, strings.Join(dc.args, " "), firstLine(res.stderr))
				}
				continue
			}
			for _, a := range dc.args[1:] {
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if strings.HasPrefix(a, "-") && a != "-" {
					if _, ok := flags[name]; !ok {
						t.Errorf("%s: driftd %s: %s has no flag -%s", dc.where, strings.Join(dc.args, " "), cmd, name)
					}
				}
			}
		}
	}
	t.Logf("%d driftd command lines checked", n)
	// The pages show many; finding few means the search broke.
	if n < 40 {
		t.Errorf("found %d driftd command lines in the docs, want at least 40", n)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

var (
	mdLinkRE  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
)

// anchors are the GitHub anchors of a markdown page's headings.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(text, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestDocsLinks: the README and the docs link only inside the repository,
// to files that exist and to headings that exist.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	for _, file := range userDocs(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := fenceFree(string(b))
		for _, m := range mdLinkRE.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "/") {
				t.Errorf("%s: link %s leaves the repository", file, target)
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
			}
			rel, err := filepath.Rel(repoRoot, dest)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: link %s leaves the repository", file, target)
				continue
			}
			destText, err := os.ReadFile(dest)
			if err != nil {
				if fi, serr := os.Stat(dest); serr != nil || !fi.IsDir() || anchor != "" {
					t.Errorf("%s: link %s: %v", file, target, err)
				}
				continue
			}
			if anchor != "" && !anchors(fenceFree(string(destText)))[anchor] {
				t.Errorf("%s: link %s: no heading #%s in %s", file, target, anchor, rel)
			}
		}
	}
}

// fenceFree is a markdown text without its fenced code blocks.
func fenceFree(text string) string {
	var b strings.Builder
	in := false
	for line := range strings.Lines(text) {
		if fenceRE.MatchString(line) {
			in = !in
			continue
		}
		if !in {
			b.WriteString(line)
		}
	}
	return b.String()
}
