package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/drift/scan"
)

// progress shows, on a terminal, which workspaces are being scanned and
// for how long, and a line per workspace as it finishes. It is never used
// when stderr is not a terminal.
type progress struct {
	w     io.Writer
	total int
	now   func() time.Time

	mu      sync.Mutex
	running map[string]time.Time
	done    int
	stop    chan struct{}
	stopped chan struct{}
}

func startProgress(w io.Writer, total int, now func() time.Time) *progress {
	p := &progress{w: w, total: total, now: now, running: map[string]time.Time{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.stopped)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.mu.Lock()
			fmt.Fprint(p.w, "\r\x1b[K")
			p.mu.Unlock()
			return
		case <-t.C:
			p.mu.Lock()
			p.drawLocked()
			p.mu.Unlock()
		}
	}
}

func (p *progress) event(e scan.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Report == nil {
		p.running[e.Workspace] = e.Started
	} else {
		delete(p.running, e.Workspace)
		p.done++
		fmt.Fprintf(p.w, "\r\x1b[K%s %s: %s (%s)\n", statusMark(string(e.Report.Status)), render.Terminal(e.Workspace),
			render.Terminal(render.Summary(e.Report)), e.Report.Duration.Round(100*time.Millisecond))
	}
	p.drawLocked()
}

func (p *progress) drawLocked() {
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %ds", render.Terminal(n), int(p.now().Sub(p.running[n]).Seconds())))
	}
	line := fmt.Sprintf("scanning %d/%d", p.done, p.total)
	if len(parts) > 0 {
		line += " · " + strings.Join(parts, ", ")
	}
	if len(line) > 120 {
		line = line[:117] + "..."
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
}

func (p *progress) close() {
	close(p.stop)
	<-p.stopped
}

func statusMark(status string) string {
	switch status {
	case "drifted":
		return "~"
	case "error":
		return "✗"
	}
	return "✓"
}
