package server

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// maxLimited bounds the keys a limiter remembers; past it, new keys share
// one budget, so that many client addresses cannot grow memory.
const maxLimited = 10000

// overflowKey is the budget keys share once the limiter is full.
const overflowKey = "\x00overflow"

// limiter allows each key burst events at once, then one per every (a
// generic cell rate algorithm: per key, the time at which its budget is
// whole again).
type limiter struct {
	burst int
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	full map[string]time.Time
}

func newLimiter(burst int, every time.Duration, now func() time.Time) *limiter {
	return &limiter{burst: burst, every: every, now: now, full: make(map[string]time.Time)}
}

// take spends one of key's events. When none is left it spends nothing
// and returns how long until one is.
func (l *limiter) take(key string) (wait time.Duration, ok bool) {
	return l.check(key, true)
}

// wait is how long key must wait for an event; 0 when it has one now.
func (l *limiter) wait(key string) time.Duration {
	w, _ := l.check(key, false)
	return w
}

func (l *limiter) check(key string, spend bool) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if _, known := l.full[key]; !known && len(l.full) >= maxLimited {
		l.prune(now)
		if len(l.full) >= maxLimited {
			key = overflowKey
		}
	}
	full := l.full[key]
	if full.Before(now) {
		full = now
	}
	next := full.Add(l.every)
	if over := next.Sub(now) - time.Duration(l.burst)*l.every; over > 0 {
		return over, false
	}
	if spend {
		l.full[key] = next
	}
	return 0, true
}

// prune forgets keys whose budget is whole again.
func (l *limiter) prune(now time.Time) {
	for k, t := range l.full {
		if !t.After(now) {
			delete(l.full, k)
		}
	}
}

// clientKey is whom a request's failures count against: its peer's
// address, IPv6 addresses by /64 (one host usually holds a whole /64).
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
