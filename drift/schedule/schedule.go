// Package schedule runs scans on cron schedules: one schedule per workspace,
// optional jitter, a global concurrency limit, never two scans of one
// workspace at once. It parses schedules with robfig/cron/v3 but runs its own
// loop, because cron.Cron cannot take an injectable clock.
package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Trigger says why a scan started.
type Trigger string

const (
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
	TriggerStartup  Trigger = "startup"
)

// DefaultConcurrency is the global scan limit when Options.Concurrency is 0.
const DefaultConcurrency = 4

var (
	// ErrUnknownJob is returned by Trigger for a name that is not in the job set.
	ErrUnknownJob = errors.New("unknown workspace")
	// ErrStopped is returned by Trigger once Run has returned.
	ErrStopped = errors.New("scheduler stopped")
)

// Job is one workspace and its schedule: a standard five-field cron
// expression, a descriptor (@daily, @every 30s), optionally prefixed with
// CRON_TZ=<zone>. Expressions without a zone use the process's local zone.
type Job struct {
	Name     string
	Schedule string
}

// ScanFunc runs one scan of the named workspace. The scheduler does not know
// what a scan is; it only guarantees that calls for one name never overlap.
type ScanFunc func(ctx context.Context, name string, trigger Trigger)

// Options configure a Scheduler. The zero value is usable.
type Options struct {
	// Clock defaults to SystemClock.
	Clock Clock
	// Concurrency is the global limit on scans running at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Jitter is the maximum delay added to each scheduled firing, so that
	// workspaces on one schedule do not all start in the same second. The
	// delay is a function of the workspace name, the firing time and the seed
	// drawn from Rand: stable for a given seed, spread across workspaces.
	Jitter time.Duration
	// Rand, when set, supplies the jitter seed (one draw, in New). Without it
	// the seed is 0, so offsets stay the same across restarts.
	Rand rand.Source
	// ScanAtStartup scans every job once when Run starts.
	ScanAtStartup bool
	// ScanContext is the parent of every scan's context. Cancelling it aborts
	// running scans; cancelling the context given to Run only stops
	// scheduling. Defaults to context.Background().
	ScanContext context.Context
	// OnPanic, when set, is called after a ScanFunc panic has been recovered
	// and logged, so that the caller can record a failed scan.
	OnPanic func(name string, v any)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Scheduler runs ScanFuncs on their jobs' schedules. Its methods are safe for
// concurrent use.
type Scheduler struct {
	run     ScanFunc
	clock   Clock
	jitter  time.Duration
	seed    uint64
	startup bool
	scanCtx context.Context
	onPanic func(string, any)
	log     *slog.Logger
	wake    chan struct{}
	stop    chan struct{} // closed when Run returns; queued scans give up

	mu      sync.Mutex
	jobs    map[string]*entry
	active  map[string]*scan
	started bool
	stopped bool
	// limit is the concurrency limit, held the slots in use, queue the
	// scans waiting for one, first come first served. Not a channel
	// semaphore: a reload may change the limit.
	limit int
	held  int
	queue []*scan
}

type entry struct {
	job   Job
	sched cron.Schedule
	next  time.Time // the schedule's next firing, zero when it never fires
	at    time.Time // next plus jitter: when the scan actually starts
}

type scan struct {
	done    chan struct{}
	slot    chan struct{} // closed when the scan gets its concurrency slot
	running bool          // holds a concurrency slot (otherwise queued for one)
}

// New returns a Scheduler with no jobs; call SetJobs, then Run.
func New(run ScanFunc, opts Options) (*Scheduler, error) {
	if run == nil {
		return nil, errors.New("schedule: nil ScanFunc")
	}
	if opts.Concurrency < 0 {
		return nil, fmt.Errorf("schedule: concurrency %d is negative", opts.Concurrency)
	}
	if opts.Jitter < 0 {
		return nil, fmt.Errorf("schedule: jitter %s is negative", opts.Jitter)
	}
	s := &Scheduler{
		run:     run,
		clock:   opts.Clock,
		jitter:  opts.Jitter,
		startup: opts.ScanAtStartup,
		scanCtx: opts.ScanContext,
		onPanic: opts.OnPanic,
		log:     opts.Logger,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		jobs:    map[string]*entry{},
		active:  map[string]*scan{},
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.scanCtx == nil {
		s.scanCtx = context.Background()
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if opts.Rand != nil {
		s.seed = opts.Rand.Uint64()
	}
	s.limit = cmp.Or(opts.Concurrency, DefaultConcurrency)
	return s, nil
}

// SetConcurrency changes the concurrency limit, as on a config reload; 0
// means DefaultConcurrency. Queued scans start at once if the limit grew;
// if it shrank, running scans finish and no new one starts until fewer
// than n run.
func (s *Scheduler) SetConcurrency(n int) error {
	if n < 0 {
		return fmt.Errorf("schedule: concurrency %d is negative", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = cmp.Or(n, DefaultConcurrency)
	s.grantLocked()
	return nil
}

// SetJitter changes the maximum jitter, as on a config reload. Every
// planned firing gets its offset under the new jitter.
func (s *Scheduler) SetJitter(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("schedule: jitter %s is negative", d)
	}
	s.mu.Lock()
	s.jitter = d
	for _, e := range s.jobs {
		s.plan(e, e.next)
	}
	s.mu.Unlock()
	s.wakeUp()
	return nil
}

// wakeUp makes Run look at the jobs again.
func (s *Scheduler) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// parse parses a job schedule.
func parse(spec string) (cron.Schedule, error) {
	// cron's parser slices out of range on a zone prefix with nothing after it.
	if (strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("schedule %q: no expression after the time zone", spec)
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return sched, nil
}

// SetJobs replaces the job set, as on a config reload. Running scans
// continue, including those of removed jobs. A job whose schedule is
// unchanged keeps its next firing. On error nothing changes.
func (s *Scheduler) SetJobs(jobs []Job) error {
	parsed := make(map[string]*entry, len(jobs))
	for _, j := range jobs {
		if j.Name == "" {
			return errors.New("schedule: job with an empty name")
		}
		if _, dup := parsed[j.Name]; dup {
			return fmt.Errorf("schedule: job %q appears twice", j.Name)
		}
		sched, err := parse(j.Schedule)
		if err != nil {
			return fmt.Errorf("schedule: job %q: %w", j.Name, err)
		}
		parsed[j.Name] = &entry{job: j, sched: sched}
	}

	s.mu.Lock()
	now := s.clock.Now()
	for name, e := range parsed {
		if old, ok := s.jobs[name]; ok && old.job.Schedule == e.job.Schedule {
			e.next, e.at = old.next, old.at
			continue
		}
		s.plan(e, e.sched.Next(now))
	}
	s.jobs = parsed
	s.mu.Unlock()
	s.wakeUp()
	return nil
}

// plan sets e's next firing to next (zero: never).
func (s *Scheduler) plan(e *entry, next time.Time) {
	e.next, e.at = next, next
	if !next.IsZero() {
		e.at = next.Add(s.offset(e.job.Name, next))
	}
}

// offset is the jitter for one firing of one workspace: a hash, so that it is
// reproducible in tests and spreads a fleet of workspaces evenly.
func (s *Scheduler) offset(name string, firing time.Time) time.Duration {
	if s.jitter <= 0 {
		return 0
	}
	// FNV-1a over seed, name and firing time, finished with a splitmix64
	// mixer because FNV's low bits are weak for short inputs.
	h := uint64(14695981039346656037)
	mix := func(b byte) { h ^= uint64(b); h *= 1099511628211 }
	for i := range 8 {
		mix(byte(s.seed >> (8 * i)))
	}
	for i := range len(name) {
		mix(name[i])
	}
	ts := uint64(firing.UnixNano())
	for i := range 8 {
		mix(byte(ts >> (8 * i)))
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return time.Duration(h % uint64(s.jitter))
}

// Run fires scans on schedule until ctx is done, then stops scheduling and
// returns nil; scans already running continue (see Wait). Scans still queued
// for a concurrency slot are dropped. Run may be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("schedule: Run called twice")
	}
	s.started = true
	if s.startup {
		for _, name := range slices.Sorted(maps.Keys(s.jobs)) {
			s.startLocked(name, TriggerStartup)
		}
	}
	s.mu.Unlock()

	defer func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		close(s.stop)
	}()

	for {
		var timeout <-chan time.Time
		var timer Timer
		if wait, ok := s.fireDue(); ok {
			timer = s.clock.NewTimer(wait)
			timeout = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case <-s.wake:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// fireDue starts every job whose time has come and returns how long until the
// next one is due (ok is false when no job will ever fire).
func (s *Scheduler) fireDue() (wait time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var earliest time.Time
	for _, name := range slices.Sorted(maps.Keys(s.jobs)) {
		e := s.jobs[name]
		if e.next.IsZero() {
			continue
		}
		if !e.at.After(now) {
			if _, busy := s.active[name]; busy {
				s.log.Info("scheduled scan skipped: previous scan still running",
					"workspace", name, "firing", e.next)
			} else {
				s.startLocked(name, TriggerSchedule)
			}
			s.plan(e, e.sched.Next(e.next))
			// After a long pause (suspend, clock jump) fire once, not once
			// per missed firing.
			if !e.next.IsZero() && !e.at.After(now) {
				s.plan(e, e.sched.Next(now))
			}
			if e.next.IsZero() {
				continue
			}
		}
		if earliest.IsZero() || e.at.Before(earliest) {
			earliest = e.at
		}
	}
	if earliest.IsZero() {
		return 0, false
	}
	return earliest.Sub(now), true
}

// Trigger starts a scan of name now, still under the concurrency limit. If
// that workspace is already running or queued, it returns that scan's done
// channel and joined=true. The scan's context comes from Options.ScanContext,
// not from ctx: a trigger request may end before its scan does.
func (s *Scheduler) Trigger(ctx context.Context, name string) (done <-chan struct{}, joined bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, false, ErrStopped
	}
	if _, ok := s.jobs[name]; !ok {
		return nil, false, fmt.Errorf("%w: %q", ErrUnknownJob, name)
	}
	if sc, ok := s.active[name]; ok {
		return sc.done, true, nil
	}
	return s.startLocked(name, TriggerManual).done, false, nil
}

// startLocked starts a scan of name; the caller holds s.mu and has checked
// that name is not active.
func (s *Scheduler) startLocked(name string, trigger Trigger) *scan {
	sc := &scan{done: make(chan struct{}), slot: make(chan struct{})}
	s.active[name] = sc
	s.queue = append(s.queue, sc)
	s.grantLocked()
	go s.execute(name, trigger, sc)
	return sc
}

func (s *Scheduler) execute(name string, trigger Trigger, sc *scan) {
	log := s.log.With("workspace", name, "trigger", string(trigger))
	defer func() {
		s.mu.Lock()
		delete(s.active, name)
		s.mu.Unlock()
		close(sc.done)
	}()

	select {
	case <-sc.slot:
	case <-s.scanCtx.Done():
	case <-s.stop:
	}
	// Checked even with a slot: when a slot and a stop come at once, the
	// stop wins.
	if why := s.stopping(); why != "" {
		s.dequeue(sc)
		log.Info("queued scan dropped: " + why)
		return
	}
	defer s.release()

	defer func() {
		if v := recover(); v != nil {
			log.Error("scan panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if s.onPanic != nil {
				s.onPanic(name, v)
			}
		}
	}()
	s.run(s.scanCtx, name, trigger)
}

// grantLocked hands free slots to queued scans in order; the caller
// holds s.mu.
func (s *Scheduler) grantLocked() {
	for s.held < s.limit && len(s.queue) > 0 {
		sc := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.held++
		sc.running = true
		close(sc.slot)
	}
}

// release frees a scan's slot for the next queued scan.
func (s *Scheduler) release() {
	s.mu.Lock()
	s.held--
	s.grantLocked()
	s.mu.Unlock()
}

// stopping says why queued scans must not start, or "".
func (s *Scheduler) stopping() string {
	select {
	case <-s.scanCtx.Done():
		return "scans cancelled"
	case <-s.stop:
		return "scheduler stopped"
	default:
		return ""
	}
}

// dequeue takes a scan that gives up waiting out of the queue, passing
// on the slot it got meanwhile, if any.
func (s *Scheduler) dequeue(sc *scan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc.running {
		sc.running = false
		s.held--
		s.grantLocked()
		return
	}
	s.queue = slices.DeleteFunc(s.queue, func(q *scan) bool { return q == sc })
}

// Wait blocks until no scan is running or queued, or until ctx is done
// (returning ctx.Err()). Call it after Run has returned to drain.
func (s *Scheduler) Wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		var done chan struct{}
		for _, sc := range s.active {
			done = sc.done
			break
		}
		s.mu.Unlock()
		if done == nil {
			return nil
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Next returns when name is next scanned on schedule, jitter included. ok is
// false for an unknown name or a schedule that never fires again.
func (s *Scheduler) Next(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[name]
	if !ok || e.next.IsZero() {
		return time.Time{}, false
	}
	return e.at, true
}

// Running returns the workspaces being scanned now (holding a concurrency
// slot), sorted.
func (s *Scheduler) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name, sc := range s.active {
		if sc.running {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
