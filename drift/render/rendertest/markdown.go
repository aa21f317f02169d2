package rendertest

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"golang.org/x/net/html"
)

// GitHub turns markdown into HTML (GitHub-flavoured: tables, autolinks,
// strikethrough, task lists, footnotes) and then finds mentions (@user,
// @org/team) and references (#123, owner/repo#123, GH-123) in the HTML's
// text outside code and links. CheckMarkdown does the same with goldmark
// and a real HTML parser.
var gfm = goldmark.New(
	goldmark.WithExtensions(extension.GFM, extension.Footnote),
	// Raw HTML is kept so that injected HTML shows as elements.
	goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
)

// autolinkRE matches what GitHub or Slack make a mention, a reference or
// a link of in plain text. It is stricter than either (an e-mail address
// counts as a mention): driftd's template writes none of these.
var autolinkRE = regexp.MustCompile(`(?i)@[a-z0-9]|#[0-9a-z]|\bgh-[0-9]|://|www\.`)

// markdownShape is what CheckMarkdown compares: the HTML elements, in
// document order, and the autolink patterns in plain text.
type markdownShape struct {
	elements  []string
	autolinks []string
}

func parseMarkdown(md string) (markdownShape, error) {
	var buf bytes.Buffer
	if err := gfm.Convert([]byte(md), &buf); err != nil {
		return markdownShape{}, err
	}
	doc, err := html.Parse(&buf)
	if err != nil {
		return markdownShape{}, err
	}
	var s markdownShape
	var walk func(n *html.Node, plain bool)
	walk = func(n *html.Node, plain bool) {
		switch n.Type {
		case html.ElementNode:
			s.elements = append(s.elements, n.Data)
			switch n.Data {
			case "code", "pre", "a":
				// GitHub looks for mentions and references in none of these.
				plain = false
			}
		case html.TextNode:
			if plain {
				s.autolinks = append(s.autolinks, autolinkRE.FindAllString(n.Data, -1)...)
			}
		case html.CommentNode:
			s.elements = append(s.elements, "<!---->")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, plain)
		}
	}
	walk(doc, true)
	return s, nil
}

// CheckMarkdown returns an error saying how md's structure differs from
// that of ref: its HTML elements, and the mentions, references and links
// in its plain text.
func CheckMarkdown(md, ref string) error {
	got, err := parseMarkdown(md)
	if err != nil {
		return err
	}
	want, err := parseMarkdown(ref)
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	if !slices.Equal(got.elements, want.elements) {
		return fmt.Errorf("HTML elements differ from the reference's:\ngot  %s\nwant %s", strings.Join(got.elements, " "), strings.Join(want.elements, " "))
	}
	if !slices.Equal(got.autolinks, want.autolinks) {
		return fmt.Errorf("mentions, references or links in plain text: got %q, want %q", got.autolinks, want.autolinks)
	}
	return nil
}
