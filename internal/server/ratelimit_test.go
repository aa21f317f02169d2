package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/reliability"
)

// TestLimiterBounded: however many clients fail, the limiter remembers at
// most maxLimited of them plus the budget the rest share, and forgets
// those whose budget is whole again.
func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := t0
	l := newLimiter(1, time.Minute, func() time.Time { return clock })
	addrs := 0 // distinct client addresses failing, for the reliability table
	take := func(key string) (time.Duration, bool) { addrs++; return l.take(key) }
	for i := range maxLimited {
		if _, ok := take(fmt.Sprint("client", i)); !ok {
			t.Fatalf("client %d refused on its first event", i)
		}
	}
	if n := len(l.full); n != maxLimited {
		t.Fatalf("%d keys, want %d", n, maxLimited)
	}
	// Past the bound, new clients share one budget.
	if _, ok := take("late1"); !ok {
		t.Error("first client past the bound refused")
	}
	if wait, ok := take("late2"); ok || wait != time.Minute {
		t.Errorf("second client past the bound: ok %v, wait %s; want refused for 1m (shared budget)", ok, wait)
	}
	if n := len(l.full); n != maxLimited+1 {
		t.Errorf("%d keys, want %d", n, maxLimited+1)
	}
	// Once every budget is whole again, a new client clears them out.
	clock = t0.Add(time.Minute)
	if _, ok := take("fresh"); !ok {
		t.Error("fresh client refused")
	}
	if n := len(l.full); n != 1 {
		t.Errorf("%d keys after the budgets refilled, want 1", n)
	}
	reliability.Times(t, "HTTP server", "failed triggers from ever new client addresses (filling the rate limiter's memory)",
		"at most a fixed number of addresses remembered, the rest sharing one budget; forgotten once their budgets refill").Add(addrs)
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1:5000":          "192.0.2.1",
		"[::ffff:192.0.2.1]:5000": "192.0.2.1",
		"[2001:db8::1]:5000":      "2001:db8::/64",
		"[2001:db8::1%eth0]:1":    "2001:db8::/64",
		"[2001:db8:0:1::9]:1":     "2001:db8:0:1::/64",
		"@":                       "@", // a unix socket's peer
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
