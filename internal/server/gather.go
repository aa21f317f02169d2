package server

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sharedGatherer gathers for every scrape that arrives while a gathering
// is under way the same result, read-only: with thousands of workspaces
// one gathering makes tens of MB of series, and scrapes at once (two
// Prometheus replicas, a person with curl) each making their own would
// multiply the daemon's heap. A scrape that joins gets figures at most
// one gathering old.
type sharedGatherer struct {
	g prometheus.Gatherer

	mu   sync.Mutex
	call *gathering // the gathering under way; nil when none is
	// joined counts the scrapes that joined a gathering under way (tests
	// read it).
	joined int
}

type gathering struct {
	done chan struct{}
	mfs  []*dto.MetricFamily
	err  error
}

func (s *sharedGatherer) Gather() ([]*dto.MetricFamily, error) {
	s.mu.Lock()
	if c := s.call; c != nil {
		s.joined++
		s.mu.Unlock()
		<-c.done
		return c.mfs, c.err
	}
	// The error stands if the gathering panics, for those who joined it.
	c := &gathering{done: make(chan struct{}), err: errors.New("gathering the metrics failed")}
	s.call = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.call = nil
		s.mu.Unlock()
		close(c.done)
	}()
	c.mfs, c.err = s.g.Gather()
	return c.mfs, c.err
}
