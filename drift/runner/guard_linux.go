package runner

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"github.com/driftd/driftd/drift/workdir"
)

// Terraform dies with driftd: terraform-exec gives it SIGKILL as its
// parent-death signal, and driftd's own terraform and git commands get the
// same (procAttr). The provider plugins terraform starts are terraform's
// children, though, and have none: with driftd and terraform killed, they
// would run on, holding the scan's credentials in their environment, until
// the next driftd sweeps. So a driftd that scans starts one guard: a copy
// of its own binary that only waits. driftd tells it, through a pipe, the
// id of every scan in flight; when the pipe closes, however driftd ended
// (kill -9 included: the kernel closes it), the guard kills every process
// of the scans still in flight and exits.

// guardEnv, set to "1", makes RunGuard turn the process into a guard.
const guardEnv = "DRIFTD_GUARD"

// RunGuard makes this process a guard, and never returns, when driftd
// started it as one; otherwise it returns at once. A program that sets
// Options.Guard calls it first thing in main (and in TestMain).
func RunGuard() {
	if os.Getenv(guardEnv) != "1" {
		return
	}
	// The guard stops when driftd's pipe closes, not on a signal meant for
	// driftd (Ctrl-C, a service manager's SIGTERM): it must outlive it.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	scans := map[string]bool{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		switch id := line[1:]; line[0] {
		case '+':
			scans[id] = true
		case '-':
			delete(scans, id)
		}
	}
	needles := make([]string, 0, len(scans))
	for id := range scans {
		needles = append(needles, workdir.ScanIDEnv+"="+id)
	}
	if len(needles) > 0 {
		killScans(needles...)
	}
	os.Exit(0)
}

// Guard is driftd's link to its guard process; nil methods do nothing.
type Guard struct {
	mu  sync.Mutex
	w   *os.File // nil once writing failed
	cmd *exec.Cmd
}

// StartGuard starts the guard process, a copy of this binary, which must
// call RunGuard first thing.
func StartGuard() (*Guard, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	defer r.Close()
	// /proc/self/exe runs this very binary even if its file was replaced
	// or removed since it started (an upgrade).
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{guardEnv + "=1"}
	cmd.Stdin = r
	// Its own process group: a signal to driftd's group (a terminal's
	// Ctrl-C, kill -- -PGID) does not reach it. No parent-death signal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("guard: %w", err)
	}
	g := &Guard{w: w, cmd: cmd}
	// Reap it when it exits (after driftd closes the pipe, or killed).
	go cmd.Wait() //nolint:errcheck // nothing to do with its status
	return g, nil
}

// watch tells the guard that scanID is in flight; unwatch that it is not.
func (g *Guard) watch(scanID string)   { g.send('+', scanID) }
func (g *Guard) unwatch(scanID string) { g.send('-', scanID) }

func (g *Guard) send(op byte, scanID string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w == nil {
		return
	}
	if _, err := fmt.Fprintf(g.w, "%c%s\n", op, scanID); err != nil {
		// The guard is gone (killed by hand): scans go on without it, the
		// next driftd's sweep being the fallback.
		g.w.Close()
		g.w = nil
	}
}

// Close stops the guard (it kills nothing: every scan has ended).
func (g *Guard) Close() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w == nil {
		return nil
	}
	err := g.w.Close()
	g.w = nil
	return err
}
