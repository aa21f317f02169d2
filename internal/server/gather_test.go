package server

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestScrapesShareAGathering: scrapes that arrive while one gathers get
// its result instead of gathering again, and a scrape after it gathers
// afresh.
func TestScrapesShareAGathering(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	inside, release := make(chan struct{}), make(chan struct{})
	g := &sharedGatherer{g: prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		if calls.Add(1) == 1 {
			close(inside)
			<-release
		}
		name := "driftd_x"
		return []*dto.MetricFamily{{Name: &name}}, nil
	})}
	results := make(chan []*dto.MetricFamily, 5)
	scrape := func() {
		mfs, err := g.Gather()
		if err != nil {
			t.Error(err)
		}
		results <- mfs
	}
	go scrape()
	<-inside
	for range 4 {
		go scrape()
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		joined := g.joined
		g.mu.Unlock()
		if joined == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d scrapes joined the gathering under way, want 4", joined)
		}
	}
	close(release)
	first := <-results
	for range 4 {
		if got := <-results; len(got) != 1 || got[0] != first[0] {
			t.Errorf("a scrape that joined got %v, not the gathering's %v", got, first)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("5 scrapes at once gathered %d times, want 1", n)
	}
	scrape()
	if again := <-results; calls.Load() != 2 || again[0] == first[0] {
		t.Errorf("a scrape after the gathering got its result (%d gatherings)", calls.Load())
	}
}
