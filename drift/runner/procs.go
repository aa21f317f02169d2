package runner

import (
	"runtime"
	"strconv"
	"sync/atomic"
)

// Terraform and most providers are Go programs, and each sizes itself for
// every core (GOMAXPROCS) unless told otherwise: scans running side by side
// then spin and run GC workers on cores the others need. So each scan's
// processes are sized for their share of the cores driftd may use, by the
// number of scans in progress when the scan's first terraform process is
// about to start (this one included): a scan running alone gets every core,
// whatever the concurrency allows. The size holds for the scan's life: a
// process cannot be resized once started, and resizing only later steps
// of a scan would give its init, plan and show different sizes for no
// gain worth the churn. So the first scans of a fleet may keep more than
// their share while the others start, and the last ones less than they
// could have once the others finish; a workspace's own GOMAXPROCS wins.
// See docs/performance.md.

// scanCount counts a Runner's scans in progress.
type scanCount struct{ n atomic.Int64 }

// start counts a scan in; the returned func counts it out.
func (c *scanCount) start() func() {
	c.n.Add(1)
	return func() { c.n.Add(-1) }
}

func (c *scanCount) running() int { return int(c.n.Load()) }

// ProcsFor is the GOMAXPROCS of a scan's processes when running scans
// share cores: an even share, at least one.
func ProcsFor(cores, running int) int {
	return max(1, cores/max(1, running))
}

// scanProcs is the GOMAXPROCS for a scan starting its processes now.
func (r *Runner) scanProcs() string {
	cores := runtime.GOMAXPROCS(0)
	if r.cores != nil {
		cores = r.cores()
	}
	return strconv.Itoa(ProcsFor(cores, r.scans.running()))
}
