package server

import (
	"context"
	"sync"
	"time"

	"github.com/driftd/driftd/drift/slo"
)

// CacheSLO returns src's figures computed at most maxAge ago (by now) and
// since the last change of the history (version, such as
// store.Store.Changes), recomputing them in the background: a request
// after either gets the last figures at once while newer ones are
// computed, so that no page view or scrape waits for a pass over
// thousands of workspaces' history. Only a request with no figures yet
// (the first, or the first after a failure) waits. Computations run under
// ctx, not under a request's.
func CacheSLO(ctx context.Context, src SLOSource, version func() uint64, maxAge time.Duration, now func() time.Time) SLOSource {
	c := &sloCache{ctx: ctx, src: src, version: version, maxAge: maxAge, now: now}
	return c.get
}

type sloCache struct {
	ctx     context.Context
	src     SLOSource
	version func() uint64
	maxAge  time.Duration
	now     func() time.Time

	mu    sync.Mutex
	fleet *slo.Fleet // nil when the last computation failed, or none ended
	err   error
	at    time.Time // when the last computation started
	ver   uint64    // the history's version then
	// running is closed when the computation under way ends; nil when
	// none is.
	running chan struct{}
}

func (c *sloCache) get(ctx context.Context) (*slo.Fleet, error) {
	c.mu.Lock()
	ended := c.fleet != nil || c.err != nil
	if ended && c.now().Sub(c.at) < c.maxAge && c.version() == c.ver {
		defer c.mu.Unlock()
		return c.fleet, c.err
	}
	done := c.running
	if done == nil {
		done = make(chan struct{})
		c.running = done
		go c.refresh(done)
	}
	if f := c.fleet; f != nil {
		c.mu.Unlock()
		return f, nil // stale while the refresh runs
	}
	c.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fleet, c.err
}

func (c *sloCache) refresh(done chan struct{}) {
	defer close(done)
	start, ver := c.now(), c.version()
	f, err := c.src(c.ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fleet, c.err, c.at, c.ver, c.running = f, err, start, ver, nil
	if err != nil {
		c.fleet = nil // never stale figures after a failure: it shows
	}
}
