package schedtest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/driftd/driftd/drift/schedule/schedtest"
)

func fired(t *testing.T, c <-chan time.Time) (time.Time, bool) {
	t.Helper()
	select {
	case at := <-c:
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestFakeClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	c := schedtest.NewFakeClock(t0)

	now := c.NewTimer(0)
	if at, ok := fired(t, now.C()); !ok || !at.Equal(t0) {
		t.Fatalf("a zero timer did not fire at once: %v %v", at, ok)
	}

	a := c.NewTimer(time.Minute)
	b := c.NewTimer(2 * time.Minute)
	stopped := c.NewTimer(time.Minute)
	if got, want := c.Timers(), []time.Time{t0.Add(time.Minute), t0.Add(time.Minute), t0.Add(2 * time.Minute)}; !slices.Equal(got, want) {
		t.Fatalf("Timers() = %v, want %v", got, want)
	}
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}

	c.Advance(time.Minute - time.Nanosecond)
	if _, ok := fired(t, a.C()); ok {
		t.Fatal("timer fired before its deadline")
	}
	c.Advance(time.Nanosecond)
	if at, ok := fired(t, a.C()); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("timer at its deadline: fired %v at %v", ok, at)
	}
	if _, ok := fired(t, stopped.C()); ok {
		t.Fatal("a stopped timer fired")
	}
	if a.Stop() {
		t.Fatal("Stop of a fired timer returned true")
	}
	if got := c.Timers(); !slices.Equal(got, []time.Time{t0.Add(2 * time.Minute)}) {
		t.Fatalf("Timers() = %v", got)
	}

	c.Advance(time.Hour)
	if at, ok := fired(t, b.C()); !ok || !at.Equal(t0.Add(time.Hour+time.Minute)) {
		t.Fatalf("overdue timer: fired %v at %v", ok, at)
	}
	if !c.Now().Equal(t0.Add(time.Hour + time.Minute)) {
		t.Fatalf("Now() = %v", c.Now())
	}
}
