package reporters

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
)

// fake is a scripted reporter: it returns errs[i] on call i, then success.
type fake struct {
	name  string
	errs  []error
	retry bool
	block chan struct{} // if set, Notify waits for it
	link  string

	mu    sync.Mutex
	calls []Notification
}

func (f *fake) Name() string { return f.name }

func (f *fake) Notify(ctx context.Context, n Notification) (Receipt, bool, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return Receipt{}, true, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := len(f.calls)
	f.calls = append(f.calls, n)
	if i < len(f.errs) {
		return Receipt{}, f.retry, f.errs[i]
	}
	return Receipt{Sent: true}, false, nil
}

func (f *fake) kinds() []Kind {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Kind
	for _, n := range f.calls {
		out = append(out, n.Kind)
	}
	return out
}

type fakeLinker struct{ *fake }

func (f fakeLinker) Link(ws string) string { return f.link + "/" + ws }

type fakeBatch struct {
	*fake
	batches [][]Notification
}

func (f *fakeBatch) NotifyBatch(_ context.Context, ns []Notification, _ int) (Receipt, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, ns)
	return Receipt{Sent: true}, false, nil
}

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func newTestDispatcher(rs []Reporter, s *sleeps, logs *bytes.Buffer, opts ...Option) *Dispatcher {
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewDispatcher(logger, rs, append([]Option{WithSleep(s.sleep), WithBackoff(Backoff{Initial: time.Second, Max: 4 * time.Second, Attempts: 4, MaxWait: time.Minute})}, opts...)...)
}

func TestDispatcherRetries(t *testing.T) {
	t.Parallel()
	boom := errors.New("502 bad gateway")
	tests := []struct {
		name         string
		errs         []error
		retry        bool
		wantAttempts int
		wantErr      bool
		wantSleeps   []time.Duration // exact when non-nil
	}{
		{"success", nil, false, 1, false, []time.Duration{}},
		{"permanent failure is not retried", []error{boom}, false, 1, true, []time.Duration{}},
		{"transient failure retried", []error{boom, boom}, true, 3, false, nil},
		{"gives up after attempts", []error{boom, boom, boom, boom, boom}, true, 4, true, nil},
		{"honours retry-after", []error{WithRetryAfter(boom, 7*time.Second)}, true, 2, false, []time.Duration{7 * time.Second}},
		{"too long retry-after fails now", []error{WithRetryAfter(boom, time.Hour)}, true, 1, true, []time.Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{name: "f", errs: tt.errs, retry: tt.retry}
			var s sleeps
			var logs bytes.Buffer
			res := newTestDispatcher([]Reporter{f}, &s, &logs).Deliver(context.Background(), rep(drift.StatusDrifted, "a"))
			if len(res) != 1 {
				t.Fatalf("results: %+v", res)
			}
			if res[0].Attempts != tt.wantAttempts || (res[0].Err != nil) != tt.wantErr {
				t.Errorf("attempts %d err %v; want %d, err=%v", res[0].Attempts, res[0].Err, tt.wantAttempts, tt.wantErr)
			}
			if tt.wantSleeps != nil && !equalDurations(s.d, tt.wantSleeps) {
				t.Errorf("sleeps %v, want %v", s.d, tt.wantSleeps)
			}
			for i, d := range s.d {
				if _, ok := RetryAfter(tt.errs[i]); ok {
					continue
				}
				base := min(time.Second<<i, 4*time.Second)
				if d < base/2 || d > base {
					t.Errorf("backoff %d = %v, want within [%v, %v]", i, d, base/2, base)
				}
			}
			if tt.wantErr && !strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("failure not logged: %s", logs.String())
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDispatcherFailureDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	stuck := &fake{name: "stuck", block: make(chan struct{})} // never released: only the timeout ends it
	ok := &fake{name: "ok"}
	var s sleeps
	var logs bytes.Buffer
	d := newTestDispatcher([]Reporter{stuck, ok}, &s, &logs, WithTimeout(50*time.Millisecond), WithBackoff(Backoff{Attempts: 2}))
	res := d.Deliver(context.Background(), rep(drift.StatusDrifted, "a"))
	byName := map[string]Result{}
	for _, r := range res {
		byName[r.Reporter] = r
	}
	if byName["ok"].Err != nil || len(ok.calls) != 1 {
		t.Errorf("ok reporter: %+v", byName["ok"])
	}
	if !errors.Is(byName["stuck"].Err, context.DeadlineExceeded) || byName["stuck"].Attempts != 2 {
		t.Errorf("stuck reporter: %+v (timeouts are retried)", byName["stuck"])
	}
	c := d.Counts()
	if c["ok"].Delivered != 1 || c["stuck"].Failed != 1 || c["stuck"].Retries != 1 {
		t.Errorf("counts: %+v", c)
	}
}

func TestDispatcherPanicIsAnError(t *testing.T) {
	t.Parallel()
	var s sleeps
	var logs bytes.Buffer
	res := newTestDispatcher([]Reporter{panicky{}}, &s, &logs).Deliver(context.Background(), rep(drift.StatusDrifted, "a"))
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "panicked") {
		t.Fatalf("results: %+v", res)
	}
}

type panicky struct{}

func (panicky) Name() string { return "panicky" }
func (panicky) Notify(context.Context, Notification) (Receipt, bool, error) {
	panic("boom")
}

func TestDispatcherLinksReachOthers(t *testing.T) {
	t.Parallel()
	gh := fakeLinker{&fake{name: "github", link: "https://gh/issues"}}
	chat := &fake{name: "slack"}
	digest := &fakeBatch{fake: &fake{name: "digest"}}
	var s sleeps
	var logs bytes.Buffer
	d := newTestDispatcher([]Reporter{chat, digest, gh}, &s, &logs)
	res := d.DeliverAll(context.Background(), []Delivery{
		{Cur: &drift.Report{Workspace: "a", Status: drift.StatusDrifted, Fingerprint: "1"}},
		{Cur: &drift.Report{Workspace: "b", Status: drift.StatusDrifted, Fingerprint: "2"}},
	})
	if len(res) != 5 { // 2 github + 2 slack + 1 digest batch
		t.Fatalf("results: %+v", res)
	}
	if len(chat.calls) != 2 {
		t.Fatalf("slack calls: %+v", chat.calls)
	}
	for _, c := range chat.calls {
		if want := "https://gh/issues/" + c.Cur.Workspace; c.Links["github"] != want {
			t.Errorf("slack saw links %v for %s, want %s", c.Links, c.Cur.Workspace, want)
		}
	}
	if len(digest.batches) != 1 || len(digest.batches[0]) != 2 || digest.batches[0][1].Links["github"] != "https://gh/issues/b" {
		t.Errorf("digest batches: %+v", digest.batches)
	}
	if len(digest.calls) != 0 {
		t.Errorf("batch reporter got single deliveries: %d", len(digest.calls))
	}
}

func TestDispatcherStopsReporterAfterOutage(t *testing.T) {
	t.Parallel()
	boom := errors.New("503")
	down := &fake{name: "down", retry: true, errs: []error{boom, boom, boom, boom}}
	up := &fake{name: "up"}
	var s sleeps
	var logs bytes.Buffer
	d := newTestDispatcher([]Reporter{down, up}, &s, &logs)
	res := d.DeliverAll(context.Background(), []Delivery{
		{Cur: rep(drift.StatusDrifted, "a")}, {Cur: rep(drift.StatusDrifted, "b")}, {Cur: rep(drift.StatusDrifted, "c")},
	})
	if len(res) != 6 || len(down.calls) != 4 || len(up.calls) != 3 {
		t.Fatalf("%d results, down called %d times, up %d", len(res), len(down.calls), len(up.calls))
	}
	c := d.Counts()
	if c["down"].Failed != 3 || c["up"].Delivered != 3 {
		t.Errorf("counts %+v", c)
	}
	for _, r := range res {
		if r.Reporter == "down" && r.Attempts == 0 && !strings.Contains(r.Err.Error(), "not attempted") {
			t.Errorf("skipped result %+v", r)
		}
	}
}

type slowFake struct {
	*fake
	timeout time.Duration
	left    *time.Duration // what was left of its deadline when Notify began
}

func (s slowFake) Timeout() time.Duration { return s.timeout }

func (s slowFake) Notify(ctx context.Context, n Notification) (Receipt, bool, error) {
	if dl, ok := ctx.Deadline(); ok {
		*s.left = time.Until(dl)
	}
	return s.fake.Notify(ctx, n)
}

func TestDispatcherReporterTimeout(t *testing.T) {
	t.Parallel()
	var left time.Duration
	own := slowFake{&fake{name: "own", block: make(chan struct{})}, 20 * time.Millisecond, &left}
	var s sleeps
	var logs bytes.Buffer
	d := newTestDispatcher([]Reporter{own}, &s, &logs, WithTimeout(time.Hour), WithBackoff(Backoff{Attempts: 1}))
	res := d.Deliver(context.Background(), rep(drift.StatusDrifted, "a"))
	// Time only runs down: with the reporter's own timeout, at most 20ms
	// can be left; with the dispatcher's, nearly an hour.
	if !errors.Is(res[0].Err, context.DeadlineExceeded) || left > own.timeout {
		t.Fatalf("result %+v, %v of the deadline left at the start: the reporter's own timeout was not used", res[0], left)
	}
}
