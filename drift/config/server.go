package config

import (
	"net"
	"net/netip"
	"regexp"
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
	// MinTriggerTokenLength is the shortest trigger token accepted: 32
	// random characters are beyond guessing at the API's rate limit.
	MinTriggerTokenLength = 32
)

var (
	serverFields    = []string{"listen", "allowed_hosts", "data_dir", "trigger_token_env", "trigger_token_file", "concurrency", "jitter", "min_interval", "scan_at_startup", "shutdown_timeout", "retention"}
	retentionFields = []string{"max_age", "max_scans"}
)

// Server holds the settings of `driftd serve`. Parse always fills it, with
// defaults when the file has no server section.
type Server struct {
	// Listen is host:port for the HTTP server.
	Listen string
	// AllowedHosts are host names (no port; "*.example.com" for the names
	// under example.com) that requests may address besides localhost, IP
	// addresses and Listen's host; others are refused (DNS rebinding).
	AllowedHosts []string
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
	if r, ok := fs["allowed_hosts"]; ok {
		hosts, fields, _ := d.strList(r, true)
		for i, h := range hosts {
			if msg := CheckAllowedHost(h); msg != "" {
				d.errorf(fields[i].val, fields[i].path, "%s", msg)
			}
		}
		s.AllowedHosts = hosts
	}
	s.TriggerToken, _ = d.secret(fs, "trigger_token")
	if n := len([]rune(s.TriggerToken.Reveal())); n > 0 && n < MinTriggerTokenLength {
		// The secret's own key: trigger_token_env or trigger_token_file.
		f, ok := fs["trigger_token_env"]
		if !ok {
			f = fs["trigger_token_file"]
		}
		d.errorf(f.val, f.path, "the trigger token is shorter than %d characters; use a random one, e.g. from `openssl rand -hex 32`", MinTriggerTokenLength)
	}
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

// hostLabelRE is one label of a host name.
var hostLabelRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)

// CheckAllowedHost says what is wrong with an allowed_hosts entry, or "".
// Entries that could only mislead are errors: a port (never checked), and
// IP addresses and localhost (always allowed, so listing them restricts
// nothing).
func CheckAllowedHost(s string) string {
	const want = `want a host name like "driftd.example.com" or "*.example.com"`
	if _, port, err := net.SplitHostPort(s); err == nil && port != "" && strings.Trim(port, "0123456789") == "" {
		return "host " + strconv.Quote(s) + " has a port: list the host name alone (requests are accepted on any port)"
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return strconv.Quote(s) + " is an IP address: requests addressed to an IP address are always accepted; list host names only"
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	if name == "localhost" {
		return strconv.Quote(s) + " is always accepted; list other host names only"
	}
	name = strings.TrimPrefix(name, "*.")
	if len(name) > 253 {
		return "host name longer than 253 characters"
	}
	for _, label := range strings.Split(name, ".") {
		if !hostLabelRE.MatchString(label) {
			return "invalid host name " + strconv.Quote(s) + ": " + want
		}
	}
	return ""
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
