// Package schedtest provides a fake clock for testing code built on
// drift/schedule.
package schedtest

import (
	"slices"
	"sync"
	"time"

	"github.com/driftd/driftd/drift/schedule"
)

// FakeClock is a schedule.Clock whose time moves only when Advance is called.
// It is safe for concurrent use.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

var _ schedule.Clock = (*FakeClock)(nil)

// NewFakeClock returns a clock that reads now until advanced.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires once the clock has been advanced by d.
// A timer with d <= 0 fires at once, as time.NewTimer's does.
func (c *FakeClock) NewTimer(d time.Duration) schedule.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, when: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d and fires every timer that is then due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	pending := c.timers[:0]
	for _, t := range c.timers {
		if t.when.After(c.now) {
			pending = append(pending, t)
			continue
		}
		// The channel has room for exactly this one send: a timer fires once.
		t.ch <- c.now
	}
	clear(c.timers[len(pending):])
	c.timers = pending
}

// Timers returns the deadlines of the timers that have neither fired nor been
// stopped, earliest first: a test waits until the code under test has armed
// the timer it expects before advancing the clock.
func (c *FakeClock) Timers() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds := make([]time.Time, len(c.timers))
	for i, t := range c.timers {
		ds[i] = t.when
	}
	slices.SortFunc(ds, time.Time.Compare)
	return ds
}

type fakeTimer struct {
	clock *FakeClock
	when  time.Time
	ch    chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

// Stop removes the timer and reports whether it was still pending.
func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.timers {
		if p == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}
