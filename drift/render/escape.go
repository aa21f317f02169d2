package render

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Everything in a report that came from outside driftd (workspace names,
// addresses, attribute paths, values, Terraform's diagnostics) is untrusted:
// a provider's error or a map key can hold any text. These are the only
// ways such text enters each output syntax: GitHub-flavoured markdown,
// Slack mrkdwn and a terminal. Renderers and reporters use nothing else.

// wordJoiner is an invisible character that keeps GitHub and Slack from
// reading what follows as part of a mention, reference or link: "@admin"
// becomes "@\u2060admin", which no mention or autolink pattern matches,
// and which reads the same.
const wordJoiner = "\u2060"

// breakAutolinks puts a word joiner where GitHub or Slack would otherwise
// turn plain text into a mention (@user, @org/team, @channel), a reference
// (#123, owner/repo#123, GH-123, #channel) or a link (scheme://, www.,
// user@host). Text is copied otherwise unchanged.
func breakAutolinks(s string) string {
	if !strings.ContainsAny(s, "@#:wWgG") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		b.WriteByte(c)
		rest := s[i+1:]
		switch {
		case c == '@' || c == '#':
			b.WriteString(wordJoiner)
		case c == ':' && strings.HasPrefix(rest, "//"):
			b.WriteString(wordJoiner)
		case (c == 'w' || c == 'W') && hasFoldPrefix(s[i:], "www."):
			b.WriteString(rest[:2])
			b.WriteString(wordJoiner)
			i += 2
		case (c == 'g' || c == 'G') && hasFoldPrefix(s[i:], "gh-") && len(rest) > 2 && isDigit(rest[2]):
			b.WriteString(rest[:2])
			b.WriteString(wordJoiner)
			i += 2
		}
	}
	return b.String()
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// oneLine replaces line breaks with spaces: text meant for one line must
// not start a block (a heading, a list, a table row) on the next. Invalid
// UTF-8 becomes U+FFFD, as it would in the JSON that carries the text.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

// markdownSpecial are the ASCII punctuation characters that can start
// markdown syntax in the middle of a line (emphasis, code, links, images,
// HTML, entities, table cells, GitHub's math): each is backslash-escaped,
// which CommonMark allows for any ASCII punctuation.
const markdownSpecial = "\\`*_~[]<>&|$#!"

// MarkdownText makes untrusted text safe in a GitHub-flavoured markdown
// paragraph, after driftd's own text on the line: it reads as the same
// words, on one line, without emphasis, code, links, images, HTML,
// entities, mentions or references.
func MarkdownText(s string) string {
	s = oneLine(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(markdownSpecial, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return breakAutolinks(b.String())
}

// MarkdownCode puts untrusted text in a markdown code span, where nothing
// is interpreted (GitHub makes no mentions, references or links in code):
// delimited by a backtick run longer than any inside (the CommonMark rule),
// padded with a space when the text starts or ends with a backtick or a
// space, on one line.
func MarkdownCode(s string) string { return codeSpan(oneLine(s)) }

// MarkdownTableCode is MarkdownCode for a table cell: GitHub splits table
// rows at every "|" not directly preceded by a backslash, even inside code
// spans, and takes the backslash away again.
func MarkdownTableCode(s string) string {
	return codeSpan(strings.ReplaceAll(oneLine(s), "|", `\|`))
}

func codeSpan(s string) string {
	if s == "" {
		return "` `"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if s[0] == '`' || s[0] == ' ' || s[len(s)-1] == '`' || s[len(s)-1] == ' ' {
		s = " " + s + " "
	}
	return fence + s + fence
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			cur = 0
			continue
		}
		cur++
		longest = max(longest, cur)
	}
	return longest
}

// MarkdownFence puts untrusted text in a fenced code block whose fence is
// longer than any backtick run inside, so that no line of the text can
// close it. lang is driftd's own ("text", "diff").
func MarkdownFence(lang, body string) string {
	fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
	return fence + lang + "\n" + body + "\n" + fence
}

// SlackText makes untrusted text safe in Slack mrkdwn (a text object or a
// message's text): &, < and > are Slack's control characters (<!channel>,
// <@U123>, <https://…|label>) and become entities; mentions, channel
// names and links that Slack would find in plain text are broken with a
// word joiner; backticks, which would open code, become "ˋ" (mrkdwn has no
// escape for them). Bold, italics and strike-through markers are left:
// they change how text looks, not what it does.
func SlackText(s string) string {
	return breakAutolinks(slackEntities(noBackticks(s)))
}

// SlackCode puts untrusted text in a mrkdwn code span, on one line.
func SlackCode(s string) string {
	return "`" + slackEntities(noBackticks(oneLine(s))) + "`"
}

// noBackticks replaces backticks with "ˋ", a modifier letter that looks
// alike: mrkdwn cannot escape a backtick, in code or out.
func noBackticks(s string) string { return strings.ReplaceAll(s, "`", "ˋ") }

// SlackCodeBlock puts untrusted text in a mrkdwn code block of at most n
// characters, cut with an ellipsis when longer.
func SlackCodeBlock(s string, n int) string {
	s = slackEntities(noBackticks(s))
	if limit := max(n-8, 1); utf8.RuneCountInString(s) > limit {
		s = cutRunes(s, limit-1) + "…"
	}
	return "```\n" + s + "\n```"
}

// cutRunes returns the first n runes of s, without an entity ("&amp;")
// that the cut would split.
func cutRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			s = s[:i]
			break
		}
		n--
	}
	if amp := strings.LastIndexByte(s, '&'); amp >= 0 && !strings.Contains(s[amp:], ";") {
		s = s[:amp]
	}
	return s
}

func slackEntities(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Terminal makes untrusted text safe to print on a terminal: every control
// character (C0 but tab, DEL, C1: the start of every escape sequence, OSC
// titles and hyperlinks, BEL, carriage returns that overwrite a line) and
// every bidirectional override is shown escaped, Go-style ("\x1b",
// "\u202e"), instead of acting. Line breaks are escaped too: split
// multi-line text first. driftd's own colours are added after.
func Terminal(s string) string {
	if terminalSafe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			// Invalid UTF-8: a lone byte such as 0x9b is a C1 control to
			// a terminal that is not in UTF-8 mode.
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeOnTerminal(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeOnTerminal(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func terminalSafe(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeOnTerminal(r) {
			return false
		}
		i += size
	}
	return true
}

func unsafeOnTerminal(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, 0x80 <= r && r < 0xa0:
		return true
	case 0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		// Bidirectional controls reorder what follows on the line.
		return true
	}
	return false
}
