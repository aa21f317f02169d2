package server_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/internal/server"
)

// heldCollector holds every Collect until released, counting them.
type heldCollector struct {
	desc    *prometheus.Desc
	calls   atomic.Int32
	release chan struct{}
}

func (c *heldCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *heldCollector) Collect(ch chan<- prometheus.Metric) {
	c.calls.Add(1)
	<-c.release
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1)
}

// TestScrapesShareAGathering: scrapes that arrive while one gathers get
// its result instead of each gathering (tens of MB at 5,000 workspaces).
func TestScrapesShareAGathering(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	held := &heldCollector{desc: prometheus.NewDesc("driftd_test_held", "Held.", nil, nil), release: make(chan struct{})}
	reg.MustRegister(held)
	m, err := server.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, openEstate(t), func(o *server.Options) { o.Metrics = m })
	const scrapes = 5
	var wg sync.WaitGroup
	bodies := make([]string, scrapes)
	for i := range scrapes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			ts.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost/metrics", nil))
			bodies[i] = rec.Body.String()
		}()
	}
	// Until every scrape waits in one gathering, or (without sharing)
	// each has started its own.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		buf := make([]byte, 1<<20)
		waiting := strings.Count(string(buf[:runtime.Stack(buf, true)]), "(*coalescingGatherer).Gather(")
		if waiting == scrapes || held.calls.Load() == scrapes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute, %d scrapes wait in a shared gathering and %d gathered", waiting, held.calls.Load())
		}
	}
	close(held.release)
	wg.Wait()
	if n := held.calls.Load(); n != 1 {
		t.Errorf("%d scrapes at once gathered %d times, want once", scrapes, n)
	}
	for i, b := range bodies {
		if !strings.Contains(b, "driftd_test_held 1") {
			t.Errorf("scrape %d lacks the gathered series:\n%.300s", i, b)
		}
	}
}
