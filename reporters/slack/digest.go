package slack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"

	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/reporters"
)

// Digest posts one message per scan run listing every workspace whose
// state changed, instead of one message per workspace.
type Digest struct {
	poster
}

var (
	_ reporters.BatchReporter = (*Digest)(nil)
	_ reporters.Filter        = (*Digest)(nil)
)

// NewDigest returns a digest reporter. A digest goes to one channel, so
// owners may map only to mentions.
func NewDigest(cfg Config, logger *slog.Logger) (*Digest, error) {
	p, err := newPoster(cfg, logger)
	if err != nil {
		return nil, err
	}
	for owner, to := range cfg.Owners {
		if k, _ := Target(to); k == TargetChannel {
			return nil, fmt.Errorf("%s: owners[%s]: a digest goes to one channel; map owners to mentions only", p.cfg.Name, owner)
		}
	}
	return &Digest{poster: p}, nil
}

// Notify implements reporters.Reporter: a run of one workspace.
func (d *Digest) Notify(ctx context.Context, n reporters.Notification) (reporters.Receipt, bool, error) {
	return d.NotifyBatch(ctx, []reporters.Notification{n}, 1)
}

// NotifyBatch implements reporters.BatchReporter.
func (d *Digest) NotifyBatch(ctx context.Context, ns []reporters.Notification, scanned int) (reporters.Receipt, bool, error) {
	if _, err := d.send(ctx, d.message(ns, scanned), d.cfg.Channel, ""); err != nil {
		retry, err := d.classify(err)
		return reporters.Receipt{}, retry, err
	}
	d.logger.LogAttrs(ctx, slog.LevelInfo, "slack digest sent", slog.String("reporter", d.cfg.Name), slog.Int("workspaces", len(ns)))
	return reporters.Receipt{Sent: true}, false, nil
}

// digestKinds orders a digest's counts.
var digestKinds = []reporters.Kind{reporters.New, reporters.Changed, reporters.Resolved, reporters.Error, reporters.Recovered}

// message lists each workspace's notification in a section of its own,
// within Block Kit's limits; scanned is how many workspaces the run
// scanned.
func (d *Digest) message(ns []reporters.Notification, scanned int) Msg {
	counts := map[reporters.Kind]int{}
	back := 0
	for _, n := range ns {
		if n.Back() {
			back++ // counted as back, not new
		} else {
			counts[n.Kind]++
		}
	}
	var parts []string
	for _, k := range digestKinds {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], strings.ReplaceAll(k.String(), "_", " ")))
		}
	}
	if back > 0 {
		parts = append(parts, fmt.Sprintf("%d back", back))
	}
	title := "Drift scan"
	if d.cfg.Shard != "" {
		title += " (shard " + d.cfg.Shard + ")"
	}
	title += fmt.Sprintf(": %d of %d workspaces changed", len(ns), scanned)
	blocks := []slack.Block{header(":bar_chart: " + title), section(strings.Join(parts, " · "))}
	budget := maxMessageText
	for i, n := range ns {
		emoji, head := headline(n)
		lines := []string{emoji + " *" + render.SlackText(head) + "*", render.SlackText(render.Summary(n.Cur))}
		if c := n.Changes(); n.Kind == reporters.Changed && c.Known {
			lines = append(lines, changeCounts(c))
		}
		switch {
		case n.FirstSeen.IsZero():
		case !n.Resolved.IsZero():
			lines = append(lines, "Drifted for "+reporters.Lasted(n.Resolved.Sub(n.FirstSeen))+" (since "+stamp(n.FirstSeen)+")")
		default:
			lines = append(lines, "First seen "+stamp(n.FirstSeen))
		}
		if who := ownerList(n.Cur.Owners, d.cfg.Owners, pings(n.Kind), false); who != "" {
			lines = append(lines, "Owners: "+who)
		}
		if l := linkLine(n.Links); l != "" {
			lines = append(lines, l)
		}
		s := strings.Join(lines, "\n")
		if len(blocks) == MaxBlocks-1 && i < len(ns)-1 || len(s) > budget {
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("%s and %d more workspaces", reporters.Ellipsis, len(ns)-i))))
			break
		}
		blocks = append(blocks, section(s))
		budget -= len(s)
	}
	return Msg{Text: title + ": " + strings.Join(parts, ", "), Blocks: blocks}
}

// changeCounts sums up a change in one line.
func changeCounts(c reporters.Changes) string {
	var parts []string
	if n := len(c.Added); n > 0 {
		parts = append(parts, fmt.Sprintf("%d newly drifted", n))
	}
	if n := len(c.Modified); n > 0 {
		parts = append(parts, fmt.Sprintf("%d drifted differently", n))
	}
	if n := len(c.Removed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d no longer drifted", n))
	}
	return strings.Join(parts, " · ")
}
