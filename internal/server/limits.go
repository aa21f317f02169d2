package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what clients can hold of the server. A zero field takes its
// value from DefaultLimits.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: a body
	// sent a byte at a time cannot hold a connection.
	ReadTimeout time.Duration
	// WriteTimeout bounds a response, from the end of the request's
	// headers. Nothing driftd serves streams.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
	// MaxConnections bounds the connections open at once; more wait in the
	// kernel's listen backlog until one closes.
	MaxConnections int
	// TriggerBurst scans of one workspace may be triggered at once; then
	// one more every TriggerEvery.
	TriggerBurst int
	TriggerEvery time.Duration
	// AuthFailBurst wrong or missing trigger tokens are answered per
	// client address (IPv6: per /64); then one more every AuthFailEvery.
	// A client over its budget gets 429 without its token being checked.
	AuthFailBurst int
	AuthFailEvery time.Duration
}

// DefaultLimits are the limits `driftd serve` uses.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
		MaxConnections:    256,
		TriggerBurst:      5,
		TriggerEvery:      time.Minute,
		AuthFailBurst:     5,
		AuthFailEvery:     30 * time.Second,
	}
}

// withDefaults fills l's zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	setInt(&l.MaxHeaderBytes, d.MaxHeaderBytes)
	setInt(&l.MaxConnections, d.MaxConnections)
	setInt(&l.TriggerBurst, d.TriggerBurst)
	set(&l.TriggerEvery, d.TriggerEvery)
	setInt(&l.AuthFailBurst, d.AuthFailBurst)
	set(&l.AuthFailEvery, d.AuthFailEvery)
	return l
}

func (s *Server) newHTTPServer() *http.Server {
	l := s.opts.Limits
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on ln, at most Limits.MaxConnections connections at once,
// until Shutdown; it then returns http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(netutil.LimitListener(ln, s.opts.Limits.MaxConnections))
}

// Shutdown stops Serve: no new connections, idle ones closed, requests in
// flight finished until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

// guard is in front of every route: it refuses Host headers that are not
// driftd's (DNS rebinding) and unsafe requests a browser makes for another
// site, and forbids framing of every response.
func (s *Server) guard(next http.Handler) http.Handler {
	crossOrigin := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		if !s.access.Load().hosts.allowed(r.Host) {
			// The Host is the caller's own text: it is not echoed.
			http.Error(w, "misdirected request: this host name is not in driftd's server.allowed_hosts", http.StatusMisdirectedRequest)
			return
		}
		// A page on another site must not post to driftd through a
		// visitor's browser: its wrong tokens would spend the visitor's
		// address's failure budget and lock them out. Browsers say where
		// a request comes from (Sec-Fetch-Site, Origin); tools such as
		// curl send neither and are unaffected.
		if err := crossOrigin.Check(r); err != nil {
			http.Error(w, "cross-origin request refused: driftd takes POSTs only from its own pages or from tools outside a browser", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostList holds the host names a request's Host header may carry besides
// localhost and IP addresses, lowercased; "*.example.com" stands for every
// name under example.com.
type hostList []string

func newHostList(names []string) hostList {
	var l hostList
	for _, n := range names {
		if n = normalHost(n); n != "" {
			l = append(l, n)
		}
	}
	return l
}

func normalHost(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

// allowed says whether a request for hostport may be served. DNS
// rebinding makes a browser send the attacker's own name, never an IP
// address and never localhost, and a browser always sends a Host: those
// are always served, any port.
func (l hostList) allowed(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = normalHost(host)
	if host == "localhost" {
		return true
	}
	for _, a := range l {
		if a == host || strings.HasPrefix(a, "*.") && strings.HasSuffix(host, a[1:]) {
			return true
		}
	}
	return false
}
