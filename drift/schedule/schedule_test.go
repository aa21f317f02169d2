package schedule_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/driftd/driftd/internal/logbuf"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // CRON_TZ cases must not depend on the machine's zoneinfo

	"github.com/driftd/driftd/drift/schedule"
	"github.com/driftd/driftd/drift/schedule/schedtest"
)

// epoch is a Monday, mid-morning UTC.
var epoch = time.Date(2026, 1, 5, 10, 7, 13, 0, time.UTC)

// patience bounds every wait on real time; the waits only cover goroutine
// hand-offs, never schedule time, and only a failing test waits it out.
const patience = time.Minute

type start struct {
	name    string
	trigger schedule.Trigger
	at      time.Time
}

// harness runs a Scheduler on a fake clock and records every scan start.
// Scans block on gate when block is set.
type harness struct {
	t      *testing.T
	clock  *schedtest.FakeClock
	s      *schedule.Scheduler
	starts chan start
	gate   chan struct{}
	block  bool
	cancel context.CancelFunc
	ran    chan error
}

func newHarness(t *testing.T, opts schedule.Options, block bool, jobs ...schedule.Job) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		clock:  schedtest.NewFakeClock(epoch),
		starts: make(chan start, 1000),
		gate:   make(chan struct{}),
		block:  block,
		ran:    make(chan error, 1),
	}
	opts.Clock = h.clock
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := schedule.New(func(ctx context.Context, name string, trigger schedule.Trigger) {
		h.starts <- start{name, trigger, h.clock.Now()}
		if h.block {
			<-h.gate
		}
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	if err := s.SetJobs(jobs); err != nil {
		t.Fatal(err)
	}
	return h
}

// run starts the scheduler's loop; cleanup stops it and drains scans.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.ran <- h.s.Run(ctx) }()
	h.t.Cleanup(func() {
		h.stop()
		close(h.gate) // let blocked scans finish
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		if err := h.s.Wait(ctx); err != nil {
			h.t.Errorf("Wait: %v", err)
		}
	})
}

func (h *harness) stop() {
	h.cancel()
	select {
	case err, ok := <-h.ran:
		if ok && err != nil {
			h.t.Errorf("Run: %v", err)
		}
		if ok {
			close(h.ran)
		}
	case <-time.After(patience):
		h.t.Fatal("Run did not return after its context was cancelled")
	}
}

// armed waits until the scheduler's loop is sleeping until at, so that
// advancing the clock afterwards cannot race its timer computation.
func (h *harness) armed(at time.Time) {
	h.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		if slices.ContainsFunc(h.clock.Timers(), at.Equal) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("scheduler never armed a timer for %s; pending timers: %v", at, h.clock.Timers())
		}
		time.Sleep(time.Millisecond)
	}
}

// advanceTo waits for the timer at, then moves the clock to it.
func (h *harness) advanceTo(at time.Time) {
	h.t.Helper()
	h.armed(at)
	h.clock.Advance(at.Sub(h.clock.Now()))
}

func (h *harness) next() start {
	h.t.Helper()
	select {
	case st := <-h.starts:
		return st
	case <-time.After(patience):
		h.t.Fatal("no scan started")
		return start{}
	}
}

// quiet asserts that no scan starts during a short real-time window.
func (h *harness) quiet() {
	h.t.Helper()
	select {
	case st := <-h.starts:
		h.t.Fatalf("unexpected scan start: %+v", st)
	case <-time.After(20 * time.Millisecond):
	}
}

func (h *harness) nextFiring(name string) time.Time {
	h.t.Helper()
	at, ok := h.s.Next(name)
	if !ok {
		h.t.Fatalf("Next(%q): no next firing", name)
	}
	return at
}

func TestSchedulesFireWhenDue(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		spec string
		want []time.Time // the first firings after epoch (2026-01-05T10:07:13Z, a Monday)
	}{
		{"*/15 * * * *", []time.Time{at("2026-01-05T10:15:00Z"), at("2026-01-05T10:30:00Z"), at("2026-01-05T10:45:00Z")}},
		{"CRON_TZ=UTC 0 * * * *", []time.Time{at("2026-01-05T11:00:00Z"), at("2026-01-05T12:00:00Z")}},
		{"CRON_TZ=UTC @daily", []time.Time{at("2026-01-06T00:00:00Z"), at("2026-01-07T00:00:00Z")}},
		{"@every 30s", []time.Time{at("2026-01-05T10:07:43Z"), at("2026-01-05T10:08:13Z"), at("2026-01-05T10:08:43Z")}},
		// 09:00 in Berlin on weekdays is 08:00 UTC in winter; Monday's is past.
		{"CRON_TZ=Europe/Berlin 0 9 * * 1-5", []time.Time{at("2026-01-06T08:00:00Z"), at("2026-01-07T08:00:00Z")}},
		{"CRON_TZ=America/New_York 30 6 * * *", []time.Time{at("2026-01-05T11:30:00Z"), at("2026-01-06T11:30:00Z")}},
		// A half-hour zone: its hours start at :30 UTC.
		{"CRON_TZ=Asia/Kolkata @hourly", []time.Time{at("2026-01-05T10:30:00Z"), at("2026-01-05T11:30:00Z")}},
		// Saturdays only: Monday to Saturday, then a week later.
		{"CRON_TZ=UTC 0 3 * * SAT", []time.Time{at("2026-01-10T03:00:00Z"), at("2026-01-17T03:00:00Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, schedule.Options{}, false, schedule.Job{Name: "ws", Schedule: tt.spec})
			h.run()
			for _, want := range tt.want {
				if got := h.nextFiring("ws"); !got.Equal(want) {
					t.Fatalf("Next = %s, want %s", got, want)
				}
				h.armed(want)
				h.clock.Advance(want.Add(-time.Second).Sub(h.clock.Now()))
				h.quiet()
				h.clock.Advance(time.Second)
				st := h.next()
				if !st.at.Equal(want) || st.name != "ws" || st.trigger != schedule.TriggerSchedule {
					t.Fatalf("start = %+v, want ws at %s by schedule", st, want)
				}
			}
		})
	}
}

func TestMissedFiringsCoalesce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, schedule.Options{}, false, schedule.Job{Name: "ws", Schedule: "@every 1m"})
	h.run()
	h.armed(epoch.Add(time.Minute))
	// A jump over ten firings (a suspended host) yields one scan, not ten.
	h.clock.Advance(10*time.Minute + 30*time.Second)
	h.next()
	h.armed(epoch.Add(11*time.Minute + 30*time.Second))
	h.quiet()
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	const jobs, limit = 20, 3
	var inFlight, maxInFlight atomic.Int64
	clock := schedtest.NewFakeClock(epoch)
	starts := make(chan string, jobs)
	gate := make(chan struct{})
	s, err := schedule.New(func(ctx context.Context, name string, _ schedule.Trigger) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		starts <- name
		<-gate
		inFlight.Add(-1)
	}, schedule.Options{Clock: clock, Concurrency: limit, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var js []schedule.Job
	for i := range jobs {
		js = append(js, schedule.Job{Name: string(rune('a' + i)), Schedule: "@every 1m"})
	}
	if err := s.SetJobs(js); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)

	h := &harness{t: t, clock: clock}
	h.advanceTo(epoch.Add(time.Minute))
	seen := map[string]bool{}
	recv := func() {
		t.Helper()
		select {
		case name := <-starts:
			if seen[name] {
				t.Fatalf("%s scanned twice", name)
			}
			seen[name] = true
		case <-time.After(patience):
			t.Fatal("no scan started")
		}
	}
	for range limit {
		recv()
	}
	select {
	case name := <-starts:
		t.Fatalf("scan of %s started beyond the limit", name)
	case <-time.After(20 * time.Millisecond):
	}
	if got := s.Running(); len(got) != limit {
		t.Fatalf("Running() = %v, want %d names", got, limit)
	}
	// Each finished scan frees one slot for one queued scan.
	for range jobs - limit {
		gate <- struct{}{}
		recv()
	}
	for range limit {
		gate <- struct{}{}
	}
	wctx, wcancel := context.WithTimeout(context.Background(), patience)
	defer wcancel()
	if err := s.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	if len(seen) != jobs {
		t.Fatalf("%d workspaces scanned, want %d", len(seen), jobs)
	}
	if got := maxInFlight.Load(); got != limit {
		t.Fatalf("max in flight = %d, want %d", got, limit)
	}
}

// TestSetConcurrency: a reload's concurrency applies to the scans queued
// and to come: raising it starts queued scans at once, lowering it lets
// running scans finish and starts no new one until fewer run.
func TestSetConcurrency(t *testing.T) {
	t.Parallel()
	var js []schedule.Job
	for i := range 8 {
		js = append(js, schedule.Job{Name: string(rune('a' + i)), Schedule: "@daily"})
	}
	h := newHarness(t, schedule.Options{Concurrency: 2}, true, js...)
	h.run()
	for _, j := range js {
		if _, _, err := h.s.Trigger(context.Background(), j.Name); err != nil {
			t.Fatal(err)
		}
	}
	h.next()
	h.next()
	h.quiet()

	if err := h.s.SetConcurrency(5); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h.next()
	}
	h.quiet()
	if got := len(h.s.Running()); got != 5 {
		t.Fatalf("%d running after raising the limit to 5, want 5", got)
	}

	if err := h.s.SetConcurrency(1); err != nil {
		t.Fatal(err)
	}
	// Five run, three queued: four must finish before the next starts.
	for range 4 {
		h.gate <- struct{}{}
		h.quiet()
	}
	h.gate <- struct{}{}
	h.next()
	h.quiet()
	if got := len(h.s.Running()); got != 1 {
		t.Fatalf("%d running under a limit of 1", got)
	}

	if err := h.s.SetConcurrency(-1); err == nil {
		t.Fatal("negative concurrency accepted")
	}
	if err := h.s.SetConcurrency(0); err != nil { // the default, 4
		t.Fatal(err)
	}
	h.next()
	h.next()
	h.quiet()
}

// TestSetJitter: a reload's jitter moves every planned firing within the
// new bound, and no jitter puts each back on its schedule.
func TestSetJitter(t *testing.T) {
	t.Parallel()
	var js []schedule.Job
	for i := range 20 {
		js = append(js, schedule.Job{Name: string(rune('a' + i)), Schedule: "CRON_TZ=UTC @hourly"})
	}
	h := newHarness(t, schedule.Options{}, false, js...)
	hour := time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC)
	for _, j := range js {
		if got := h.nextFiring(j.Name); !got.Equal(hour) {
			t.Fatalf("%s: next firing %s without jitter", j.Name, got)
		}
	}
	const jitter = 10 * time.Minute
	if err := h.s.SetJitter(jitter); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, j := range js {
		got := h.nextFiring(j.Name)
		if got.Before(hour) || !got.Before(hour.Add(jitter)) {
			t.Fatalf("%s: next firing %s outside [%s, +%s)", j.Name, got, hour, jitter)
		}
		if !got.Equal(hour) {
			moved++
		}
	}
	if moved < len(js)/2 {
		t.Fatalf("only %d of %d firings moved by the new jitter", moved, len(js))
	}
	if err := h.s.SetJitter(-time.Second); err == nil {
		t.Fatal("negative jitter accepted")
	}
	if err := h.s.SetJitter(0); err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		if got := h.nextFiring(j.Name); !got.Equal(hour) {
			t.Fatalf("%s: next firing %s after removing the jitter", j.Name, got)
		}
	}
}

func TestNoOverlapPerWorkspace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, schedule.Options{}, true, schedule.Job{Name: "ws", Schedule: "@every 1m"})
	h.run()
	h.advanceTo(epoch.Add(time.Minute))
	h.next()

	// The next firing comes while the scan runs: skipped, not queued. The
	// loop arming its timer for the firing after proves it was handled.
	h.advanceTo(epoch.Add(2 * time.Minute))
	h.armed(epoch.Add(3 * time.Minute))
	h.quiet()

	h.gate <- struct{}{}
	h.quiet() // nothing was queued behind the running scan

	h.advanceTo(epoch.Add(3 * time.Minute))
	if st := h.next(); !st.at.Equal(epoch.Add(3 * time.Minute)) {
		t.Fatalf("start at %s, want %s", st.at, epoch.Add(3*time.Minute))
	}
}

func TestTriggerJoinsRunningScan(t *testing.T) {
	t.Parallel()
	h := newHarness(t, schedule.Options{}, true,
		schedule.Job{Name: "ws", Schedule: "@daily"}, schedule.Job{Name: "other", Schedule: "@daily"})
	h.run()
	ctx := context.Background()

	done, joined, err := h.s.Trigger(ctx, "ws")
	if err != nil || joined {
		t.Fatalf("Trigger = joined %v, err %v; want a new scan", joined, err)
	}
	if st := h.next(); st.name != "ws" || st.trigger != schedule.TriggerManual {
		t.Fatalf("start = %+v, want ws by manual trigger", st)
	}
	if got := h.s.Running(); !slices.Equal(got, []string{"ws"}) {
		t.Fatalf("Running() = %v", got)
	}
	done2, joined, err := h.s.Trigger(ctx, "ws")
	if err != nil || !joined || done2 != done {
		t.Fatalf("second Trigger = joined %v, err %v, same channel %v; want to join", joined, err, done2 == done)
	}
	h.quiet()

	if _, _, err := h.s.Trigger(ctx, "nope"); !errors.Is(err, schedule.ErrUnknownJob) {
		t.Fatalf("Trigger(unknown) error = %v, want ErrUnknownJob", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := h.s.Trigger(cancelled, "other"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Trigger(cancelled ctx) error = %v", err)
	}

	h.gate <- struct{}{}
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("done never closed")
	}
	if got := h.s.Running(); len(got) != 0 {
		t.Fatalf("Running() after the scan = %v", got)
	}

	h.stop()
	if _, _, err := h.s.Trigger(ctx, "ws"); !errors.Is(err, schedule.ErrStopped) {
		t.Fatalf("Trigger after Run returned: error = %v, want ErrStopped", err)
	}
}

func TestJitterSpreadsStarts(t *testing.T) {
	t.Parallel()
	const jobs, jitter = 100, 10 * time.Minute
	var js []schedule.Job
	for i := range jobs {
		js = append(js, schedule.Job{Name: "ws-" + string(rune('A'+i/26)) + string(rune('a'+i%26)), Schedule: "CRON_TZ=UTC @hourly"})
	}
	h := newHarness(t, schedule.Options{Jitter: jitter, Concurrency: jobs}, false, js...)
	hour := time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC)

	want := map[string]time.Time{}
	byTime := map[time.Time]int{}
	for _, j := range js {
		at := h.nextFiring(j.Name)
		if at.Before(hour) || !at.Before(hour.Add(jitter)) {
			t.Fatalf("%s: next firing %s outside [%s, +%s)", j.Name, at, hour, jitter)
		}
		want[j.Name] = at
		byTime[at]++
	}
	if len(byTime) < 90 {
		t.Fatalf("%d distinct start times for %d workspaces, want at least 90", len(byTime), jobs)
	}

	h.run()
	times := slices.SortedFunc(func(yield func(time.Time) bool) {
		for at := range byTime {
			if !yield(at) {
				return
			}
		}
	}, time.Time.Compare)
	for _, at := range times {
		h.advanceTo(at)
		for range byTime[at] {
			st := h.next()
			if !st.at.Equal(want[st.name]) {
				t.Fatalf("%s started at %s, want %s", st.name, st.at, want[st.name])
			}
		}
	}
	h.quiet()

	// The offset depends on the firing: the next hour spreads differently.
	moved := 0
	for name, at := range want {
		if got := h.nextFiring(name); got.Sub(at) != time.Hour {
			moved++
		}
	}
	if moved < jobs/2 {
		t.Fatalf("only %d of %d offsets changed from one hour to the next", moved, jobs)
	}
}

func TestJitterSeed(t *testing.T) {
	t.Parallel()
	nexts := func(src rand.Source) []time.Time {
		t.Helper()
		s, err := schedule.New(func(context.Context, string, schedule.Trigger) {}, schedule.Options{
			Clock: schedtest.NewFakeClock(epoch), Jitter: time.Hour, Rand: src,
		})
		if err != nil {
			t.Fatal(err)
		}
		var js []schedule.Job
		for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			js = append(js, schedule.Job{Name: name, Schedule: "CRON_TZ=UTC @daily"})
		}
		if err := s.SetJobs(js); err != nil {
			t.Fatal(err)
		}
		var out []time.Time
		for _, j := range js {
			at, _ := s.Next(j.Name)
			out = append(out, at)
		}
		return out
	}
	if a, b := nexts(nil), nexts(nil); !slices.Equal(a, b) {
		t.Fatalf("unseeded offsets differ between schedulers: %v vs %v", a, b)
	}
	if a, b := nexts(rand.NewPCG(1, 2)), nexts(rand.NewPCG(1, 2)); !slices.Equal(a, b) {
		t.Fatalf("same seed, different offsets: %v vs %v", a, b)
	}
	if a, b := nexts(rand.NewPCG(1, 2)), nexts(rand.NewPCG(3, 4)); slices.Equal(a, b) {
		t.Fatalf("different seeds, same offsets: %v", a)
	}
}

func TestSetJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, schedule.Options{}, true, schedule.Job{Name: "a", Schedule: "@every 1m"})
	h.run()
	h.armed(epoch.Add(time.Minute))

	if err := h.s.SetJobs([]schedule.Job{{Name: "a", Schedule: "@every 5m"}, {Name: "b", Schedule: "CRON_TZ=UTC @hourly"}}); err != nil {
		t.Fatal(err)
	}
	if got := h.nextFiring("a"); !got.Equal(epoch.Add(5 * time.Minute)) {
		t.Fatalf("Next(a) = %s after the swap", got)
	}
	if got := h.nextFiring("b"); !got.Equal(time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("Next(b) = %s", got)
	}

	for _, bad := range [][]schedule.Job{
		{{Name: "a", Schedule: "@every 1m"}, {Name: "c", Schedule: "not a schedule"}},
		{{Name: "a", Schedule: "CRON_TZ=Europe/Berlin"}},
		{{Name: "a", Schedule: "CRON_TZ=Mars/Olympus 0 * * * *"}},
		{{Name: "a", Schedule: "0 0 * *"}},
		{{Name: "a", Schedule: "@every 1m"}, {Name: "a", Schedule: "@every 2m"}},
		{{Name: "", Schedule: "@every 1m"}},
	} {
		if err := h.s.SetJobs(bad); err == nil {
			t.Fatalf("SetJobs(%v) accepted", bad)
		}
	}
	if got := h.nextFiring("a"); !got.Equal(epoch.Add(5 * time.Minute)) {
		t.Fatalf("Next(a) = %s after rejected swaps", got)
	}
	if _, ok := h.s.Next("c"); ok {
		t.Fatal("a rejected job set left job c behind")
	}

	// The loop now sleeps until a's new firing; the old one-minute firing is gone.
	h.armed(epoch.Add(5 * time.Minute))
	h.clock.Advance(2 * time.Minute)
	h.quiet()

	// An unchanged schedule keeps its next firing across a reload.
	if err := h.s.SetJobs([]schedule.Job{{Name: "a", Schedule: "@every 5m"}}); err != nil {
		t.Fatal(err)
	}
	if got := h.nextFiring("a"); !got.Equal(epoch.Add(5 * time.Minute)) {
		t.Fatalf("Next(a) = %s after reloading the same schedule", got)
	}
	h.advanceTo(epoch.Add(5 * time.Minute))
	if st := h.next(); st.name != "a" {
		t.Fatalf("start = %+v", st)
	}

	// Removing a running job leaves its scan running and forgets the job.
	if err := h.s.SetJobs(nil); err != nil {
		t.Fatal(err)
	}
	if got := h.s.Running(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("Running() = %v after removing a", got)
	}
	if _, ok := h.s.Next("a"); ok {
		t.Fatal("Next(a) after removal")
	}
	if _, _, err := h.s.Trigger(context.Background(), "a"); !errors.Is(err, schedule.ErrUnknownJob) {
		t.Fatalf("Trigger(removed) error = %v", err)
	}
	h.gate <- struct{}{}
}

func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	var logs logbuf.Buffer
	type report struct {
		name string
		v    any
	}
	panics := make(chan report, 1)
	ran := make(chan string, 1)
	s, err := schedule.New(func(_ context.Context, name string, _ schedule.Trigger) {
		if name == "boom" {
			panic("kaboom")
		}
		ran <- name
	}, schedule.Options{
		Clock:       schedtest.NewFakeClock(epoch),
		Concurrency: 1,
		Logger:      slog.New(slog.NewJSONHandler(&logs, nil)),
		OnPanic:     func(name string, v any) { panics <- report{name, v} },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetJobs([]schedule.Job{{Name: "boom", Schedule: "@daily"}, {Name: "fine", Schedule: "@daily"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done, _, err := s.Trigger(ctx, "boom")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("panicking scan never finished")
	}
	select {
	case r := <-panics:
		if r.name != "boom" || r.v != "kaboom" {
			t.Fatalf("OnPanic(%q, %v)", r.name, r.v)
		}
	default:
		t.Fatal("OnPanic not called before done closed")
	}
	for _, want := range []string{`"msg":"scan panicked"`, `"panic":"kaboom"`, `"workspace":"boom"`, "goroutine "} {
		if !bytes.Contains([]byte(logs.String()), []byte(want)) {
			t.Fatalf("log lacks %s:\n%s", want, logs.String())
		}
	}
	// The panic released the only concurrency slot.
	if _, _, err := s.Trigger(ctx, "fine"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(patience):
		t.Fatal("the slot was not released after the panic")
	}
}

func TestScanAtStartup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, schedule.Options{ScanAtStartup: true}, false,
		schedule.Job{Name: "a", Schedule: "@daily"},
		schedule.Job{Name: "b", Schedule: "@daily"},
		schedule.Job{Name: "c", Schedule: "@daily"})
	h.run()
	var got []string
	for range 3 {
		st := h.next()
		if st.trigger != schedule.TriggerStartup || !st.at.Equal(epoch) {
			t.Fatalf("start = %+v, want a startup scan at %s", st, epoch)
		}
		got = append(got, st.name)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("startup scans = %v", got)
	}
	h.quiet()
}

func TestStopDrainsScans(t *testing.T) {
	t.Parallel()
	scanCtx, abort := context.WithCancel(context.Background())
	defer abort()
	clock := schedtest.NewFakeClock(epoch)
	started := make(chan context.Context, 2)
	s, err := schedule.New(func(ctx context.Context, name string, _ schedule.Trigger) {
		started <- ctx
		<-ctx.Done()
	}, schedule.Options{Clock: clock, Concurrency: 1, ScanContext: scanCtx, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetJobs([]schedule.Job{{Name: "a", Schedule: "@daily"}, {Name: "b", Schedule: "@daily"}}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(runCtx) }()

	if _, _, err := s.Trigger(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	select {
	case ctx = <-started:
	case <-time.After(patience):
		t.Fatal("scan of a never started")
	}
	queued, _, err := s.Trigger(context.Background(), "b") // waits for a's slot
	if err != nil {
		t.Fatal(err)
	}

	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return")
	}
	// Stopping the schedule drops the queued scan but not the running one.
	select {
	case <-queued:
	case <-time.After(patience):
		t.Fatal("queued scan not dropped on stop")
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("running scan's context ended with the schedule: %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a scan running = %v, want DeadlineExceeded", err)
	}

	abort() // the daemon's shutdown timeout
	long, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := s.Wait(long); err != nil {
		t.Fatalf("Wait after aborting scans: %v", err)
	}
	if len(started) != 0 {
		t.Fatal("the dropped scan ran")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("second Run accepted")
	}
}

func TestSystemClock(t *testing.T) {
	t.Parallel()
	fired := make(chan schedule.Trigger, 10)
	s, err := schedule.New(func(_ context.Context, _ string, tr schedule.Trigger) { fired <- tr },
		schedule.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetJobs([]schedule.Job{{Name: "ws", Schedule: "@every 1s"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	select {
	case tr := <-fired:
		if tr != schedule.TriggerSchedule {
			t.Fatalf("trigger = %q", tr)
		}
	case <-time.After(patience):
		t.Fatal("@every 1s never fired on the real clock")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, string, schedule.Trigger) {}
	for name, tc := range map[string]struct {
		run  schedule.ScanFunc
		opts schedule.Options
	}{
		"nil run":              {nil, schedule.Options{}},
		"negative concurrency": {noop, schedule.Options{Concurrency: -1}},
		"negative jitter":      {noop, schedule.Options{Jitter: -time.Second}},
	} {
		if _, err := schedule.New(tc.run, tc.opts); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
}
