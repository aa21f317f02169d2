package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/reportertest"
)

const secret = "whsec-test-signing-key"

// receiver is a webhook receiver that checks signatures as a real one would.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	events  []Payload
	headers []http.Header
	status  []int // answers for the next requests, then 204
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.status) > 0 {
			code := rc.status[0]
			rc.status = rc.status[1:]
			if code == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "3")
			}
			w.WriteHeader(code)
			return
		}
		if !Verify(secret, body, r.Header.Get(SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.events = append(rc.events, p)
		rc.headers = append(rc.headers, r.Header.Clone())
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) url() string { return rc.URL + "/hooks/drift?api_key=K3Y" }

func rep(st drift.Status, fp string) *drift.Report {
	r := &drift.Report{SchemaVersion: drift.SchemaVersion, Workspace: "prod", Status: st, Fingerprint: fp, StartedAt: time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)}
	if st == drift.StatusDrifted {
		r.Drift = []drift.ResourceChange{{Address: "aws_s3_bucket.logs", Action: drift.ActionUpdate}}
	}
	if st == drift.StatusError {
		r.Error = "Error: boom"
	}
	return r
}

func newReporter(t *testing.T, url string, notify reporters.Notify, logs io.Writer) *Reporter {
	t.Helper()
	r, err := New(Config{Name: "pd", URL: url, Secret: secret, Headers: map[string]string{"Authorization": "Token hdr-secret"}, Notify: notify},
		reportertest.Logger(logs))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTransitionsAreSignedAndSentOnce(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	var logs bytes.Buffer
	r := newReporter(t, rc.url(), reporters.NotifyAll, &logs)
	d := reportertest.Dispatcher(r, &reporters.MemState{}, reportertest.Logger(&logs))
	changed := rep(drift.StatusDrifted, "b")
	changed.Drift = append(changed.Drift, drift.ResourceChange{Address: "aws_iam_role.ci", Action: drift.ActionDelete})
	for _, cur := range []*drift.Report{
		rep(drift.StatusClean, ""), rep(drift.StatusDrifted, "a"), rep(drift.StatusDrifted, "a"), changed,
		rep(drift.StatusError, ""), rep(drift.StatusError, ""), changed, rep(drift.StatusClean, ""), rep(drift.StatusDrifted, "a"),
	} {
		for _, res := range d.DeliverAll(context.Background(), []reporters.Delivery{{Cur: cur, Links: reporters.Links{"github": "https://gh/1"}}}) {
			if res.Err != nil {
				t.Fatal(res.Err)
			}
		}
	}
	var got []string
	for _, e := range rc.events {
		got = append(got, e.Event)
	}
	if want := "new changed error recovered resolved new"; strings.Join(got, " ") != want {
		t.Errorf("events %q, want %q", got, want)
	}
	first := rc.events[0]
	if first.Report.Workspace != "prod" || first.Report.Fingerprint != "a" || first.Links["github"] != "https://gh/1" || first.Back ||
		!first.FirstSeen.Equal(first.Report.StartedAt) {
		t.Errorf("payload %+v", first)
	}
	if c := rc.events[1].Changes; c == nil || !slices.Equal(c.Added, []string{"aws_iam_role.ci"}) || len(c.Removed)+len(c.Modified) != 0 {
		t.Errorf("changed event's changes: %+v", c)
	}
	if last := rc.events[len(rc.events)-1]; !last.Back {
		t.Errorf("drift after a resolution is not marked back: %+v", last)
	}
	h := rc.headers[0]
	if h.Get(EventHeader) != "new" || h.Get("Authorization") != "Token hdr-secret" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	if strings.Contains(logs.String(), "K3Y") || strings.Contains(logs.String(), "hdr-secret") || strings.Contains(logs.String(), secret) {
		t.Errorf("secret in logs: %s", logs.String())
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	// Known answer: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
	got := Sign("key", []byte("The quick brown fox jumps over the lazy dog"))
	if want := "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if Verify("key", []byte("tampered"), got) {
		t.Error("Verify accepted a tampered body")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		wantRetry bool
		wantAfter time.Duration
	}{
		{http.StatusInternalServerError, true, 0},
		{http.StatusTooManyRequests, true, 3 * time.Second},
		{http.StatusNotFound, false, 0},
	}
	for _, tt := range tests {
		rc := newReceiver(t)
		rc.status = []int{tt.status}
		var logs bytes.Buffer
		r := newReporter(t, rc.url(), reporters.NotifyAll, &logs)
		n := reporters.Notification{Kind: reporters.New, Cur: rep(drift.StatusDrifted, "a")}
		_, retry, err := r.Notify(context.Background(), n)
		if err == nil || retry != tt.wantRetry || !strings.Contains(err.Error(), "webhook[pd]: receiver answered") {
			t.Errorf("%d: retry %v err %v", tt.status, retry, err)
		}
		if after, ok := reporters.RetryAfter(err); after != tt.wantAfter || ok != (tt.wantAfter > 0) {
			t.Errorf("%d: delay %v %v", tt.status, after, ok)
		}
		// The fault is spent: a retry sends.
		if _, _, err := r.Notify(context.Background(), n); err != nil || len(rc.events) != 1 {
			t.Errorf("%d: retry: %v, %d events", tt.status, err, len(rc.events))
		}
	}
	// Unreachable: the error names neither the URL nor its key.
	rc := newReceiver(t)
	url := rc.url()
	rc.Close()
	var logs bytes.Buffer
	_, retry, err := newReporter(t, url, reporters.NotifyAll, &logs).Notify(context.Background(), reporters.Notification{Kind: reporters.New, Cur: rep(drift.StatusDrifted, "a")})
	if err == nil || !retry || strings.Contains(err.Error(), "K3Y") || strings.Contains(err.Error(), "/hooks/") {
		t.Errorf("unreachable: retry %v err %v", retry, err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[*Config]string{
		{URL: "ftp://x/SECRET"}:               "webhook: url is not an http(s) URL",
		{Name: "dd", URL: "not a url SECRET"}: "webhook[dd]: url is not an http(s) URL",
		{URL: "https://x", Headers: map[string]string{"x-driftd-signature": "v"}}: `webhook: header "x-driftd-signature" cannot be set`,
	} {
		_, err := New(*cfg, slog.New(slog.DiscardHandler))
		if err == nil || err.Error() != want {
			t.Errorf("New(%+v) = %v, want %q", cfg, err, want)
		}
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"": "webhook", "pd": "webhook[pd]", "webhook[3]": "webhook[3]"} {
		r, err := New(Config{Name: name, URL: "https://x"}, slog.New(slog.DiscardHandler))
		if err != nil || r.Name() != want {
			t.Errorf("Name(%q) = %q, %v; want %q", name, r.Name(), err, want)
		}
	}
}

func TestContract(t *testing.T) {
	t.Parallel()
	reportertest.Run(t, func(t *testing.T, client *http.Client, logger *slog.Logger) reporters.Reporter {
		rc := newReceiver(t)
		r, err := New(Config{URL: rc.URL + "/hooks/SECRETPATH", Secret: secret, Headers: map[string]string{"X-Api-Key": "hdr-secret"},
			Notify: reporters.NotifyAll, HTTPClient: client}, logger)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, reportertest.Options{Secrets: []string{"/hooks/SECRETPATH", secret, "hdr-secret"}})
}
