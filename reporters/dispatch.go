package reporters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
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
	Kind      Kind   // what the reporter owed; None: nothing
	Sent      bool   // something reached the destination
	Attempts  int
	Duration  time.Duration
	Err       error
}

// Counts are a reporter's delivery counters since the Dispatcher started.
type Counts struct {
	Delivered int64 // notifications that reached the destination
	Failed    int64 // notifications owed and not delivered (they stay owed)
	Retries   int64 // attempts beyond the first
}

// Dispatcher is the one stage between reports and reporters (as
// Alertmanager's dedup and retry stages): for every reporter and workspace
// it reads what the reporter told (Told, in State), decides what it owes
// (Transition), sends it concurrently with the other reporters, each under
// its own timeout, retrying failures with backoff, and records what was
// told only once the destination accepted it. A failure is logged and
// counted, never blocks the other reporters, and leaves the notification
// owed to the next run; the report itself is never touched (the caller
// stores it before delivering).
type Dispatcher struct {
	reporters []Reporter
	state     State
	now       func() time.Time
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

// WithState keeps what reporters told in s (default: in memory, for the
// Dispatcher's lifetime only).
func WithState(s State) Option { return func(x *Dispatcher) { x.state = s } }

// WithNow sets the clock for reports without a start time (default
// time.Now).
func WithNow(f func() time.Time) Option { return func(x *Dispatcher) { x.now = f } }

// WithTimeout sets the timeout of each attempt (default 30s) for reporters
// that are not Timeouters.
func WithTimeout(d time.Duration) Option { return func(x *Dispatcher) { x.timeout = d } }

// WithBackoff sets the retry policy (default DefaultBackoff).
func WithBackoff(b Backoff) Option { return func(x *Dispatcher) { x.backoff = b } }

// WithObserver calls f after every delivery that sent something or
// failed, for metrics.
func WithObserver(f func(Result)) Option { return func(x *Dispatcher) { x.observe = f } }

// WithSleep replaces the wait between attempts (tests).
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(x *Dispatcher) { x.sleep = f }
}

// NewDispatcher returns a Dispatcher delivering to rs.
func NewDispatcher(logger *slog.Logger, rs []Reporter, opts ...Option) *Dispatcher {
	d := &Dispatcher{
		reporters: rs,
		now:       time.Now,
		logger:    logger,
		timeout:   30 * time.Second,
		backoff:   DefaultBackoff,
		sleep:     sleepCtx,
		counts:    make(map[string]*Counts),
	}
	for _, o := range opts {
		o(d)
	}
	if d.state == nil {
		d.state = &MemState{}
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
func (d *Dispatcher) Deliver(ctx context.Context, cur *drift.Report) []Result {
	return d.DeliverAll(ctx, []Delivery{{Cur: cur}})
}

// DeliverAll delivers a scan run's reports to every reporter and returns
// once all are done. Reporters run concurrently; each takes the deliveries
// in order. A workspace reaches the other reporters only after every Linker
// has handled it, with the Linkers' links attached; a BatchReporter gets
// what it owes for the whole run in one call once the Linkers are done with
// all of it. Results, one per reporter and workspace (one per batch), come
// in no particular order.
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
	eps := make([]Episode, len(ds))
	for i := range ds {
		eps[i] = d.episode(ctx, ds[i].Cur)
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
	add := func(rs ...Result) {
		resMu.Lock()
		results = append(results, rs...)
		resMu.Unlock()
	}
	for _, r := range d.reporters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// After a delivery fails for good on a retryable error (an
			// outage, a long rate limit), the rest of the run is not
			// attempted: it would only wait out the same failure. Nothing
			// is lost; what is owed stays owed for the next run.
			var down error
			if l, ok := r.(Linker); ok {
				for i := range ds {
					add(d.deliverOne(ctx, r, snapshot(i), eps[i], &down))
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
				add(d.deliverBatch(ctx, b, batch, eps)...)
				return
			}
			for i := range ds {
				<-linked[i]
				add(d.deliverOne(ctx, r, snapshot(i), eps[i], &down))
			}
		}()
	}
	wg.Wait()
	return results
}

// episode advances and returns the workspace's episode for cur. A State
// failure is logged: the report is still delivered, with what is known.
func (d *Dispatcher) episode(ctx context.Context, cur *drift.Report) Episode {
	ws := cur.Workspace
	var ep Episode
	unlock, err := d.lock(ctx, ws, episodeName)
	if err != nil {
		d.logger.LogAttrs(ctx, slog.LevelError, "drift history not read", slog.String("workspace", ws), slog.String("error", err.Error()))
		return ep.advance(cur, d.at(cur))
	}
	defer unlock()
	raw, err := loadRaw(ctx, d.state, ws, episodeName, &ep)
	if err != nil {
		d.logger.LogAttrs(ctx, slog.LevelError, "drift history not read", slog.String("workspace", ws), slog.String("error", err.Error()))
	}
	next := ep.advance(cur, d.at(cur))
	if err == nil {
		if err := saveChanged(ctx, d.state, ws, episodeName, raw, next); err != nil {
			d.logger.LogAttrs(ctx, slog.LevelError, "drift history not saved", slog.String("workspace", ws), slog.String("error", err.Error()))
		}
	}
	return next
}

func (d *Dispatcher) at(cur *drift.Report) time.Time {
	if !cur.StartedAt.IsZero() {
		return cur.StartedAt
	}
	return d.now()
}

func (d *Dispatcher) lock(ctx context.Context, workspace, name string) (func(), error) {
	if l, ok := d.state.(Locker); ok {
		return l.Lock(ctx, workspace, name)
	}
	return func() {}, nil
}

// owed is what the stage decided for one reporter and workspace.
type owed struct {
	dl   Delivery
	told Told
	raw  []byte // the record as stored, to write only what changed
	n    Notification
	send bool // the reporter is to be called
}

// decide reads what r told about dl's workspace and decides what it owes.
func (d *Dispatcher) decide(ctx context.Context, r Reporter, dl Delivery, ep Episode) (owed, error) {
	ws := dl.Cur.Workspace
	o := owed{dl: dl}
	var err error
	if o.raw, err = loadRaw(ctx, d.state, ws, r.Name(), &o.told); err != nil {
		return o, err
	}
	o.n = Notification{
		Cur: dl.Cur, Prev: o.told.Report(ws), FirstSeen: ep.FirstSeen, Resolved: ep.Resolved, Before: ep.Before,
		Thread: o.told.Thread, Links: dl.Links,
	}
	if !dl.Cur.StartedAt.IsZero() && dl.Cur.StartedAt.Before(o.told.Scanned) {
		return o, nil // an older scan than the one told: nothing to say
	}
	o.n.Kind = Transition(dl.Cur, o.n.Prev)
	if s, ok := r.(SourceOfTruth); ok && s.SourceOfTruth() {
		o.send = true
		return o, nil
	}
	f, filtered := r.(Filter)
	o.send = o.n.Kind != None && (!filtered || f.Wants(o.n.Kind))
	return o, nil
}

// record writes what r told after o (with receipt rc) when it changed.
func (d *Dispatcher) record(ctx context.Context, r Reporter, o owed, rc Receipt) error {
	return saveChanged(ctx, d.state, o.dl.Cur.Workspace, r.Name(), o.raw, o.told.advance(o.dl.Cur, rc))
}

// deliverOne delivers one workspace to r: decide, send, record. The
// entry's lock is held throughout, so that another process sharing the
// State cannot send the same notification meanwhile.
func (d *Dispatcher) deliverOne(ctx context.Context, r Reporter, dl Delivery, ep Episode, down *error) Result {
	ws := dl.Cur.Workspace
	res := Result{Reporter: r.Name(), Workspace: ws}
	unlock, err := d.lock(ctx, ws, r.Name())
	if err != nil {
		res.Err = fmt.Errorf("%s: lock bookkeeping of %s: %w", r.Name(), ws, err)
		d.finish(ctx, res)
		return res
	}
	defer unlock()
	o, err := d.decide(ctx, r, dl, ep)
	res.Kind = o.n.Kind
	switch {
	case err != nil:
		res.Err = err
		d.finish(ctx, res)
		return res
	case !o.send:
		// Nothing to send (or a kind the reporter does not want): the
		// record still moves on, so that it is not owed later.
		if o.n.Kind != None {
			if err := d.record(ctx, r, o, Receipt{}); err != nil {
				res.Err = err
				d.finish(ctx, res)
			}
		}
		return res
	case *down != nil:
		res.Err = fmt.Errorf("not attempted after an earlier failure in this run: %w", *down)
		d.finish(ctx, res)
		return res
	}
	var rc Receipt
	res, retryable := d.attempt(ctx, r, res, func(ctx context.Context) (bool, error) {
		var (
			retry bool
			err   error
		)
		rc, retry, err = r.Notify(ctx, o.n)
		return retry, err
	})
	if res.Err == nil {
		res.Sent = rc.Sent
		if err := d.record(ctx, r, o, rc); err != nil {
			// Sent but not recorded: only here can a notification be told
			// twice (by the next run), where the destination cannot check.
			res.Err = fmt.Errorf("delivered, but not recorded (the next run may repeat it): %w", err)
		}
	} else if retryable {
		*down = res.Err
	}
	d.finish(ctx, res)
	return res
}

// deliverBatch delivers a run to a BatchReporter: what it owes for every
// workspace, in one call. Locks are taken in workspace order, so that
// processes sharing the State never wait on each other in a circle.
func (d *Dispatcher) deliverBatch(ctx context.Context, b BatchReporter, ds []Delivery, eps []Episode) []Result {
	name := b.Name()
	order := make([]int, len(ds))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return strings.Compare(ds[x].Cur.Workspace, ds[y].Cur.Workspace) })
	var (
		out   []Result
		owes  []owed
		locks = map[string]bool{}
	)
	for _, i := range order {
		ws := ds[i].Cur.Workspace
		fail := func(err error) {
			res := Result{Reporter: name, Workspace: ws, Err: err}
			d.finish(ctx, res)
			out = append(out, res)
		}
		if !locks[ws] {
			unlock, err := d.lock(ctx, ws, name)
			if err != nil {
				fail(fmt.Errorf("%s: lock bookkeeping of %s: %w", name, ws, err))
				continue
			}
			defer unlock()
			locks[ws] = true
		}
		o, err := d.decide(ctx, b, ds[i], eps[i])
		switch {
		case err != nil:
			fail(err)
		case o.send:
			owes = append(owes, o)
		case o.n.Kind != None:
			if err := d.record(ctx, b, o, Receipt{}); err != nil {
				fail(err)
			}
		}
	}
	if len(owes) == 0 {
		return out
	}
	ns := make([]Notification, len(owes))
	for i, o := range owes {
		ns[i] = o.n
	}
	// owes is in workspace order; the reporter sees the run's order.
	slices.SortStableFunc(ns, func(x, y Notification) int { return index(ds, x.Cur) - index(ds, y.Cur) })
	var rc Receipt
	res, _ := d.attempt(ctx, b, Result{Reporter: name}, func(ctx context.Context) (bool, error) {
		var (
			retry bool
			err   error
		)
		rc, retry, err = b.NotifyBatch(ctx, ns, len(ds))
		return retry, err
	})
	if res.Err == nil {
		res.Sent = rc.Sent
		var errs []error
		for _, o := range owes {
			errs = append(errs, d.record(ctx, b, o, Receipt{Sent: rc.Sent}))
		}
		if err := errors.Join(errs...); err != nil {
			res.Err = fmt.Errorf("delivered, but not recorded (the next run may repeat it): %w", err)
		}
	}
	d.finish(ctx, res)
	return append(out, res)
}

func index(ds []Delivery, r *drift.Report) int {
	for i := range ds {
		if ds[i].Cur == r {
			return i
		}
	}
	return len(ds)
}

// loadRaw reads name's entry for workspace into v and returns the bytes
// as stored (nil when none).
func loadRaw(ctx context.Context, st State, workspace, name string, v any) ([]byte, error) {
	b, err := st.GetState(ctx, workspace, name)
	if err != nil {
		return nil, fmt.Errorf("read %s bookkeeping for %s: %w", name, workspace, err)
	}
	if b == nil {
		return nil, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %s bookkeeping for %s (remove it to start over, which may notify again): %w", name, workspace, err)
	}
	return b, nil
}

// saveChanged writes v as name's entry for workspace unless it encodes to
// raw, what is stored.
func saveChanged(ctx context.Context, st State, workspace, name string, raw []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s bookkeeping for %s: %w", name, workspace, err)
	}
	if bytes.Equal(b, raw) {
		return nil
	}
	if err := st.PutState(ctx, workspace, name, b); err != nil {
		return fmt.Errorf("save %s bookkeeping for %s: %w", name, workspace, err)
	}
	return nil
}

// attempt runs call until it succeeds, fails for good, or runs out of
// attempts, waiting per the backoff or the server's requested delay. It
// reports whether the last failure was retryable.
func (d *Dispatcher) attempt(ctx context.Context, r Reporter, res Result, call func(context.Context) (bool, error)) (Result, bool) {
	name := r.Name()
	start := time.Now()
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
			slog.String("reporter", name), slog.String("workspace", res.Workspace),
			slog.Int("attempt", n+1), slog.Duration("wait", wait), slog.String("error", err.Error()))
		if err := d.sleep(ctx, wait); err != nil {
			res.Err = errors.Join(res.Err, err)
			break
		}
	}
	res.Duration = time.Since(start)
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

// finish counts, logs and observes a delivery that sent something or
// failed.
func (d *Dispatcher) finish(ctx context.Context, r Result) {
	if r.Err == nil && !r.Sent {
		return
	}
	d.mu.Lock()
	c := d.counts[r.Reporter]
	if c == nil {
		c = &Counts{}
		d.counts[r.Reporter] = c
	}
	c.Retries += int64(max(r.Attempts-1, 0))
	if r.Err != nil {
		c.Failed++
	} else {
		c.Delivered++
	}
	d.mu.Unlock()
	if r.Err != nil {
		d.logger.LogAttrs(ctx, slog.LevelError, "report delivery failed",
			slog.String("reporter", r.Reporter), slog.String("workspace", r.Workspace), slog.String("kind", r.Kind.String()),
			slog.Int("attempts", r.Attempts), slog.String("error", r.Err.Error()))
	} else {
		d.logger.LogAttrs(ctx, slog.LevelDebug, "report delivered",
			slog.String("reporter", r.Reporter), slog.String("workspace", r.Workspace), slog.String("kind", r.Kind.String()),
			slog.Int("attempts", r.Attempts), slog.Duration("duration", r.Duration))
	}
	if d.observe != nil {
		d.observe(r)
	}
}
