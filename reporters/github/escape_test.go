package github

import (
	"fmt"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render/rendertest"
	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/reporters"
)

// issueMarkdown is every piece of markdown the reporter writes for the
// reports in stands for: issue bodies, comments, summary lines.
func issueMarkdown(in rendertest.Input) map[string]string {
	rs := in.Reports()
	cur, failed := rs[0], rs[1]
	prev := &drift.Report{Status: drift.StatusDrifted, Fingerprint: "fedcba9876543210", Drift: []drift.ResourceChange{
		{Address: in.Address}, {Address: "gone." + in.Address},
	}}
	ghPrev := &drift.Report{Status: drift.StatusDrifted, Fingerprint: prev.Fingerprint}
	return map[string]string{
		"body":           issueBody(cur, markerFor(cur, marker{}, time.Date(2026, 2, 26, 2, 0, 0, 0, time.UTC))),
		"failed body":    issueBody(failed, markerFor(failed, marker{Fingerprint: prev.Fingerprint}, time.Time{})),
		"change comment": changeComment(reporters.Notification{Kind: reporters.Changed, Cur: cur, Prev: prev}, ghPrev),
		"failed comment": failedComment(failed),
		"summary":        summaryLine(cur),
		"failed summary": summaryLine(failed),
	}
}

func checkIssueMarkdown(t *testing.T, in rendertest.Input) {
	t.Helper()
	ref := issueMarkdown(in.Harmless())
	for name, md := range issueMarkdown(in) {
		if err := rendertest.CheckMarkdown(md, ref[name]); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, md)
		}
	}
}

func FuzzIssueMarkdown(f *testing.F) { rendertest.Fuzz(f, checkIssueMarkdown) }

// TestHostileIssueMarkdown: a backtick in a resource address used to end
// its code span in the "drift changed" comment, making live mentions,
// references and links of the rest; a scan error's first line was raw
// markdown in the facts line and the summary.
func TestHostileIssueMarkdown(t *testing.T) {
	injected := reliability.Times(t, "escaping", "hostile text (backticks, mentions, issue references, links, HTML, markdown, Slack controls, terminal escapes, invalid UTF-8) in every text field of a report, written into GitHub issue bodies, comments and summaries",
		"each parses to the same markdown structure as harmless text: no code span ended, no mention, reference, link or HTML made")
	for _, s := range rendertest.Hostile {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			checkIssueMarkdown(t, rendertest.HostileInput(s))
			injected.Add(1)
		})
	}
}
