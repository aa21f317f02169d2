package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftd/driftd/drift/schedule"
	"github.com/driftd/driftd/drift/schedule/schedtest"
	"github.com/driftd/driftd/internal/server"
)

// TestRealScheduler triggers scans through the real scheduler: the first
// request starts a scan, a second one while it runs joins it, the status
// page shows it running and the next firing comes from the real schedule.
func TestRealScheduler(t *testing.T) {
	t.Parallel()
	started := make(chan string, 10)
	release := make(chan struct{})
	sched, err := schedule.New(func(ctx context.Context, name string, trigger schedule.Trigger) {
		started <- name + ":" + string(trigger)
		<-release
	}, schedule.Options{Clock: schedtest.NewFakeClock(now), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := sched.SetJobs([]schedule.Job{{Name: "dns", Schedule: "@every 30m"}, {Name: "network", Schedule: "CRON_TZ=UTC 0 12 * * *"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- sched.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-ran
		wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
		defer wcancel()
		_ = sched.Wait(wctx)
	})
	releaseScan := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseScan)

	ts := newTestServer(t, openEstate(t), func(o *server.Options) {
		o.Scheduler = sched
		o.Workspaces = func() []string { return []string{"dns", "network"} }
	})
	auth := http.Header{"Authorization": {"Bearer " + triggerToken}}

	resp, body := ts.do(t, http.MethodPost, "/api/v1/workspaces/dns/scan", auth)
	if resp.StatusCode != 202 || !strings.Contains(body, `"joined": false`) {
		t.Fatalf("first trigger: %d %s", resp.StatusCode, body)
	}
	select {
	case got := <-started:
		if got != "dns:manual" {
			t.Fatalf("scan started = %s, want dns:manual", got)
		}
	case <-time.After(time.Minute): // a safety net only
		t.Fatal("triggered scan did not start")
	}
	resp, body = ts.do(t, http.MethodPost, "/api/v1/workspaces/dns/scan", auth)
	if resp.StatusCode != 202 || !strings.Contains(body, `"joined": true`) {
		t.Fatalf("second trigger: %d %s", resp.StatusCode, body)
	}

	_, body = ts.get(t, "/api/v1/workspaces")
	ws := decode[struct{ Workspaces []apiWorkspace }](t, body).Workspaces
	if len(ws) != 2 || !ws[0].Running || ws[1].Running {
		t.Errorf("running flags = %+v, want dns running, network not", ws)
	}
	if want := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC); !ws[1].NextScan.Equal(want) {
		t.Errorf("network next scan = %v, want %v", ws[1].NextScan, want)
	}
	releaseScan()
}
