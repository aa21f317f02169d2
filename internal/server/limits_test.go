package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/internal/server"
)

// patience is the safety net of the connection tests: they assert counts
// and bytes, never how long anything took.
const patience = 2 * time.Minute

// TestHostCheck: a request addressed to a name that is not driftd's, as a
// DNS rebinding page's is, gets 421 on every route; localhost, IP
// addresses, a missing Host and the allowed names pass, on any port.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), func(o *server.Options) {
		o.AllowedHosts = []string{"driftd.example.com", "*.svc.cluster.local", ""}
	})
	tests := []struct {
		host string
		want int
	}{
		{"rebind.attacker.example:8080", 421},
		{"rebind.attacker.example", 421},
		{"example.com", 421},
		{"driftd.example.com.attacker.example", 421},
		{"svc.cluster.local", 421},
		{"localhost.attacker.example", 421},
		{"2130706433:8080", 421}, // a number is a name to the Host check
		{"localhost:8080", 200},
		{"LOCALHOST.:9999", 200},
		{"127.0.0.1:8080", 200},
		{"10.1.2.3", 200},
		{"[::1]:8080", 200},
		{"[fe80::1]", 200},
		{"driftd.example.com:443", 200},
		{"Driftd.Example.Com", 200},
		{"driftd.monitoring.svc.cluster.local:8080", 200},
		{"", 200},
	}
	paths := []string{"/", "/workspaces/dns", "/api/v1/workspaces", "/api/v1/workspaces/dns/scans", "/metrics", "/healthz"}
	rebound := reliability.Times(t, "HTTP server", "request for a page, the API or metrics with a Host that is not driftd's (DNS rebinding)",
		"421, the Host not echoed; a trigger refused before its token is looked at")
	for _, tt := range tests {
		for _, path := range paths {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			ts.handler.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("Host %q, GET %s = %d, want %d", tt.host, path, rec.Code, tt.want)
			} else if rec.Code == 421 {
				rebound.Add(1)
			}
			if rec.Code == 421 && tt.host != "" && strings.Contains(rec.Body.String(), strings.Split(tt.host, ":")[0]) {
				t.Errorf("the 421 echoes the Host: %s", rec.Body.String())
			}
		}
	}
	// The trigger is refused before its token is looked at.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/workspaces/dns/scan", nil)
	req.Host = "rebind.attacker.example"
	req.Header.Set("Authorization", "Bearer "+triggerToken)
	rec := httptest.NewRecorder()
	ts.handler.ServeHTTP(rec, req)
	if rec.Code != 421 || len(ts.sched.calls()) != 0 {
		t.Errorf("trigger with a foreign Host = %d, %d scans triggered; want 421 and none", rec.Code, len(ts.sched.calls()))
	}
	rebound.Add(1)
}

// TestSetAccess: a reload's trigger token and allowed hosts apply to the
// next request, the API's and the re-scan button's; the old token and the
// names no longer allowed are refused, and an empty token disables the
// trigger and hides the button.
func TestSetAccess(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), func(o *server.Options) { o.AllowedHosts = []string{"old.example.com"} })
	hostCode := func(host string) int {
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		ts.handler.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := hostCode("old.example.com"); c != 200 {
		t.Fatalf("allowed host before the change: %d", c)
	}
	const newToken = "a-new-token-from-the-reloaded-config"
	ts.srv.SetAccess(newToken, []string{"new.example.com"})
	wantCodes(t, "hosts", []int{hostCode("old.example.com"), hostCode("new.example.com"), hostCode("localhost")}, 421, 200, 200)
	wantCodes(t, "tokens", []int{
		ts.trigger(t, "192.0.2.1:1", "dns", triggerToken).Code,
		ts.trigger(t, "192.0.2.2:1", "dns", newToken).Code,
	}, 401, 202)

	wantCodes(t, "re-scan button", []int{
		ts.rescan(t, "192.0.2.3:1", "dns", triggerToken).Code,
		ts.rescan(t, "192.0.2.4:1", "dns", newToken).Code,
	}, 401, 303)

	ts.srv.SetAccess("", nil)
	wantCodes(t, "no token", []int{ts.trigger(t, "192.0.2.5:1", "dns", newToken).Code}, 404)
	if _, body := ts.get(t, "/workspaces/dns"); strings.Contains(body, `id="rescan"`) {
		t.Error("the re-scan button shows with no trigger token")
	}
	if c := hostCode("new.example.com"); c != 421 {
		t.Errorf("host no longer allowed: %d, want 421", c)
	}
}

// TestFramingForbidden: every answer, success or error, page or JSON,
// forbids framing; pages keep their CSP.
func TestFramingForbidden(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)
	framed := reliability.Times(t, "HTTP server", "a page, API answer or error framed by another site (clickjacking)", "every answer says X-Frame-Options: DENY; pages' CSP frame-ancestors 'none'")
	for _, tt := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/workspaces/dns"}, {"GET", "/workspaces/nope"}, {"GET", "/api/v1/workspaces"},
		{"GET", "/metrics"}, {"GET", "/healthz"}, {"GET", "/nope"}, {"POST", "/api/v1/workspaces/dns/scan"},
	} {
		resp, _ := ts.do(t, tt.method, tt.path, nil)
		if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s %s (%d): X-Frame-Options = %q, want DENY", tt.method, tt.path, resp.StatusCode, got)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options = %q", tt.method, tt.path, got)
		}
		framed.Add(1)
	}
	resp, _ := ts.get(t, "/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("status page CSP = %q", csp)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// trigger posts a scan of ws from the client address from.
func (ts *testServer) trigger(t *testing.T, from, ws, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/workspaces/"+ws+"/scan", nil)
	req.Host, req.RemoteAddr = "localhost", from
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	ts.handler.ServeHTTP(rec, req)
	return rec
}

func wantCodes(t *testing.T, what string, got []int, want ...int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: codes %v, want %v", what, got, want)
	}
}

// TestTriggerRateLimit: each workspace may be triggered TriggerBurst times
// at once, then once per TriggerEvery; a refused trigger starts no scan.
func TestTriggerRateLimit(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: now}
	ts := newTestServer(t, openEstate(t), func(o *server.Options) {
		o.Now = clock.Now
		o.Limits = server.Limits{TriggerBurst: 3, TriggerEvery: time.Minute}
	})
	const from = "192.0.2.1:40000"
	var codes []int
	for range 5 {
		codes = append(codes, ts.trigger(t, from, "dns", triggerToken).Code)
	}
	wantCodes(t, "dns five times", codes, 202, 202, 202, 429, 429)
	refused := reliability.Times(t, "HTTP server", "scan of one workspace triggered past its budget (3 at once, then 1 a minute)",
		"429 with Retry-After, no scan started; other workspaces unaffected")
	refused.Add(count(codes, 429))
	rec := ts.trigger(t, from, "dns", triggerToken)
	if got := rec.Header().Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60", got)
	}
	if e := decode[struct{ Error string }](t, rec.Body.String()).Error; !strings.Contains(e, "too many scans") {
		t.Errorf("429 error = %q", e)
	}
	refused.Add(count([]int{rec.Code}, 429))
	if n := len(ts.sched.calls()); n != 3 {
		t.Errorf("%d scans triggered, want 3", n)
	}
	if code := ts.trigger(t, from, "queue", triggerToken).Code; code != 202 {
		t.Errorf("another workspace: %d, want 202 (budgets are per workspace)", code)
	}
	clock.Add(time.Minute)
	codes = nil
	for range 2 {
		codes = append(codes, ts.trigger(t, from, "dns", triggerToken).Code)
	}
	wantCodes(t, "dns a minute later", codes, 202, 429)
	if n := len(ts.sched.calls()); n != 5 {
		t.Errorf("%d scans triggered in all, want 5", n)
	}
	refused.Add(count(codes, 429))
}

// count is the number of times code is in codes.
func count(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

// TestAuthFailureRateLimit: a client address (an IPv6 /64) that failed
// AuthFailBurst times is refused, right token or not, until its budget
// refills; other clients are not.
func TestAuthFailureRateLimit(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: now}
	ts := newTestServer(t, openEstate(t), func(o *server.Options) {
		o.Now = clock.Now
		o.Limits = server.Limits{AuthFailBurst: 2, AuthFailEvery: 30 * time.Second, TriggerBurst: 100}
	})
	const a, b = "192.0.2.1:40000", "192.0.2.2:40000"
	var codes []int
	codes = append(codes, ts.trigger(t, a, "dns", "").Code, ts.trigger(t, a, "dns", "wrong").Code)
	rec := ts.trigger(t, a, "dns", triggerToken)
	codes = append(codes, rec.Code)
	wantCodes(t, "client a: none, wrong, right", codes, 401, 401, 429)
	guessed := reliability.Times(t, "HTTP server", "trigger with a missing or wrong token, over and over from one client address (token guessing)",
		"401, then 429 with Retry-After, the right token included, once the address (an IPv6 /64) spent its budget; no scan; other addresses unaffected")
	guessed.Add(count(codes, 401) + count(codes, 429))
	if got := rec.Header().Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30", got)
	}
	if n := len(ts.sched.calls()); n != 0 {
		t.Errorf("%d scans triggered by a client over its budget", n)
	}
	// Success spends nothing: b succeeds more often than the burst.
	codes = nil
	for range 3 {
		codes = append(codes, ts.trigger(t, b, "dns", triggerToken).Code)
	}
	codes = append(codes, ts.trigger(t, b, "dns", "wrong").Code)
	wantCodes(t, "client b", codes, 202, 202, 202, 401)
	guessed.Add(count(codes, 401))

	codes = []int{ts.trigger(t, "[2001:db8::1]:1", "dns", "x").Code, ts.trigger(t, "[2001:db8::1]:2", "dns", "y").Code}
	codes = append(codes,
		ts.trigger(t, "[2001:db8::ffff]:3", "dns", triggerToken).Code,  // same /64
		ts.trigger(t, "[2001:db8:0:1::1]:4", "dns", triggerToken).Code, // next /64
	)
	wantCodes(t, "IPv6 by /64", codes, 401, 401, 429, 202)
	guessed.Add(count(codes, 401) + count(codes, 429))

	clock.Add(30 * time.Second)
	codes = []int{ts.trigger(t, a, "dns", triggerToken).Code, ts.trigger(t, a, "dns", "wrong").Code, ts.trigger(t, a, "dns", triggerToken).Code}
	wantCodes(t, "client a 30s later", codes, 202, 401, 429)
	guessed.Add(count(codes, 401) + count(codes, 429))
	assertNoSecret(t, "log", ts.logs.String())
}

// countingListener counts the connections the server accepted and holds.
type countingListener struct {
	net.Listener
	accepted, open, maxOpen atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	n := l.open.Add(1)
	for {
		m := l.maxOpen.Load()
		if n <= m || l.maxOpen.CompareAndSwap(m, n) {
			break
		}
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	// Counted before the close, so that a client seeing EOF sees it counted.
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// serveLimited runs a Server with limits on a loopback listener that
// counts connections.
func serveLimited(t *testing.T, limits server.Limits) (addr string, ln *countingListener) {
	t.Helper()
	m, err := server.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{
		History: openEstate(t), Scheduler: &fakeScheduler{}, Metrics: m,
		TriggerToken: triggerToken, Limits: limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = &countingListener{Listener: inner}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return inner.Addr().String(), ln
}

// TestIdleConnectionsCappedAndClosed: 1,000 clients each send a request
// and then sit on the keep-alive connection. All are answered, never more
// than MaxConnections are open at once, and the server closes every idle
// one itself.
func TestIdleConnectionsCappedAndClosed(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	const clients, maxConns = 1000, 32
	addr, ln := serveLimited(t, server.Limits{IdleTimeout: 20 * time.Millisecond, MaxConnections: maxConns})
	var answered, closedByServer atomic.Int64
	var wg sync.WaitGroup
	for i := range clients {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		wg.Go(func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(patience))
			if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
				return
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && resp.Header.Get("Connection") != "close" {
				answered.Add(1)
			}
			// Idle now: only the server ends it.
			if _, err := br.ReadByte(); err == io.EOF {
				closedByServer.Add(1)
			}
		})
	}
	wg.Wait()
	if n := answered.Load(); n != clients {
		t.Errorf("%d of %d clients answered with a keep-alive response", n, clients)
	}
	if n := closedByServer.Load(); n != clients {
		t.Errorf("the server closed %d of %d idle connections", n, clients)
	}
	if n := ln.maxOpen.Load(); n > maxConns {
		t.Errorf("%d connections open at once, want at most %d", n, maxConns)
	}
	if a, o := ln.accepted.Load(), ln.open.Load(); a != clients || o != 0 {
		t.Errorf("accepted %d connections, %d still open; want %d and 0", a, o, clients)
	}
	reliability.Times(t, "HTTP server", fmt.Sprintf("client sending a request, then holding its keep-alive connection idle (a flood of them, %d connection cap)", maxConns),
		"every one answered; never more than the cap open at once; every idle connection closed by the server").Add(int(closedByServer.Load()))
}

// TestSlowRequestCutOff: a request whose headers or body arrive a byte at a
// time loses its connection long before it is complete.
func TestSlowRequestCutOff(t *testing.T) {
	t.Parallel()
	const size = 4000
	tests := map[string]struct {
		head string
		drip byte
	}{
		"slow headers": {head: "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", drip: 'a'},
		"slow body": {
			head: fmt.Sprintf("POST /api/v1/workspaces/dns/scan HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n", size),
			drip: '{',
		},
	}
	for name, tt := range tests {
		cut := reliability.Times(t, "HTTP server", "request sent a byte at a time, dripping its "+strings.TrimPrefix(name, "slow ")+" (slowloris)",
			"connection closed by the server long before the request is complete")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr, _ := serveLimited(t, server.Limits{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond})
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(patience))
			if _, err := io.WriteString(conn, tt.head); err != nil {
				t.Fatal(err)
			}
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				_, _ = io.Copy(io.Discard, conn) // until the server closes
			}()
			sent := 0
		drip:
			for sent < size {
				select {
				case <-ended:
					break drip
				default:
				}
				if _, err := conn.Write([]byte{tt.drip}); err != nil {
					break
				}
				sent++
				time.Sleep(2 * time.Millisecond)
			}
			<-ended
			if sent >= size {
				t.Errorf("sent all %d bytes a byte at a time before the server let go", size)
			}
			cut.Add(1)
			t.Logf("cut off after %d of %d bytes", sent, size)
		})
	}
}

// TestCrossSiteTriggerRefused: a page on another site that makes a
// visitor's browser post wrong tokens is refused before any token is
// checked, so it cannot spend the visitor's address's failure budget;
// the visitor, driftd's own page and tools without a browser still get
// through.
func TestCrossSiteTriggerRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), func(o *server.Options) {
		o.Limits = server.Limits{AuthFailBurst: 2, AuthFailEvery: time.Hour, TriggerBurst: 100}
	})
	const visitor = "192.0.2.7:40000"
	post := func(path string, header map[string]string, body string) int {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Host, req.RemoteAddr = "localhost:8080", visitor
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		ts.handler.ServeHTTP(rec, req)
		return rec.Code
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for hk, hv := range h {
			out[hk] = hv
		}
		return out
	}
	var codes []int
	for range 5 {
		codes = append(codes,
			post("/workspaces/dns/scan", with(form, "Sec-Fetch-Site", "cross-site"), "token=wrong"),
			post("/workspaces/dns/scan", with(form, "Origin", "https://evil.example"), "token=wrong"),
			post("/api/v1/workspaces/dns/scan", map[string]string{"Sec-Fetch-Site": "cross-site", "Authorization": "Bearer wrong"}, ""))
	}
	for _, c := range codes {
		if c != http.StatusForbidden {
			t.Fatalf("cross-site posts: codes %v, want all 403", codes)
		}
	}
	codes = []int{
		post("/workspaces/dns/scan", with(form, "Sec-Fetch-Site", "same-origin"), "token="+triggerToken),
		post("/workspaces/dns/scan", with(form, "Origin", "http://localhost:8080"), "token="+triggerToken),
		post("/api/v1/workspaces/dns/scan", map[string]string{"Authorization": "Bearer " + triggerToken}, ""),
	}
	wantCodes(t, "the visitor's own page and a tool, after the cross-site posts", codes, http.StatusSeeOther, http.StatusSeeOther, http.StatusAccepted)
	reliability.Record(t, "HTTP server", "a page on another site makes a visitor's browser post wrong trigger tokens, over and over",
		"403 before any token is checked: the visitor's failure budget is untouched; same-origin pages and tools without a browser still trigger")
}
