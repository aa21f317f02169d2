//go:build !linux

package runner

// RunGuard returns at once: the guard needs /proc to find a scan's
// processes, so there is none outside Linux.
func RunGuard() {}

// Guard does nothing outside Linux; StartGuard returns nil.
type Guard struct{}

// StartGuard returns nil: outside Linux provider plugins may outlive a
// killed driftd until the next one sweeps.
func StartGuard() (*Guard, error) { return nil, nil }

func (g *Guard) watch(string)   {}
func (g *Guard) unwatch(string) {}

// Close does nothing.
func (g *Guard) Close() error { return nil }
