package rendertest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// driftdLinkRE matches the one <…> sequence driftd writes itself in
// mrkdwn: a link to an http(s) URL with a label.
var driftdLinkRE = regexp.MustCompile(`<https?://[^|<>\s]+\|[^<>]+>`)

var entityRE = regexp.MustCompile(`&(amp|lt|gt);`)

// slackShape is what CheckSlack compares: driftd's own links, the
// backtick runs that open and close code, and the autolink patterns in
// text outside code.
type slackShape struct {
	links     []string
	backticks []string
	autolinks []string
}

var backtickRunRE = regexp.MustCompile("`+")

func parseSlack(s string) (slackShape, error) {
	var sh slackShape
	sh.links = driftdLinkRE.FindAllString(s, -1)
	rest := driftdLinkRE.ReplaceAllString(s, " ")
	if i := strings.IndexAny(rest, "<>"); i >= 0 {
		return sh, fmt.Errorf("a raw %q outside driftd's links starts a Slack control sequence: %q", rest[i], rest)
	}
	if amps := strings.Count(rest, "&"); amps != len(entityRE.FindAllString(rest, -1)) {
		return sh, fmt.Errorf("a raw & outside an entity: %q", rest)
	}
	sh.backticks = backtickRunRE.FindAllString(rest, -1)
	for i, part := range backtickRunRE.Split(rest, -1) {
		if i%2 == 0 { // outside code
			sh.autolinks = append(sh.autolinks, autolinkRE.FindAllString(part, -1)...)
		}
	}
	return sh, nil
}

// CheckSlack returns an error saying how the mrkdwn text s differs in
// structure from ref: a control sequence (<!channel>, <@U…>, <url|…>)
// other than driftd's links, a raw &, code opened or closed elsewhere, or
// a mention, channel name or link Slack would find in plain text.
func CheckSlack(s, ref string) error {
	got, err := parseSlack(s)
	if err != nil {
		return err
	}
	want, err := parseSlack(ref)
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	switch {
	case !slices.Equal(got.links, want.links):
		return fmt.Errorf("links %q, want %q", got.links, want.links)
	case !slices.Equal(got.backticks, want.backticks):
		return fmt.Errorf("code delimiters %q, want %q in %q", got.backticks, want.backticks, s)
	case !slices.Equal(got.autolinks, want.autolinks):
		return fmt.Errorf("mentions, channels or links in plain text: got %q, want %q", got.autolinks, want.autolinks)
	}
	return nil
}
