// Package slack tells a Slack channel about drift transitions (new,
// changed, resolved, scan failed; each configurable) through an incoming
// webhook or a bot token. With a token, a workspace's later messages are
// replies in the thread its drift started. Repeats are never sent: the
// last state delivered is kept in reporters.State.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

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
	state reporters.State
}

var (
	_ reporters.Reporter  = (*Reporter)(nil)
	_ reporters.Timeouter = (*Reporter)(nil)
)

// poster is what Reporter and Digest share: config, sending, errors.
type poster struct {
	cfg    Config
	logger *slog.Logger
	http   *http.Client
	api    *slack.Client
}

// New returns a reporter keeping its bookkeeping in state.
func New(cfg Config, logger *slog.Logger, state reporters.State) (*Reporter, error) {
	p, err := newPoster(cfg, logger)
	if err != nil {
		return nil, err
	}
	return &Reporter{poster: p, state: state}, nil
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

// bookkeeping is what the reporter keeps per workspace.
type bookkeeping struct {
	reporters.Bookmark
	// ThreadTS is the message the workspace's current drift started (token
	// mode); later messages reply to it.
	ThreadTS string `json:"thread_ts,omitempty"`
}

// load returns the bookkeeping and the previous report to classify
// against: the last one delivered when known (so a restart does not notify
// twice), else prev.
func load(ctx context.Context, st reporters.State, name string, cur, prev *drift.Report) (bookkeeping, *drift.Report, error) {
	var bk bookkeeping
	found, err := reporters.LoadJSON(ctx, st, cur.Workspace, name, &bk)
	if err != nil {
		return bk, nil, err
	}
	if found {
		return bk, bk.Report(cur.Workspace), nil
	}
	if prev != nil {
		bk.Bookmark = reporters.Bookmark{Status: prev.Status, Fingerprint: prev.Fingerprint}
	}
	return bk, prev, nil
}

// Report implements reporters.Reporter.
func (r *Reporter) Report(ctx context.Context, cur, prev *drift.Report) (bool, error) {
	bk, effPrev, err := load(ctx, r.state, r.cfg.Name, cur, prev)
	if err != nil {
		return true, err
	}
	kind := reporters.Transition(cur, effPrev)
	if r.cfg.Notify.Wants(kind) {
		msg := Message(cur, kind, reporters.LinksFrom(ctx))
		thread := bk.ThreadTS
		if kind == reporters.New {
			thread = ""
		}
		ts, err := r.send(ctx, msg, thread)
		if err != nil {
			return r.classify(err)
		}
		if thread == "" {
			bk.ThreadTS = ts
		}
		r.logger.LogAttrs(ctx, slog.LevelInfo, "slack message sent", slog.String("reporter", r.cfg.Name),
			slog.String("workspace", cur.Workspace), slog.String("kind", kind.String()))
	}
	if kind == reporters.Resolved || cur.Status == drift.StatusClean {
		bk.ThreadTS = "" // the next drift starts a new thread
	}
	bk.Bookmark = bk.Advance(cur)
	if err := reporters.SaveJSON(ctx, r.state, cur.Workspace, r.cfg.Name, bk); err != nil {
		// Sent but not recorded: a retry would send it again.
		return false, err
	}
	return false, nil
}

// Msg is a Slack message: blocks and the fallback text notifications show.
type Msg struct {
	Text   string
	Blocks []slack.Block
}

// send posts msg (in thread, if set and the API is used) and returns the
// new message's ts ("" for webhooks, which have none).
func (p *poster) send(ctx context.Context, msg Msg, thread string) (string, error) {
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
	_, ts, err := p.api.PostMessageContext(ctx, p.cfg.Channel, opts...)
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

func headline(kind reporters.Kind, workspace string) (emoji, title string) {
	h, ok := headlines[kind]
	if !ok {
		h = [2]string{":memo:", "Drift report for %s"}
	}
	return h[0], fmt.Sprintf(h[1], workspace)
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

// Message builds the message for one workspace's transition: a header, the
// facts, a link to the issue, then the drifted resources with their
// changed attributes, cut to Block Kit's limits with a count of what was
// left out.
func Message(cur *drift.Report, kind reporters.Kind, links reporters.Links) Msg {
	emoji, title := headline(kind, cur.Workspace)
	facts := []string{"*Workspace:* " + render.SlackCode(cur.Workspace), "*Status:* " + render.SlackText(render.Summary(cur))}
	if !cur.StartedAt.IsZero() {
		facts = append(facts, "*Scanned:* "+cur.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if cur.Commit != "" {
		facts = append(facts, "*Commit:* "+render.SlackCode(render.ShortCommit(cur.Commit)))
	}
	if l := linkLine(links); l != "" {
		facts = append(facts, l)
	}
	blocks := []slack.Block{header(emoji + " " + title), section(strings.Join(facts, "\n"))}
	// The notification text is mrkdwn too, and never verbatim.
	text, _ := reporters.Truncate(title+": "+render.Summary(cur), MaxSectionText)
	text = render.SlackText(text)

	switch {
	case cur.Status == drift.StatusError:
		blocks = append(blocks, section(render.SlackCodeBlock(strings.TrimSpace(cur.Error), MaxSectionText)))
	case cur.Status == drift.StatusDrifted && (kind == reporters.New || kind == reporters.Changed):
		blocks = append(blocks, resourceBlocks(cur.Drift, MaxBlocks-len(blocks))...)
	}
	return Msg{Text: text, Blocks: blocks}
}

// resourceBlocks renders resources into at most room blocks and
// maxMessageText characters, the last block saying how many were left out.
func resourceBlocks(rs []drift.ResourceChange, room int) []slack.Block {
	var out []slack.Block
	budget := maxMessageText
	for i, rc := range rs {
		s := resourceText(rc)
		n := len([]rune(s))
		if len(out) == room-1 && i < len(rs)-1 || n > budget && i > 0 {
			out = append(out, slack.NewContextBlock("", mrkdwn(reporters.MoreResources(len(rs)-i))))
			return out
		}
		out = append(out, section(s))
		budget -= min(n, MaxSectionText)
	}
	return out
}

func resourceText(rc drift.ResourceChange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* %s", render.SlackCode(rc.Address), verb(rc.Action))
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

func verb(a drift.Action) string {
	switch a {
	case drift.ActionDelete:
		return "deleted outside Terraform"
	case drift.ActionCreate:
		return "created outside Terraform"
	case drift.ActionReplace:
		return "replaced outside Terraform"
	default:
		return "changed outside Terraform"
	}
}
