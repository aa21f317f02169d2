package reporters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/driftd/driftd/drift"
)

// Backoff is the retry policy, in one place for every reporter (as
// Alertmanager's retry stage): exponential from Initial, doubled per attempt,
// capped at Max, with jitter; at most Attempts tries per delivery.
type Backoff struct {
	Initial  time.Duration
	Max      time.Duration
	Attempts int
	// MaxWait caps how long a server-requested delay (Retry-After, rate
	// limit reset) is honoured; a longer one fails the delivery now rather
	// than holding the scan run for an hour. The next scan tries again.
	MaxWait time.Duration
}

// DefaultBackoff suits chat and issue APIs.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 30 * time.Second, Attempts: 5, MaxWait: 2 * time.Minute}

// delay returns the jittered wait before attempt n+1 (n counts from 0):
// uniformly in [d/2, d] where d = min(Initial·2ⁿ, Max).
func (b Backoff) delay(n int) time.Duration {
	d := b.Initial
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Result is the outcome of one delivery to one reporter.
type Result struct {
	Reporter  string
	Workspace string // "" for a batch
	Attempts  int
	Duration  time.Duration
	Err       error
}

// Counts are a reporter's delivery counters since the Dispatcher started.
type Counts struct {
	Delivered int64 // deliveries that succeeded
	Failed    int64 // deliveries that failed after all attempts
	Retries   int64 // attempts beyond the first
}

// Dispatcher fans a report out to every reporter concurrently, each under
// its own timeout, retrying failures with backoff. A failure is logged and
// counted; it never blocks the other reporters, and the report itself is
// never touched (the caller stores it before delivering).
type Dispatcher struct {
	reporters []Reporter
	logger    *slog.Logger
	timeout   time.Duration
	backoff   Backoff
	sleep     func(context.Context, time.Duration) error
	observe   func(Result)

	mu     sync.Mutex
	counts map[string]*Counts
}

// Option configures a Dispatcher.
type Option func(*Dispatcher)

// WithTimeout sets the timeout of each attempt (default 30s) for reporters
// that are not Timeouters.
func WithTimeout(d time.Duration) Option { return func(x *Dispatcher) { x.timeout = d } }

// WithBackoff sets the retry policy (default DefaultBackoff).
func WithBackoff(b Backoff) Option { return func(x *Dispatcher) { x.backoff = b } }

// WithObserver calls f after every delivery, for metrics.
func WithObserver(f func(Result)) Option { return func(x *Dispatcher) { x.observe = f } }

// WithSleep replaces the wait between attempts (tests).
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(x *Dispatcher) { x.sleep = f }
}

// NewDispatcher returns a Dispatcher delivering to rs.
func NewDispatcher(logger *slog.Logger, rs []Reporter, opts ...Option) *Dispatcher {
	d := &Dispatcher{
		reporters: rs,
		logger:    logger,
		timeout:   30 * time.Second,
		backoff:   DefaultBackoff,
		sleep:     sleepCtx,
		counts:    make(map[string]*Counts),
	}
	for _, o := range opts {
		o(d)
	}
	if d.backoff.Attempts < 1 {
		d.backoff.Attempts = 1
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Counts returns a copy of the counters per reporter name.
func (d *Dispatcher) Counts() map[string]Counts {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]Counts, len(d.counts))
	for k, v := range d.counts {
		out[k] = *v
	}
	return out
}

// Deliver delivers one workspace's report; see DeliverAll.
func (d *Dispatcher) Deliver(ctx context.Context, cur, prev *drift.Report) []Result {
	return d.DeliverAll(ctx, []Delivery{{Cur: cur, Prev: prev}})
}

// DeliverAll delivers a scan run's reports to every reporter and returns
// once all are done. Reporters run concurrently; each takes the deliveries
// in order. A workspace reaches the other reporters only after every Linker
// has handled it, with the Linkers' links attached; a BatchReporter gets the
// whole run in one call once the Linkers are done with all of it. Results
// come in no particular order.
func (d *Dispatcher) DeliverAll(ctx context.Context, ds []Delivery) []Result {
	ds = append([]Delivery(nil), ds...)
	var linkMu sync.Mutex
	for i := range ds { // copies: Linkers add to them
		l := Links{}
		for k, v := range ds[i].Links {
			l[k] = v
		}
		ds[i].Links = l
	}
	var linkers []Linker
	for _, r := range d.reporters {
		if l, ok := r.(Linker); ok {
			linkers = append(linkers, l)
		}
	}
	// linked[i] is closed once every Linker has handled ds[i].
	linked := make([]chan struct{}, len(ds))
	pending := make([]int, len(ds))
	for i := range ds {
		linked[i] = make(chan struct{})
		pending[i] = len(linkers)
		if len(linkers) == 0 {
			close(linked[i])
		}
	}
	snapshot := func(i int) Delivery {
		linkMu.Lock()
		defer linkMu.Unlock()
		dl := ds[i]
		dl.Links = make(Links, len(ds[i].Links))
		for k, v := range ds[i].Links {
			dl.Links[k] = v
		}
		return dl
	}

	var (
		wg      sync.WaitGroup
		resMu   sync.Mutex
		results []Result
	)
	add := func(r Result) {
		resMu.Lock()
		results = append(results, r)
		resMu.Unlock()
	}
	for _, r := range d.reporters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// After a delivery fails for good on a retryable error (an
			// outage, a long rate limit), the rest of the run is not
			// attempted: it would only wait out the same failure. Nothing
			// is lost; the next run delivers what this one could not.
			var down error
			deliver := func(i int) {
				if down != nil {
					res := Result{Reporter: r.Name(), Workspace: ds[i].Cur.Workspace, Err: fmt.Errorf("not attempted after an earlier failure in this run: %w", down)}
					d.record(res)
					if d.observe != nil {
						d.observe(res)
					}
					add(res)
					return
				}
				res, retryable := d.deliverOne(ctx, r, snapshot(i))
				if res.Err != nil && retryable {
					down = res.Err
				}
				add(res)
			}
			if l, ok := r.(Linker); ok {
				for i := range ds {
					deliver(i)
					linkMu.Lock()
					if u := l.Link(ds[i].Cur.Workspace); u != "" {
						ds[i].Links[r.Name()] = u
					}
					pending[i]--
					if pending[i] == 0 {
						close(linked[i])
					}
					linkMu.Unlock()
				}
				return
			}
			if b, ok := r.(BatchReporter); ok {
				for i := range ds {
					<-linked[i]
				}
				batch := make([]Delivery, len(ds))
				for i := range ds {
					batch[i] = snapshot(i)
				}
				res, _ := d.attempt(ctx, r, "", func(ctx context.Context) (bool, error) {
					return b.ReportBatch(ctx, batch)
				})
				add(res)
				return
			}
			for i := range ds {
				<-linked[i]
				deliver(i)
			}
		}()
	}
	wg.Wait()
	return results
}

func (d *Dispatcher) deliverOne(ctx context.Context, r Reporter, dl Delivery) (Result, bool) {
	return d.attempt(ctx, r, dl.Cur.Workspace, func(ctx context.Context) (bool, error) {
		return r.Report(WithLinks(ctx, dl.Links), dl.Cur, dl.Prev)
	})
}

// attempt runs call until it succeeds, fails for good, or runs out of
// attempts, waiting per the backoff or the server's requested delay. It
// reports whether the last failure was retryable.
func (d *Dispatcher) attempt(ctx context.Context, r Reporter, workspace string, call func(context.Context) (bool, error)) (Result, bool) {
	name := r.Name()
	start := time.Now()
	res := Result{Reporter: name, Workspace: workspace}
	var retry bool
	for n := 0; ; n++ {
		res.Attempts = n + 1
		var err error
		retry, err = d.call(ctx, d.timeoutFor(r), call)
		if err == nil {
			res.Err, retry = nil, false
			break
		}
		res.Err = err
		if !retry || n+1 >= d.backoff.Attempts || ctx.Err() != nil {
			break
		}
		wait := d.backoff.delay(n)
		if after, ok := RetryAfter(err); ok {
			if d.backoff.MaxWait > 0 && after > d.backoff.MaxWait {
				res.Err = fmt.Errorf("server asked to wait %s, more than the %s allowed; giving up until the next scan: %w", after, d.backoff.MaxWait, err)
				break
			}
			wait = after
		}
		d.logger.LogAttrs(ctx, slog.LevelWarn, "report delivery failed, retrying",
			slog.String("reporter", name), slog.String("workspace", workspace),
			slog.Int("attempt", n+1), slog.Duration("wait", wait), slog.String("error", err.Error()))
		if err := d.sleep(ctx, wait); err != nil {
			res.Err = errors.Join(res.Err, err)
			break
		}
	}
	res.Duration = time.Since(start)
	d.record(res)
	if res.Err != nil {
		d.logger.LogAttrs(ctx, slog.LevelError, "report delivery failed",
			slog.String("reporter", name), slog.String("workspace", workspace),
			slog.Int("attempts", res.Attempts), slog.String("error", res.Err.Error()))
	} else {
		d.logger.LogAttrs(ctx, slog.LevelDebug, "report delivered",
			slog.String("reporter", name), slog.String("workspace", workspace),
			slog.Int("attempts", res.Attempts), slog.Duration("duration", res.Duration))
	}
	if d.observe != nil {
		d.observe(res)
	}
	return res, retry
}

// call runs one attempt under the per-attempt timeout, turning a panic into
// an error so that one broken reporter cannot take the daemon down.
func (d *Dispatcher) call(ctx context.Context, timeout time.Duration, f func(context.Context) (bool, error)) (retry bool, err error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			retry, err = false, fmt.Errorf("reporter panicked: %v", p)
		}
	}()
	retry, err = f(ctx)
	if err != nil && !retry && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		// Our own per-attempt timeout, not the caller's: worth another go.
		retry = true
	}
	return retry, err
}

func (d *Dispatcher) timeoutFor(r Reporter) time.Duration {
	if t, ok := r.(Timeouter); ok && t.Timeout() > 0 {
		return t.Timeout()
	}
	return d.timeout
}

func (d *Dispatcher) record(r Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.counts[r.Reporter]
	if c == nil {
		c = &Counts{}
		d.counts[r.Reporter] = c
	}
	c.Retries += int64(r.Attempts - 1)
	if r.Err != nil {
		c.Failed++
	} else {
		c.Delivered++
	}
}
