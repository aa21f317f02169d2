package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/drift/schedule"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/internal/server"
)

// heldScanner scans a workspace when released, so that a test can change
// the config while a scan runs.
type heldScanner struct {
	started, release chan struct{}
}

func (s *heldScanner) One(ctx context.Context, ws config.Workspace) *drift.Report {
	close(s.started)
	<-s.release
	return &drift.Report{Workspace: ws.Name, Status: drift.StatusDrifted, Drift: []drift.ResourceChange{{Address: "a.b"}}}
}

// countingDeliverer counts the reports handed to the reporters.
type countingDeliverer struct {
	mu        sync.Mutex
	delivered []string
}

func (c *countingDeliverer) Deliver(_ context.Context, r *drift.Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delivered = append(c.delivered, r.Workspace)
}

// TestScanOfRemovedWorkspace: a workspace removed by a reload while it is
// scanned keeps its report in the store, but its metrics and its
// notifications, forgotten with it, do not come back.
func TestScanOfRemovedWorkspace(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "driftd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	m, err := server.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	scanner := &heldScanner{started: make(chan struct{}), release: make(chan struct{})}
	deliver := &countingDeliverer{}
	setup := func(names ...string) Setup {
		cfg := &config.Config{}
		for _, n := range names {
			cfg.Workspaces = append(cfg.Workspaces, config.Workspace{Name: n, Schedule: "@daily"})
		}
		return Setup{Config: cfg, Scanner: scanner, Deliver: deliver}
	}
	d, err := New(setup("gone", "kept"), Options{Store: st, Observer: m, Scheduler: schedule.Options{Concurrency: 1}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.scan(ctx, "gone", schedule.TriggerManual)
	}()
	<-scanner.started
	if err := d.Apply(setup("kept")); err != nil {
		t.Fatal(err)
	}
	close(scanner.release)
	<-done

	if r, err := st.LastReport(ctx, "gone"); err != nil || r == nil {
		t.Errorf("the scan's report was not kept: %v, %v", r, err)
	}
	if len(deliver.delivered) != 0 {
		t.Errorf("reports delivered for a removed workspace: %v", deliver.delivered)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(text.String(), `workspace="gone"`) {
		t.Errorf("series of the removed workspace came back:\n%s", text.String())
	}
}
