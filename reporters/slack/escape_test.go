package slack

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render/rendertest"
	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/reporters"
)

// mrkdwnText is one mrkdwn text of a message: the notification text, or a
// text object of a block.
type mrkdwnText struct {
	where           string
	text            string
	block, verbatim bool
}

// mrkdwnTexts lists the mrkdwn of every message the reporters send for
// the reports in stands for, in order.
func mrkdwnTexts(t *testing.T, in rendertest.Input) []mrkdwnText {
	t.Helper()
	links := reporters.Links{"github": "https://github.example/o/r/issues/1"}
	rs := in.Reports()
	// What was told before: the address drifted otherwise, and another
	// one, gone now.
	prev := &drift.Report{Status: drift.StatusDrifted, Fingerprint: "fedcba9876543210", Drift: []drift.ResourceChange{
		{Address: in.Address, Action: drift.ActionDelete}, {Address: "gone." + in.Address},
	}}
	first := time.Date(2026, 2, 26, 2, 0, 0, 0, time.UTC)
	msgs := map[string]Msg{}
	for _, kind := range []reporters.Kind{reporters.New, reporters.Changed, reporters.Resolved} {
		msgs[kind.String()] = Message(reporters.Notification{Kind: kind, Cur: rs[0], Prev: prev, FirstSeen: first, Links: links}, nil)
	}
	msgs["error"] = Message(reporters.Notification{Kind: reporters.Error, Cur: rs[1], Links: links}, nil)
	d := &Digest{poster: poster{cfg: Config{Shard: "1/2"}}}
	msgs["digest"] = d.message([]reporters.Notification{
		{Kind: reporters.New, Cur: rs[0], Links: links},
		{Kind: reporters.Changed, Cur: rs[0], Prev: prev, Links: links},
		{Kind: reporters.Error, Cur: rs[1], Links: links},
	}, 3)
	var out []mrkdwnText
	for _, name := range []string{"new", "changed", "resolved", "error", "digest"} {
		m := msgs[name]
		out = append(out, mrkdwnText{where: name + " text", text: m.Text})
		b, err := json.Marshal(m.Blocks)
		if err != nil {
			t.Fatal(err)
		}
		var blocks any
		if err := json.Unmarshal(b, &blocks); err != nil {
			t.Fatal(err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if v["type"] == "mrkdwn" {
					verbatim, _ := v["verbatim"].(bool)
					out = append(out, mrkdwnText{fmt.Sprintf("%s block %d", name, len(out)), v["text"].(string), true, verbatim})
					return
				}
				for _, k := range []string{"text", "elements", "fields"} {
					walk(v[k])
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(blocks)
	}
	return out
}

func checkSlackMessages(t *testing.T, in rendertest.Input) {
	t.Helper()
	got, ref := mrkdwnTexts(t, in), mrkdwnTexts(t, in.Harmless())
	if len(got) != len(ref) {
		t.Fatalf("%d mrkdwn texts, want %d", len(got), len(ref))
	}
	for i, m := range got {
		if m.where != ref[i].where {
			t.Fatalf("text %d is %s, want %s", i, m.where, ref[i].where)
		}
		if m.block && !m.verbatim {
			t.Errorf("%s is not verbatim: Slack would make links and mentions of its plain text", m.where)
		}
		if err := rendertest.CheckSlack(m.text, ref[i].text); err != nil {
			t.Fatalf("%s: %v", m.where, err)
		}
	}
}

// FuzzSlackMessage: strings are capped so that messages are not cut
// (the reference, short, never is); SlackCodeBlock's cut is tested in
// drift/render.
func FuzzSlackMessage(f *testing.F) {
	rendertest.Fuzz(f, func(t *testing.T, in rendertest.Input) {
		for _, s := range []*string{&in.Workspace, &in.Address, &in.Path, &in.Before, &in.After, &in.Error} {
			*s, _ = reporters.TruncateBytes(*s, 256)
		}
		checkSlackMessages(t, in)
	})
}

// TestHostileSlackMessage: the notification text used to carry a scan
// error's first line raw (<!channel> pinged everyone), and block texts
// were not verbatim, so Slack made links and mentions of plain text.
func TestHostileSlackMessage(t *testing.T) {
	injected := reliability.Times(t, "escaping", "hostile text (backticks, mentions, issue references, links, HTML, markdown, Slack controls, terminal escapes, invalid UTF-8) in every text field of a report, written into every kind of Slack message",
		"every text escaped and every block verbatim: no mention (<!channel>), link or entity made")
	for _, s := range rendertest.Hostile {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			checkSlackMessages(t, rendertest.HostileInput(s))
			injected.Add(1)
		})
	}
}
