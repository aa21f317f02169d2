package config

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Defaults of the server section.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultConcurrency     = 4
	DefaultShutdownTimeout = 5 * time.Minute
	DefaultRetentionAge    = 90 * 24 * time.Hour
	DefaultRetentionScans  = 1000
	DefaultMinInterval     = time.Minute
)

var (
	serverFields    = []string{"listen", "data_dir", "trigger_token_env", "trigger_token_file", "concurrency", "jitter", "min_interval", "scan_at_startup", "shutdown_timeout", "retention"}
	retentionFields = []string{"max_age", "max_scans"}
)

// Server holds the settings of `driftd serve`. Parse always fills it, with
// defaults when the file has no server section.
type Server struct {
	// Listen is host:port for the HTTP server.
	Listen string
	// DataDir holds the store and the git mirrors. "" means the CLI chooses
	// ($XDG_STATE_HOME/driftd); otherwise it is absolute, relative paths
	// in the file being resolved against the config file's directory.
	DataDir string
	// TriggerToken guards the scan trigger API; "" disables the API.
	TriggerToken Secret
	// Concurrency bounds the scans running at once.
	Concurrency int
	// Jitter is the maximum delay added to each scheduled scan.
	Jitter time.Duration
	// MinInterval is the shortest interval a workspace's schedule may have.
	MinInterval   time.Duration
	ScanAtStartup bool
	// ShutdownTimeout is how long running scans may finish after SIGTERM.
	ShutdownTimeout time.Duration
	Retention       Retention
}

// Retention bounds the scan history kept per workspace; zero values mean
// keep forever.
type Retention struct {
	MaxAge   time.Duration
	MaxScans int
}

func defaultServer() Server {
	return Server{
		Listen:          DefaultListen,
		Concurrency:     DefaultConcurrency,
		ShutdownTimeout: DefaultShutdownTimeout,
		MinInterval:     DefaultMinInterval,
		Retention:       Retention{MaxAge: DefaultRetentionAge, MaxScans: DefaultRetentionScans},
	}
}

// server decodes the server section onto s. It returns the jitter field
// when jitter is valid, for the check against schedules.
func (d *decoder) server(f field, s *Server) (jitter *field) {
	fs, ok := d.mapping(f.val, f.path, serverFields, map[string]string{"trigger_token": inline("trigger_token")})
	if !ok {
		return nil
	}
	if r, ok := fs["listen"]; ok {
		if v, ok := d.str(r, true); ok {
			if msg := checkListen(v); msg != "" {
				d.errorf(r.val, r.path, "%s", msg)
			}
			s.Listen = v
		}
	}
	if r, ok := fs["data_dir"]; ok {
		if v, ok := d.str(r, true); ok {
			if v == "" {
				d.errorf(r.val, r.path, "must not be empty; leave data_dir out for the default")
			} else {
				s.DataDir, _ = d.localPath(r, v)
			}
		}
	}
	s.TriggerToken, _ = d.secret(fs, "trigger_token")
	if r, ok := fs["concurrency"]; ok {
		if v, ok := d.integer(r); ok {
			if v < 1 || v > 64 {
				d.errorf(r.val, r.path, "must be between 1 and 64, got %d", v)
			}
			s.Concurrency = int(v)
		}
	}
	if r, ok := fs["jitter"]; ok {
		if v, ok := d.duration(r); ok {
			if v < 0 {
				d.errorf(r.val, r.path, "must not be negative, got %s", describe(r.val))
			} else {
				jitter = &r
			}
			s.Jitter = v
		}
	}
	if r, ok := fs["min_interval"]; ok {
		if v, ok := d.duration(r); ok {
			if v < time.Second {
				d.errorf(r.val, r.path, "must be at least 1s (schedules fire at most once a second), got %s", describe(r.val))
			} else {
				s.MinInterval = v
			}
		}
	}
	if r, ok := fs["scan_at_startup"]; ok {
		s.ScanAtStartup, _ = d.boolean(r)
	}
	if r, ok := fs["shutdown_timeout"]; ok {
		if v, ok := d.duration(r); ok {
			if v <= 0 {
				d.errorf(r.val, r.path, "must be positive, got %s", describe(r.val))
			}
			s.ShutdownTimeout = v
		}
	}
	if r, ok := fs["retention"]; ok {
		d.retention(r, &s.Retention)
	}
	return jitter
}

func (d *decoder) retention(f field, r *Retention) {
	fs, ok := d.mapping(f.val, f.path, retentionFields, nil)
	if !ok {
		return
	}
	if g, ok := fs["max_age"]; ok {
		if v, ok := d.duration(g); ok {
			if v < 0 {
				d.errorf(g.val, g.path, "must be 0 (keep forever) or more, got %s", describe(g.val))
			}
			r.MaxAge = v
		}
	}
	if g, ok := fs["max_scans"]; ok {
		if v, ok := d.integer(g); ok {
			if v < 0 || v > 1<<31-1 {
				d.errorf(g.val, g.path, "must be 0 (keep forever) or more, got %d", v)
			}
			r.MaxScans = int(v)
		}
	}
}

// checkListen says what is wrong with a listen address, or "".
func checkListen(s string) string {
	const want = `want host:port, e.g. "127.0.0.1:8080" or ":8080"`
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "invalid address " + strconv.Quote(s) + ": " + want
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "invalid port " + strconv.Quote(port) + ": want a number from 1 to 65535"
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /@[]") {
		return "invalid host " + strconv.Quote(host) + ": " + want
	}
	return ""
}

// intervals caches minInterval by schedule: most workspaces share a few.
type intervals map[string]interval

type interval struct {
	gap time.Duration
	ok  bool
}

func (c intervals) of(spec string) interval {
	iv, done := c[spec]
	if !done {
		iv.gap, iv.ok = minInterval(spec)
		c[spec] = iv
	}
	return iv
}

// checkJitter reports every workspace whose schedule can fire again within
// the jitter: its scans would start in an order nobody asked for, or pile
// up behind each other.
func (d *decoder) checkJitter(jf field, jitter time.Duration, states []*wsState, ivs intervals) {
	if jitter <= 0 {
		return
	}
	for _, st := range states {
		if !d.visit() {
			return
		}
		iv := ivs.of(st.w.Schedule)
		if !iv.ok || jitter < iv.gap {
			continue
		}
		d.errorf(jf.val, jf.path, "must be shorter than every schedule's interval: workspace %q (%q) can run every %s", st.w.Name, st.w.Schedule, iv.gap)
	}
}

// checkMinInterval reports every schedule that can fire more often than
// server.min_interval allows, where it is written.
func (d *decoder) checkMinInterval(min time.Duration, states []*wsState, ivs intervals) {
	for _, st := range states {
		if !d.visit() {
			return
		}
		spec := st.w.Schedule
		// Cron expressions fire at most once a minute; only @every can
		// go below that.
		if st.schedule == nil || st.scheduleBad || min <= time.Minute && !strings.Contains(spec, "@every") {
			continue
		}
		if iv := ivs.of(spec); iv.ok && iv.gap < min {
			d.errorf(st.schedule.val, st.schedule.path, "%q runs every %s, more often than server.min_interval (%s) allows", spec, iv.gap, min)
		}
	}
}

// minInterval is the shortest time between two firings of a schedule:
// exact for @every, otherwise the shortest gap among its next 1000 firings
// or its firings over a year, whichever ends first.
func minInterval(spec string) (time.Duration, bool) {
	if checkCron(spec) != nil {
		return 0, false
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return 0, false
	}
	if c, ok := sched.(cron.ConstantDelaySchedule); ok {
		return c.Delay, true
	}
	// A fixed start keeps the result (and the error message) stable.
	t := sched.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	end := t.AddDate(1, 0, 0)
	var gap time.Duration
	for range 1000 {
		next := sched.Next(t)
		if next.IsZero() {
			break
		}
		if g := next.Sub(t); gap == 0 || g < gap {
			gap = g
		}
		if t = next; t.After(end) {
			break
		}
	}
	return gap, gap > 0
}
