// Package reporters delivers drift reports to the places people read them:
// GitHub issues, Slack, webhooks. It owns what every destination shares:
// the Reporter interface, the classification of a report against what a
// destination was last told (Transition), one stage that decides what each
// reporter still owes and records what it has told, with per-delivery
// timeouts and retries in one place (Dispatcher), and rune-safe truncation.
//
// Reporters only send. What each one has told about each workspace (its
// Told record) is kept by the Dispatcher in a State and written only after
// the destination accepted: what a reporter could not tell stays owed and is
// sent by the next run, and a reporter added later starts by announcing the
// drift that exists.
//
// Reporters only ever see drift.Report values, which are already redacted.
package reporters

import (
	"context"
	"sync"
	"time"

	"github.com/driftd/driftd/drift"
)

// Reporter delivers notifications to one destination.
type Reporter interface {
	// Name identifies the destination in logs, metrics and bookkeeping:
	// "github", "slack", "webhook[pagerduty]".
	Name() string
	// Notify tells the destination about n, a transition the Dispatcher
	// decided the reporter owes. The Receipt says what was sent and what
	// to keep (a thread, a link); it is recorded only when err is nil.
	// retry says whether a failure may succeed later (network, 5xx, 429);
	// RetryAfter(err) gives the delay the server asked for, if any.
	Notify(ctx context.Context, n Notification) (rc Receipt, retry bool, err error)
}

// BatchReporter is a Reporter that takes a whole scan run at once, such as
// Slack in digest mode (one message per run). The Dispatcher calls
// NotifyBatch with every notification the reporter owes for the run, in
// one call, instead of Notify; scanned is how many workspaces the run
// delivered. Its Receipt covers them all.
type BatchReporter interface {
	Reporter
	NotifyBatch(ctx context.Context, ns []Notification, scanned int) (rc Receipt, retry bool, err error)
}

// Filter is a Reporter that wants only some kinds (its notify settings).
// A kind it does not want is recorded as told without calling it.
type Filter interface {
	Wants(Kind) bool
}

// SourceOfTruth is a Reporter whose destination is itself the record of
// what it was told, as GitHub is with the marker in each issue. The
// Dispatcher calls it on every delivery, even when its own record says
// nothing is owed; it decides from the destination (an issue closed by hand
// is reopened) and takes from the Notification what the destination does
// not keep (the drift told before, first-seen time).
type SourceOfTruth interface {
	Reporter
	SourceOfTruth() bool
}

// Linker is a Reporter whose deliveries produce a page other reporters
// should point to (the GitHub issue). The Dispatcher delivers a workspace to
// every Linker before it delivers it to the other reporters, and passes the
// links along in the Notification, so that Slack can link to the issue
// without knowing GitHub.
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

// Delivery is one workspace's report, with links known beforehand (the
// Linkers' are added by the Dispatcher).
type Delivery struct {
	Cur   *drift.Report
	Links Links
}

// State keeps reporter bookkeeping (what each reporter told, issue links,
// Slack threads) per workspace and reporter, durably, so that nothing is
// lost or told twice across runs and restarts. drift/store satisfies it for
// `driftd serve` and `scan --store`, reporters/filestate for `driftd scan`
// (a file per entry in the cache dir); MemState is the in-memory version
// for tests.
type State interface {
	// GetState returns nil data and a nil error when nothing is stored.
	GetState(ctx context.Context, workspace, reporter string) ([]byte, error)
	PutState(ctx context.Context, workspace, reporter string, data []byte) error
}

// Locker is a State shared by several processes (driftd scans sharing a
// cache dir). The Dispatcher holds an entry's lock from reading what was
// told to recording what it sent, so that two processes never both send
// what one owes.
type Locker interface {
	Lock(ctx context.Context, workspace, reporter string) (unlock func(), err error)
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
