package server_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftd/driftd/drift/slo"
	"github.com/driftd/driftd/internal/server"
)

// gatedSource computes when the test lets it, counting computations.
type gatedSource struct {
	mu    sync.Mutex
	calls int
	err   error
	gate  chan struct{} // one receive per computation
}

func (g *gatedSource) compute(context.Context) (*slo.Fleet, error) {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.err != nil {
		return nil, g.err
	}
	return &slo.Fleet{Fleet: slo.Summary{Workspaces: g.calls}}, nil
}

func (g *gatedSource) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

func TestCacheSLO(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: now}
	src := &gatedSource{gate: make(chan struct{})}
	var history atomic.Uint64
	get := server.CacheSLO(t.Context(), src.compute, history.Load, time.Minute, clock.Now)
	version := func() int {
		t.Helper()
		f, err := get(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return f.Fleet.Workspaces
	}

	// The first requests wait for one computation, together.
	var wg sync.WaitGroup
	got := make([]int, 3)
	for i := range got {
		wg.Go(func() { got[i] = version() })
	}
	src.gate <- struct{}{}
	wg.Wait()
	if got[0] != 1 || got[1] != 1 || got[2] != 1 || src.count() != 1 {
		t.Fatalf("first requests got %v after %d computations, want 1s after 1", got, src.count())
	}
	// Within maxAge: the same figures, nothing computed.
	clock.Add(59 * time.Second)
	if v := version(); v != 1 || src.count() != 1 {
		t.Errorf("within a minute: version %d after %d computations", v, src.count())
	}
	// Past it: the old figures at once (the source is blocked), then the
	// new ones once computed.
	clock.Add(2 * time.Second)
	if v := version(); v != 1 {
		t.Errorf("stale request got version %d, want the old 1 at once", v)
	}
	if v := version(); v != 1 {
		t.Errorf("second stale request got version %d", v)
	}
	src.gate <- struct{}{}
	waitUntil(t, func() bool { return version() == 2 })
	if src.count() != 2 {
		t.Errorf("%d computations, want 2: stale requests share one refresh", src.count())
	}

	// A new scan saved: the figures at once, then recomputed.
	history.Add(1)
	if v := version(); v != 2 {
		t.Errorf("after a change got version %d, want the old 2 at once", v)
	}
	src.gate <- struct{}{}
	waitUntil(t, func() bool { return version() == 3 })
	if v := version(); v != 3 || src.count() != 3 {
		t.Errorf("unchanged history: version %d after %d computations, want 3 after 3", v, src.count())
	}

	// A failure is answered as such, not hidden behind old figures.
	clock.Add(2 * time.Minute)
	src.mu.Lock()
	src.err = errors.New("store broken")
	src.mu.Unlock()
	version() // stale, starts the refresh
	src.gate <- struct{}{}
	waitUntil(t, func() bool { _, err := get(t.Context()); return err != nil })
}

// waitUntil polls cond; the deadline is only a safety net.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
