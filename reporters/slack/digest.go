package slack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/reporters"
)

// Digest posts one message per scan run listing every workspace whose
// state changed, instead of one message per workspace.
type Digest struct {
	poster
	state reporters.State
}

var _ reporters.BatchReporter = (*Digest)(nil)

// NewDigest returns a digest reporter keeping its bookkeeping in state.
func NewDigest(cfg Config, logger *slog.Logger, state reporters.State) (*Digest, error) {
	p, err := newPoster(cfg, logger)
	if err != nil {
		return nil, err
	}
	return &Digest{poster: p, state: state}, nil
}

// Report implements reporters.Reporter: a run of one workspace.
func (d *Digest) Report(ctx context.Context, cur, prev *drift.Report) (bool, error) {
	return d.ReportBatch(ctx, []reporters.Delivery{{Cur: cur, Prev: prev, Links: reporters.LinksFrom(ctx)}})
}

type digestEntry struct {
	d    reporters.Delivery
	kind reporters.Kind
	bk   bookkeeping
}

// ReportBatch implements reporters.BatchReporter.
func (d *Digest) ReportBatch(ctx context.Context, ds []reporters.Delivery) (bool, error) {
	var all, notify []digestEntry
	for _, dl := range ds {
		bk, prev, err := load(ctx, d.state, d.cfg.Name, dl.Cur, dl.Prev)
		if err != nil {
			return true, err
		}
		e := digestEntry{d: dl, kind: reporters.Transition(dl.Cur, prev), bk: bk}
		all = append(all, e)
		if d.cfg.Notify.Wants(e.kind) {
			notify = append(notify, e)
		}
	}
	if len(notify) > 0 {
		if _, err := d.send(ctx, digestMessage(notify, len(ds), d.cfg.Shard), ""); err != nil {
			return d.classify(err)
		}
		d.logger.LogAttrs(ctx, slog.LevelInfo, "slack digest sent", slog.String("reporter", d.cfg.Name), slog.Int("workspaces", len(notify)))
	}
	for _, e := range all {
		e.bk.Bookmark = e.bk.Advance(e.d.Cur)
		e.bk.ThreadTS = ""
		if err := reporters.SaveJSON(ctx, d.state, e.d.Cur.Workspace, d.cfg.Name, e.bk); err != nil {
			return false, err
		}
	}
	return false, nil
}

// digestMessage lists each workspace's transition in a section of its own,
// within Block Kit's limits.
func digestMessage(es []digestEntry, scanned int, shard string) Msg {
	counts := map[reporters.Kind]int{}
	for _, e := range es {
		counts[e.kind]++
	}
	var parts []string
	for _, k := range []reporters.Kind{reporters.New, reporters.Changed, reporters.Resolved, reporters.Error, reporters.Recovered} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], strings.ReplaceAll(k.String(), "_", " ")))
		}
	}
	title := "Drift scan"
	if shard != "" {
		title += " (shard " + shard + ")"
	}
	title += fmt.Sprintf(": %d of %d workspaces changed", len(es), scanned)
	blocks := []slack.Block{header(":bar_chart: " + title), section(strings.Join(parts, " · "))}
	budget := maxMessageText
	for i, e := range es {
		emoji, head := headline(e.kind, e.d.Cur.Workspace)
		s := emoji + " *" + render.SlackText(head) + "*\n" + render.SlackText(render.Summary(e.d.Cur))
		if l := linkLine(e.d.Links); l != "" {
			s += "\n" + l
		}
		if len(blocks) == MaxBlocks-1 && i < len(es)-1 || len(s) > budget {
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("%s and %d more workspaces", reporters.Ellipsis, len(es)-i))))
			break
		}
		blocks = append(blocks, section(s))
		budget -= len(s)
	}
	return Msg{Text: title + ": " + strings.Join(parts, ", "), Blocks: blocks}
}
