// Package slack tells a Slack channel about drift transitions (new,
// changed, resolved, scan failed; each configurable) through an incoming
// webhook or a bot token. With a token, a workspace's later messages are
// replies in the thread its drift started, and owners can be routed to
// channels of their own. Owners map to Slack mentions. What was told (and
// the thread) is kept by the reporters.Dispatcher, which decides what is
// owed; this package only sends.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/reporters"
)

// Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
const (
	MaxBlocks      = 50   // blocks per message
	MaxSectionText = 3000 // characters in a section's text
	MaxHeaderText  = 150  // characters in a header's plain text
	// maxMessageText is driftd's own budget for all the text in one
	// message: Slack rejects messages well under its documented 40,000
	// characters with msg_blocks_too_long (slackapi/bolt-js#2509).
	maxMessageText = 11000
	// maxAttributes is how many attributes a resource shows.
	maxAttributes = 10
)

// Config configures the reporter. Set WebhookURL, or Token and Channel.
type Config struct {
	// Name tells reporters apart in logs and bookkeeping; default "slack".
	Name       string
	WebhookURL string
	Token      string
	Channel    string
	// APIURL is the Web API base URL; default Slack's.
	APIURL string
	Notify reporters.Notify
	// Owners maps workspace owners (GitHub logins, org/team) to a Slack
	// mention ("<@U123>", "<!subteam^S123>") or, with a token, a channel
	// ("#team-drift", "C0123") their workspaces' messages go to.
	Owners map[string]string
	// Timeout bounds one delivery attempt; zero keeps the Dispatcher's.
	Timeout time.Duration
	// HTTPClient is the client to use; nil means a new default client.
	HTTPClient *http.Client
	// Shard ("2/8") is named in a digest's title when the run scanned one
	// shard, so that each shard's digest says whose it is.
	Shard string
}

// Reporter posts one message per transition.
type Reporter struct {
	poster
}

var (
	_ reporters.Reporter  = (*Reporter)(nil)
	_ reporters.Filter    = (*Reporter)(nil)
	_ reporters.Timeouter = (*Reporter)(nil)
)

// poster is what Reporter and Digest share: config, sending, errors.
type poster struct {
	cfg    Config
	logger *slog.Logger
	http   *http.Client
	api    *slack.Client
}

// New returns a reporter.
func New(cfg Config, logger *slog.Logger) (*Reporter, error) {
	p, err := newPoster(cfg, logger)
	if err != nil {
		return nil, err
	}
	return &Reporter{poster: p}, nil
}

func newPoster(cfg Config, logger *slog.Logger) (poster, error) {
	if cfg.Name == "" {
		cfg.Name = "slack"
	}
	switch {
	case cfg.WebhookURL != "" && cfg.Token != "":
		return poster{}, fmt.Errorf("%s: set webhook_url or token, not both", cfg.Name)
	case cfg.WebhookURL != "":
		if u, err := url.Parse(cfg.WebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			// The URL is a secret: never repeat it.
			return poster{}, fmt.Errorf("%s: webhook_url is not an http(s) URL", cfg.Name)
		}
	case cfg.Token != "":
		if cfg.Channel == "" {
			return poster{}, fmt.Errorf("%s: a token needs a channel", cfg.Name)
		}
	default:
		return poster{}, fmt.Errorf("%s: set webhook_url, or token and channel", cfg.Name)
	}
	for owner, to := range cfg.Owners {
		switch kind, ok := Target(to); {
		case !ok:
			return poster{}, fmt.Errorf("%s: owners[%s]: %q is neither a mention (<@U…>, <!subteam^S…>) nor a channel (#name, C…)", cfg.Name, owner, to)
		case kind == TargetChannel && cfg.Token == "":
			return poster{}, fmt.Errorf("%s: owners[%s]: a channel needs a bot token (a webhook posts to its own channel)", cfg.Name, owner)
		}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	p := poster{cfg: cfg, logger: logger, http: hc}
	if cfg.Token != "" {
		opts := []slack.Option{slack.OptionHTTPClient(hc)}
		if cfg.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
		}
		p.api = slack.New(cfg.Token, opts...)
	}
	return p, nil
}

// Name implements reporters.Reporter.
func (p *poster) Name() string { return p.cfg.Name }

// Timeout implements reporters.Timeouter.
func (p *poster) Timeout() time.Duration { return p.cfg.Timeout }

// Wants implements reporters.Filter.
func (p *poster) Wants(k reporters.Kind) bool { return p.cfg.Notify.Wants(k) }

// Notify implements reporters.Reporter. A message about drift already told
// replies in the thread its first message started, when that was in the
// channel the workspace's messages go to now.
func (r *Reporter) Notify(ctx context.Context, n reporters.Notification) (reporters.Receipt, bool, error) {
	channel := r.channel(n.Cur.Owners)
	thread := ""
	if n.Kind != reporters.New && (n.Thread.Channel == "" || n.Thread.Channel == channel) {
		thread = n.Thread.TS
	}
	ts, err := r.send(ctx, Message(n, r.cfg.Owners), channel, thread)
	if err != nil {
		retry, err := r.classify(err)
		return reporters.Receipt{}, retry, err
	}
	r.logger.LogAttrs(ctx, slog.LevelInfo, "slack message sent", slog.String("reporter", r.cfg.Name),
		slog.String("workspace", n.Cur.Workspace), slog.String("kind", n.Kind.String()), slog.Bool("reply", thread != ""))
	rc := reporters.Receipt{Sent: true}
	if thread == "" && ts != "" {
		rc.Thread = reporters.Thread{TS: ts, Channel: channel}
	}
	return rc, false, nil
}

// channel is where a workspace's messages go: its first owner's channel,
// else the configured one ("" for a webhook).
func (p *poster) channel(owners []string) string {
	for _, o := range owners {
		if to := p.cfg.Owners[o]; to != "" {
			if k, _ := Target(to); k == TargetChannel {
				return to
			}
		}
	}
	return p.cfg.Channel
}

// Msg is a Slack message: blocks and the fallback text notifications show.
type Msg struct {
	Text   string
	Blocks []slack.Block
}

// send posts msg to channel (in thread, if set and the API is used) and
// returns the new message's ts ("" for webhooks, which have none).
func (p *poster) send(ctx context.Context, msg Msg, channel, thread string) (string, error) {
	if p.api == nil {
		err := slack.PostWebhookCustomHTTPContext(ctx, p.cfg.WebhookURL, p.http, &slack.WebhookMessage{
			Text: msg.Text, Blocks: &slack.Blocks{BlockSet: msg.Blocks},
		})
		return "", err
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(msg.Text, false),
		slack.MsgOptionBlocks(msg.Blocks...),
		slack.MsgOptionDisableLinkUnfurl(),
	}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, ts, err := p.api.PostMessageContext(ctx, channel, opts...)
	return ts, err
}

// classify says whether a failure may pass, with Slack's requested delay,
// in an error that names neither the token nor the webhook URL.
func (p *poster) classify(err error) (bool, error) {
	name := p.cfg.Name
	redact := func(retry bool, e error) (bool, error) {
		return retry, reporters.Redact(e, p.cfg.WebhookURL, p.cfg.Token)
	}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		retry, e := redact(true, fmt.Errorf("%s: rate limited, retry after %s: %w", name, rl.RetryAfter, err))
		return retry, reporters.WithRetryAfter(e, rl.RetryAfter)
	case errors.As(err, &sc):
		switch {
		case sc.Code == http.StatusTooManyRequests || sc.Code >= 500:
			return redact(true, fmt.Errorf("%s: Slack answered %d: %w", name, sc.Code, err))
		case p.api == nil && (sc.Code == http.StatusNotFound || sc.Code == http.StatusForbidden || sc.Code == http.StatusGone):
			return redact(false, fmt.Errorf("%s: Slack refused the webhook (%d): it was revoked or its URL is wrong", name, sc.Code))
		default:
			return redact(false, fmt.Errorf("%s: Slack answered %d: %w", name, sc.Code, err))
		}
	case errors.As(err, &se):
		hint := ""
		retry := false
		switch se.Err {
		case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
			hint = ": the bot token is invalid or revoked"
		case "channel_not_found", "not_in_channel":
			hint = fmt.Sprintf(": invite the bot to channel %s", p.cfg.Channel)
		case "missing_scope":
			hint = ": the bot token needs the chat:write scope"
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			retry = true
		}
		return redact(retry, fmt.Errorf("%s: chat.postMessage failed: %s%s", name, se.Err, hint))
	case errors.Is(err, context.Canceled):
		return redact(false, fmt.Errorf("%s: %w", name, err))
	default:
		return redact(true, fmt.Errorf("%s: %w", name, err))
	}
}

// headlines are the emoji and the title (a format taking the workspace)
// of each kind's message.
var headlines = map[reporters.Kind][2]string{
	reporters.New:       {":warning:", "Drift detected in %s"},
	reporters.Changed:   {":arrows_counterclockwise:", "Drift changed in %s"},
	reporters.Resolved:  {":white_check_mark:", "Drift resolved in %s"},
	reporters.Error:     {":x:", "Drift scan failed for %s"},
	reporters.Recovered: {":white_check_mark:", "Drift scan of %s works again"},
}

// backHeadline is drift again after it was resolved: not a first alert.
var backHeadline = [2]string{":repeat:", "Drift is back in %s"}

func headline(n reporters.Notification) (emoji, title string) {
	h, ok := headlines[n.Kind]
	if n.Back() {
		h, ok = backHeadline, true
	}
	if !ok {
		h = [2]string{":memo:", "Drift report for %s"}
	}
	return h[0], fmt.Sprintf(h[1], n.Cur.Workspace)
}

// TargetKind says what an owners entry maps to.
type TargetKind int

const (
	TargetMention TargetKind = iota + 1
	TargetChannel
)

var (
	mentionRE = regexp.MustCompile(`^(<@[UW][A-Z0-9]+>|<!subteam\^S[A-Z0-9]+>)$`)
	channelRE = regexp.MustCompile(`^(#[a-z0-9][a-z0-9._-]*|[CG][A-Z0-9]+)$`)
)

// Target classifies an owners value: a user or user group mention, or a
// channel (by name or ID); false when it is neither.
func Target(s string) (TargetKind, bool) {
	switch {
	case mentionRE.MatchString(s):
		return TargetMention, true
	case channelRE.MatchString(s):
		return TargetChannel, true
	}
	return 0, false
}

// ownerList is how a message names the workspace's owners: the Slack
// mention an owner maps to, else the owner's name. Mentions notify, so a
// message that needs no one's attention (drift resolved, the scan works
// again) names every owner (ping false). mentionsOnly leaves out owners
// without a mention.
func ownerList(owners []string, mapping map[string]string, ping, mentionsOnly bool) string {
	var parts []string
	for _, o := range owners {
		to := mapping[o]
		if k, _ := Target(to); ping && k == TargetMention {
			parts = append(parts, to)
		} else if !mentionsOnly {
			parts = append(parts, render.SlackText(o))
		}
	}
	return strings.Join(parts, ", ")
}

// pings reports whether a notification of kind calls for the owners.
func pings(k reporters.Kind) bool {
	return k == reporters.New || k == reporters.Changed || k == reporters.Error
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

// mrkdwn is a verbatim mrkdwn text object: Slack makes links, channel
// names and mentions only of driftd's own <…> sequences, never of plain
// text found in a report.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// section is a mrkdwn section cut to Slack's limit.
func section(s string) *slack.SectionBlock {
	s, _ = reporters.Truncate(s, MaxSectionText)
	return slack.NewSectionBlock(mrkdwn(s), nil, nil)
}

func header(s string) *slack.HeaderBlock {
	s, _ = reporters.Truncate(s, MaxHeaderText)
	return slack.NewHeaderBlock(plain(s))
}

func linkLine(links reporters.Links) string {
	var names []string
	for n := range links {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		label := "View on " + n
		if n == "github" {
			label = "GitHub issue"
		}
		// A URL cannot hold a raw "|" or ">" here; percent-encode them.
		u := strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C").Replace(links[n])
		parts = append(parts, "<"+u+"|"+label+">")
	}
	return strings.Join(parts, " · ")
}

const timeFormat = "2006-01-02 15:04 UTC"

func stamp(t time.Time) string { return t.UTC().Format(timeFormat) }

// Message builds the message for one workspace's notification: a header,
// the facts (owners mentioned, first seen, the issue link), then what the
// reader needs: the drifted resources for new drift, what changed for
// changed drift, the error for a failed scan. It is cut to Block Kit's
// limits with a count of what was left out.
func Message(n reporters.Notification, owners map[string]string) Msg {
	cur := n.Cur
	emoji, title := headline(n)
	facts := []string{"*Workspace:* " + render.SlackCode(cur.Workspace), "*Status:* " + render.SlackText(render.Summary(cur))}
	switch {
	case n.FirstSeen.IsZero():
	case !n.Resolved.IsZero():
		facts = append(facts, "*Drifted for:* "+reporters.Lasted(n.Resolved.Sub(n.FirstSeen))+" (since "+stamp(n.FirstSeen)+")")
	case cur.Status == drift.StatusDrifted:
		facts = append(facts, "*First seen:* "+stamp(n.FirstSeen))
	default: // a failed scan, of a workspace with drift
		facts = append(facts, "*Drift first seen:* "+stamp(n.FirstSeen))
	}
	if n.Back() {
		facts = append(facts, "*Last resolved:* "+stamp(n.Before))
	}
	if !cur.StartedAt.IsZero() {
		facts = append(facts, "*Scanned:* "+stamp(cur.StartedAt))
	}
	if cur.Commit != "" {
		facts = append(facts, "*Commit:* "+render.SlackCode(render.ShortCommit(cur.Commit)))
	}
	if who := ownerList(cur.Owners, owners, pings(n.Kind), false); who != "" {
		facts = append(facts, "*Owners:* "+who)
	}
	if l := linkLine(n.Links); l != "" {
		facts = append(facts, l)
	}
	blocks := []slack.Block{header(emoji + " " + title), section(strings.Join(facts, "\n"))}
	// The notification text is mrkdwn too, and never verbatim: the report's
	// text is escaped; the owners' mentions are meant to notify.
	mentions := ownerList(cur.Owners, owners, pings(n.Kind), true)
	text, _ := reporters.Truncate(title+": "+render.Summary(cur), MaxSectionText-len(mentions)-1)
	text = render.SlackText(text)
	if mentions != "" {
		text += " " + mentions
	}

	room := MaxBlocks - len(blocks)
	switch {
	case cur.Status == drift.StatusError:
		blocks = append(blocks, section(render.SlackCodeBlock(strings.TrimSpace(cur.Error), MaxSectionText)))
	case cur.Status != drift.StatusDrifted:
	case n.Kind == reporters.Changed:
		blocks = append(blocks, fit(changeItems(n.Changes(), cur), room)...)
	case n.Kind == reporters.New:
		blocks = append(blocks, fit(resourceItems(cur.Drift), room)...)
	}
	return Msg{Text: text, Blocks: blocks}
}

// item is one section of a message's body; resources counts the resources
// it shows, for the "… and N more" line when the rest is cut.
type item struct {
	text      string
	resources int
}

func resourceItems(rs []drift.ResourceChange) []item {
	out := make([]item, len(rs))
	for i, rc := range rs {
		out[i] = item{text: resourceText(rc), resources: 1}
	}
	return out
}

// changeItems lists what changed: newly drifted resources with their
// attributes, resources drifted differently with what each attribute
// showed before, and those no longer drifted. When what was told before is
// not known, the drift as it is now.
func changeItems(c reporters.Changes, cur *drift.Report) []item {
	if !c.Known {
		return append([]item{{text: "_What changed since the last message is not known; the drift now:_"}}, resourceItems(cur.Drift)...)
	}
	var out []item
	if len(c.Added) > 0 {
		out = append(out, item{text: fmt.Sprintf("*Newly drifted (%d)*", len(c.Added))})
		out = append(out, resourceItems(c.Added)...)
	}
	if len(c.Modified) > 0 {
		out = append(out, item{text: fmt.Sprintf("*Drifted differently (%d)*", len(c.Modified))})
		for _, m := range c.Modified {
			out = append(out, item{text: modifiedText(m), resources: 1})
		}
	}
	if len(c.Removed) > 0 {
		lines := []string{fmt.Sprintf("*No longer drifted (%d)*", len(c.Removed))}
		for _, rc := range c.Removed {
			lines = append(lines, "• "+render.SlackCode(rc.Address))
		}
		out = append(out, item{text: strings.Join(lines, "\n"), resources: len(c.Removed)})
	}
	return out
}

// modifiedText shows a resource drifted differently: each attribute as it
// is now, with what it showed before.
func modifiedText(m reporters.Modified) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*", render.SlackCode(m.Address))
	if m.Action != "" {
		fmt.Fprintf(&b, " now %s (was %s)", reporters.DriftVerb(m.Action), strings.TrimSuffix(reporters.DriftVerb(m.WasAction), " outside Terraform"))
	}
	var lines []string
	for i, a := range m.Attributes {
		if i == maxAttributes {
			lines = append(lines, fmt.Sprintf("%s and %d more attributes", reporters.Ellipsis, len(m.Attributes)-i))
			break
		}
		line := render.AttributeLine(a)
		if was := m.Was[i]; was != nil {
			line += "   (before: " + strings.TrimPrefix(render.AttributeLine(*was), was.Path+": ") + ")"
		} else {
			line += "   (newly drifted)"
		}
		lines = append(lines, line)
	}
	for _, p := range m.Gone {
		lines = append(lines, p+": no longer drifted")
	}
	if len(lines) > 0 {
		b.WriteString("\n")
		b.WriteString(render.SlackCodeBlock(strings.Join(lines, "\n"), MaxSectionText-b.Len()))
	}
	return b.String()
}

// fit turns items into at most room blocks and maxMessageText characters,
// the last block saying how many resources were left out.
func fit(items []item, room int) []slack.Block {
	var out []slack.Block
	budget := maxMessageText
	for i, it := range items {
		n := utf8.RuneCountInString(it.text)
		if len(out) == room-1 && i < len(items)-1 || n > budget && i > 0 {
			left := 0
			for _, rest := range items[i:] {
				left += rest.resources
			}
			out = append(out, slack.NewContextBlock("", mrkdwn(reporters.MoreResources(left))))
			return out
		}
		out = append(out, section(it.text))
		budget -= min(n, MaxSectionText)
	}
	return out
}
func resourceText(rc drift.ResourceChange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* %s", render.SlackCode(rc.Address), reporters.DriftVerb(rc.Action))
	attrs := rc.Attributes
	if len(attrs) > maxAttributes {
		attrs = attrs[:maxAttributes]
	}
	var lines []string
	for _, a := range attrs {
		lines = append(lines, render.AttributeLine(a))
	}
	if extra := len(rc.Attributes) - len(attrs); extra > 0 {
		lines = append(lines, fmt.Sprintf("%s and %d more attributes", reporters.Ellipsis, extra))
	}
	if len(lines) > 0 {
		b.WriteString("\n")
		b.WriteString(render.SlackCodeBlock(strings.Join(lines, "\n"), MaxSectionText-b.Len()))
	}
	return b.String()
}
