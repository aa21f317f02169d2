package bench

import (
	"context"
	"sync"
	"time"
)

// PhaseRSS is the largest resident set a process was seen with during
// one phase of a benchmark, and its split at that moment.
type PhaseRSS struct {
	Phase string `json:"phase"`
	RSS   int64  `json:"rss_bytes"`
	Anon  int64  `json:"rss_anon_bytes"`
	File  int64  `json:"rss_file_bytes"`
}

// rssWatch samples a process's VmRSS, RssAnon and RssFile every few
// milliseconds and keeps the largest sample of each phase: VmHWM says how
// high the resident set went, this says when and of what.
type rssWatch struct {
	pid    int
	mu     sync.Mutex
	phases []PhaseRSS
	stop   context.CancelFunc
	done   chan struct{}
}

func watchRSS(ctx context.Context, pid int, phase string) *rssWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &rssWatch{pid: pid, phases: []PhaseRSS{{Phase: phase}}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			w.sample()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) sample() {
	var s PhaseRSS
	if procStatusFields(w.pid, map[string]*int64{"VmRSS": &s.RSS, "RssAnon": &s.Anon, "RssFile": &s.File}) != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p := &w.phases[len(w.phases)-1]
	if s.RSS > p.RSS {
		s.Phase = p.Phase
		*p = s
	}
}

// phase starts the next phase.
func (w *rssWatch) phase(name string) {
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.phases = append(w.phases, PhaseRSS{Phase: name})
}

// close stops sampling and returns each phase's peak.
func (w *rssWatch) close() []PhaseRSS {
	w.sample()
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.phases
}
