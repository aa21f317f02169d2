package server

import (
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

func TestYScale(t *testing.T) {
	t.Parallel()
	tests := []struct{ peak, step, top int }{
		{0, 1, 1}, {1, 1, 1}, {3, 1, 3}, {4, 1, 4}, {5, 2, 6}, {8, 2, 8}, {9, 5, 10},
		{20, 5, 20}, {21, 10, 30}, {40, 10, 40}, {41, 20, 60}, {199, 50, 200}, {1234, 500, 1500},
	}
	for _, tt := range tests {
		step, top := yScale(tt.peak)
		if step != tt.step || top != tt.top {
			t.Errorf("yScale(%d) = %d, %d; want %d, %d", tt.peak, step, top, tt.step, tt.top)
		}
	}
}

func TestChart(t *testing.T) {
	t.Parallel()
	if newChart(nil) != nil {
		t.Error("chart of no scans")
	}
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	// Newest first, as the store returns them.
	scans := []store.Scan{
		{StartedAt: t0.Add(2 * time.Hour), Status: drift.StatusDrifted, Drifted: 4},
		{StartedAt: t0.Add(time.Hour), Status: drift.StatusError},
		{StartedAt: t0, Status: drift.StatusClean},
	}
	c := newChart(scans)
	if len(c.Bars) != 3 || c.Bars[0].Class != "clean" || c.Bars[1].Class != "error" || c.Bars[2].Class != "drifted" {
		t.Fatalf("bars = %+v, want clean, error, drifted from left to right", c.Bars)
	}
	// The tallest bar reaches the axis top: 4 resources, ticks 0..4.
	if c.Bars[2].Y != c.Top || len(c.YTicks) != 5 || c.YTicks[4].Label != "4" {
		t.Errorf("tallest bar at y=%s (top %s), ticks %+v", c.Bars[2].Y, c.Top, c.YTicks)
	}
	if c.XLabels[0].Label != "Nov 20 00:00" || c.XLabels[1].Label != "Nov 20 02:00" {
		t.Errorf("x labels = %+v", c.XLabels)
	}
}
