// Package reporters delivers drift reports to the places people read them:
// GitHub issues, Slack, webhooks. It owns what every destination shares: the
// Reporter interface, the classification of a report against the previous
// one (Transition), fan-out with per-delivery timeouts and retries in one
// place (Dispatcher), and rune-safe truncation.
//
// Reporters only ever see drift.Report values, which are already redacted.
package reporters

import (
	"context"
	"sync"
	"time"

	"github.com/driftd/driftd/drift"
)

// Reporter delivers a workspace's report to one destination.
type Reporter interface {
	// Name identifies the destination in logs, metrics and bookkeeping:
	// "github", "slack", "webhook[pagerduty]".
	Name() string
	// Report acts on the transition from prev (nil on first sight) to cur.
	// retry says whether a failure may succeed later (network, 5xx, 429);
	// RetryAfter(err) gives the delay the server asked for, if any.
	Report(ctx context.Context, cur, prev *drift.Report) (retry bool, err error)
}

// BatchReporter is a Reporter that can take a whole scan run at once, such
// as Slack in digest mode (one message per run). The Dispatcher's DeliverAll
// calls ReportBatch instead of Report for such reporters.
type BatchReporter interface {
	Reporter
	ReportBatch(ctx context.Context, ds []Delivery) (retry bool, err error)
}

// Linker is a Reporter whose deliveries produce a page other reporters
// should point to (the GitHub issue). The Dispatcher delivers a workspace to
// every Linker before it delivers it to the other reporters, and passes the
// links along in the Delivery (and in the context for Report, see
// LinksFrom), so that Slack can link to the issue without knowing GitHub.
type Linker interface {
	Reporter
	// Link returns the URL of the page for workspace as of the last
	// delivery, or "" when there is none.
	Link(workspace string) string
}

// Timeouter is a Reporter with its own timeout per attempt, overriding the
// Dispatcher's (zero keeps the Dispatcher's).
type Timeouter interface {
	Timeout() time.Duration
}

// Links maps a Linker's name to its URL for one workspace.
type Links map[string]string

// Delivery is one workspace's report with the previous one, and the links
// Linkers produced for it.
type Delivery struct {
	Cur   *drift.Report
	Prev  *drift.Report
	Links Links
}

type linksKey struct{}

// WithLinks returns a context carrying links for Report.
func WithLinks(ctx context.Context, l Links) context.Context {
	return context.WithValue(ctx, linksKey{}, l)
}

// LinksFrom returns the links the Dispatcher put in ctx, or nil.
func LinksFrom(ctx context.Context) Links {
	l, _ := ctx.Value(linksKey{}).(Links)
	return l
}

// State keeps reporter bookkeeping (issue numbers, Slack thread ids, the
// last state delivered) per workspace and reporter, so that a restart does
// not notify twice. drift/store satisfies it; MemState is the in-memory
// version for `driftd scan` and tests.
type State interface {
	// GetState returns nil data and a nil error when nothing is stored.
	GetState(ctx context.Context, workspace, reporter string) ([]byte, error)
	PutState(ctx context.Context, workspace, reporter string, data []byte) error
}

// MemState is a State held in memory. The zero value is ready to use.
type MemState struct {
	mu sync.Mutex
	m  map[[2]string][]byte
}

var _ State = (*MemState)(nil)

// GetState implements State.
func (s *MemState) GetState(_ context.Context, workspace, reporter string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.m[[2]string{workspace, reporter}]
	if b == nil {
		return nil, nil
	}
	return append([]byte(nil), b...), nil
}

// PutState implements State.
func (s *MemState) PutState(_ context.Context, workspace, reporter string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[[2]string][]byte)
	}
	s.m[[2]string{workspace, reporter}] = append([]byte(nil), data...)
	return nil
}
