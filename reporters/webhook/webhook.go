// Package webhook POSTs drift transitions as JSON to any URL (PagerDuty,
// Datadog, custom receivers), signed so the receiver can check the sender:
//
//	POST <url>
//	Content-Type: application/json
//	X-Driftd-Event: new
//	X-Driftd-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>
//
//	{"event": "new", "report": {...drift.Report...}, "links": {"github": "..."}}
//
// Events are the reporters.Kind names: new, changed, resolved, error,
// recovered. Repeats are never sent; the Dispatcher decides what is owed.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/reporters"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Driftd-Signature"

// EventHeader carries the event name.
const EventHeader = "X-Driftd-Event"

var defaultName = regexp.MustCompile(`^webhook\[[0-9]+\]$`)

// Config configures one webhook.
type Config struct {
	// Name tells webhooks apart: the reporter is "webhook[Name]" (or Name
	// itself when it already has that form, as config's "webhook[0]").
	Name string
	// URL is where to POST; it may hold a credential, so it is never
	// logged or put in an error.
	URL string
	// Secret keys the HMAC signature; empty means unsigned.
	Secret string
	// Headers are added to every request (e.g. an API key); never logged.
	Headers map[string]string
	Notify  reporters.Notify
	// Timeout bounds one delivery attempt; zero keeps the Dispatcher's.
	Timeout time.Duration
	// HTTPClient is the client to use; nil means a new default client.
	HTTPClient *http.Client
}

// Payload is the JSON body.
type Payload struct {
	Event string `json:"event"`
	// Back marks a "new" event for drift that was resolved before.
	Back bool `json:"back,omitempty"`
	// FirstSeen is when the workspace's current drift was first detected.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	// Changes lists what a "changed" event changed, when known.
	Changes *Changes        `json:"changes,omitempty"`
	Report  *drift.Report   `json:"report"`
	Links   reporters.Links `json:"links,omitempty"`
}

// Changes are the addresses of resources newly drifted, no longer drifted,
// and drifted differently than before.
type Changes struct {
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
}

func payload(n reporters.Notification) Payload {
	p := Payload{Event: n.Kind.String(), Back: n.Back(), FirstSeen: n.FirstSeen, Report: n.Cur, Links: n.Links}
	if c := n.Changes(); n.Kind == reporters.Changed && c.Known {
		p.Changes = &Changes{Added: []string{}, Removed: []string{}, Modified: []string{}}
		for _, rc := range c.Added {
			p.Changes.Added = append(p.Changes.Added, rc.Address)
		}
		for _, rc := range c.Removed {
			p.Changes.Removed = append(p.Changes.Removed, rc.Address)
		}
		for _, m := range c.Modified {
			p.Changes.Modified = append(p.Changes.Modified, m.Address)
		}
	}
	return p
}

// Reporter is a webhook reporter.
type Reporter struct {
	cfg    Config
	name   string
	logger *slog.Logger
	http   *http.Client
}

var (
	_ reporters.Reporter  = (*Reporter)(nil)
	_ reporters.Filter    = (*Reporter)(nil)
	_ reporters.Timeouter = (*Reporter)(nil)
)

// New returns a webhook reporter.
func New(cfg Config, logger *slog.Logger) (*Reporter, error) {
	name := "webhook"
	switch {
	case defaultName.MatchString(cfg.Name): // config's name for unnamed webhooks
		name = cfg.Name
	case cfg.Name != "":
		name = "webhook[" + cfg.Name + "]"
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s: url is not an http(s) URL", name)
	}
	for k := range cfg.Headers {
		if k == "" || http.CanonicalHeaderKey(k) == SignatureHeader {
			return nil, fmt.Errorf("%s: header %q cannot be set", name, k)
		}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Reporter{cfg: cfg, name: name, logger: logger, http: hc}, nil
}

// Name implements reporters.Reporter.
func (r *Reporter) Name() string { return r.name }

// Timeout implements reporters.Timeouter.
func (r *Reporter) Timeout() time.Duration { return r.cfg.Timeout }

// Sign returns the signature header value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in constant
// time: what a receiver does.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(Sign(secret, body)))
}

// Wants implements reporters.Filter.
func (r *Reporter) Wants(k reporters.Kind) bool { return r.cfg.Notify.Wants(k) }

// Notify implements reporters.Reporter.
func (r *Reporter) Notify(ctx context.Context, n reporters.Notification) (reporters.Receipt, bool, error) {
	p := payload(n)
	if retry, err := r.post(ctx, p); err != nil {
		return reporters.Receipt{}, retry, reporters.Redact(err, r.cfg.URL, r.cfg.Secret)
	}
	r.logger.LogAttrs(ctx, slog.LevelInfo, "webhook sent", slog.String("reporter", r.name),
		slog.String("workspace", n.Cur.Workspace), slog.String("event", p.Event))
	return reporters.Receipt{Sent: true}, false, nil
}

func (r *Reporter) post(ctx context.Context, p Payload) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("%s: encode payload: %w", r.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("%s: build request", r.name) // err would repeat the URL
	}
	for k, v := range r.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "driftd")
	req.Header.Set(EventHeader, p.Event)
	if r.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(r.cfg.Secret, body))
	}
	resp, err := r.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may be the credential: drop it
		}
		return !errors.Is(err, context.Canceled), fmt.Errorf("%s: POST failed: %w", r.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusTooManyRequests:
		return true, reporters.WithRetryAfter(fmt.Errorf("%s: receiver answered 429 Too Many Requests", r.name), retryAfter(resp.Header))
	case code >= 500 || code == http.StatusRequestTimeout:
		return true, fmt.Errorf("%s: receiver answered %s", r.name, resp.Status)
	default:
		return false, fmt.Errorf("%s: receiver answered %s", r.name, resp.Status)
	}
}

func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 30 * time.Second
}
