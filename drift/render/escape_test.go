package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/render/rendertest"
	"github.com/driftd/driftd/internal/reliability"
)

func TestMarkdownCode(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain", "`plain`"},
		{"a`b", "``a`b``"},
		{"a``b`", "``` a``b` ```"},
		{"`", "`` ` ``"},
		{" x", "`  x `"},
		{"", "` `"},
		{"a\nb", "`a b`"},
	} {
		if got := MarkdownCode(tt.in); got != tt.want {
			t.Errorf("MarkdownCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := MarkdownTableCode(`a|b\|c`), "`a\\|b\\\\|c`"; got != want {
		t.Errorf("MarkdownTableCode = %q, want %q", got, want)
	}
}

func TestMarkdownText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"2 resources drifted, 1 pending change", "2 resources drifted, 1 pending change"},
		{"Error: bad *value*", `Error: bad \*value\*`},
		{"@admin", "@\u2060admin"},
		{"see #12 and GH-3", "see \\#\u206012 and GH-\u20603"},
		{"https://x.example", "https:\u2060//x.example"},
		{"www.x.example", "www\u2060.x.example"},
		{"a\nb", "a b"},
	} {
		if got := MarkdownText(tt.in); got != tt.want {
			t.Errorf("MarkdownText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSlackText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"<!channel> & <@U1>", "&lt;!channel&gt; &amp; &lt;@\u2060U1&gt;"},
		{"@here #general", "@\u2060here #\u2060general"},
		{"https://x.example", "https:\u2060//x.example"},
	} {
		if got := SlackText(tt.in); got != tt.want {
			t.Errorf("SlackText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := SlackCode("a`b<c>"), "`aˋb&lt;c&gt;`"; got != want {
		t.Errorf("SlackCode = %q, want %q", got, want)
	}
	// A cut never leaves half an entity.
	if got := SlackCodeBlock(strings.Repeat("<", 10), 20); strings.Contains(got, "&l\n") || strings.Count(got, "&lt;") != 2 {
		t.Errorf("SlackCodeBlock cut = %q", got)
	}
}

func TestTerminal(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain\ttext ✓", "plain\ttext ✓"},
		{"\x1b]0;title\x07", `\x1b]0;title\x07`},
		{"a\rb\nc", `a\x0db\x0ac`},
		{"\u009b31m", `\u009b31m`},
		{"\xff\x9b", `\xff\x9b`},
		{"\u202eevil", `\u202eevil`},
	} {
		if got := Terminal(tt.in); got != tt.want {
			t.Errorf("Terminal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzMarkdown(f *testing.F) { rendertest.Fuzz(f, checkMarkdown) }

func checkMarkdown(t *testing.T, in rendertest.Input) {
	t.Helper()
	ref := in.Harmless().Reports()
	for i, r := range in.Reports() {
		for _, opt := range []MarkdownOptions{{}, {MaxResources: 1, MaxAttributes: 1}} {
			md := Markdown(r, opt)
			if err := rendertest.CheckMarkdown(md, Markdown(ref[i], opt)); err != nil {
				t.Fatalf("%v\n%s", err, md)
			}
		}
	}
}

func FuzzText(f *testing.F) { rendertest.Fuzz(f, checkText) }

func checkText(t *testing.T, in rendertest.Input) {
	t.Helper()
	var out, ref bytes.Buffer
	if err := Text(&out, in.Reports(), TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if err := Text(&ref, in.Harmless().Reports(), TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if err := rendertest.CheckTerminal(out.String(), ref.String()); err != nil {
		t.Fatal(err)
	}
}

// TestHostileText runs hostile text through the markdown and terminal
// renderers. Before escaping, the error's first line was raw markdown in
// the facts line, a backtick in an address ended its code span, and escape
// sequences in an error reached the terminal.
func TestHostileText(t *testing.T) {
	md := reliability.Times(t, "escaping", "hostile text (backticks, mentions, issue references, links, HTML, markdown, Slack controls, terminal escapes, invalid UTF-8) in every text field of a report, rendered as markdown",
		"the markdown parses to the same structure as harmless text: no code span ended, no mention, reference, link or HTML made")
	term := reliability.Times(t, "escaping", "hostile text (backticks, mentions, issue references, links, HTML, markdown, Slack controls, terminal escapes, invalid UTF-8) in every text field of a report, printed to a terminal",
		"escape sequences and control characters shown escaped, never sent raw")
	for _, s := range rendertest.Hostile {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			in := rendertest.HostileInput(s)
			checkMarkdown(t, in)
			md.Add(1)
			checkText(t, in)
			term.Add(1)
		})
	}
}
