// Package reportertest is the contract every reporter must meet, run from
// each reporter's tests (as Litestream's replica client suite and
// Alertmanager's secret-leak checks): driven through the Dispatcher,
// transitions are acted on once, repeats stay quiet, what a failing
// destination could not take is delivered exactly once by the next run,
// and no secret (a drifted sensitive value, a token, a webhook URL)
// appears in a request, a log line or an error where it must not.
package reportertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/internal/logbuf"
	"github.com/driftd/driftd/reporters"
)

// DriftSecret is what the contract report's sensitive attributes held
// before drift redacted them. Reporters only ever see drift.SensitiveMarker
// in its place, so finding DriftSecret anywhere means a reporter
// re-introduced it from elsewhere (its config, an error, a log).
const DriftSecret = "hunter2-contract-Zq8v"

// Setup builds the reporter under test, sending its HTTP requests through
// client and logging to logger. It is called once per subtest; the
// reporter should talk to a fresh fake.
type Setup func(t *testing.T, client *http.Client, logger *slog.Logger) reporters.Reporter

// Options tune the contract.
type Options struct {
	// Secrets are the reporter's own credentials (token, webhook URL,
	// signing key). Requests may carry them where the destination needs
	// them; log lines and errors never.
	Secrets []string
}

// Run runs the contract against the reporter setup builds.
func Run(t *testing.T, setup Setup, opt Options) {
	t.Helper()
	forbidden := append([]string{DriftSecret}, opt.Secrets...)

	for _, r := range []*drift.Report{Drifted("one"), Failed(), Clean()} {
		// Precondition: drift did its part. If this fails, the bug is in
		// drift's redaction, not in the reporter.
		if b, _ := json.Marshal(r); strings.Contains(string(b), DriftSecret) {
			t.Fatalf("drift left the secret in a %s report", r.Status)
		}
	}
	if r := Drifted("one"); r.Status != drift.StatusDrifted || !strings.Contains(fmt.Sprint(r.Drift), drift.SensitiveMarker) {
		t.Fatalf("contract report lost its sensitive drift: %+v", r.Drift)
	}

	t.Run("lifecycle", func(t *testing.T) {
		rec := &Recorder{}
		var logs logbuf.Buffer
		r := setup(t, rec.Client(), Logger(&logs))
		if r.Name() == "" {
			t.Fatal("Name() is empty")
		}
		d := Dispatcher(r, &reporters.MemState{}, Logger(&logs))
		steps := []struct {
			name  string
			cur   *drift.Report
			quiet bool // a repeat: no request may change anything
		}{
			{"new drift", Drifted("one"), false},
			{"same drift", Drifted("one"), true},
			{"changed drift", Drifted("two"), false},
			{"scan failed", Failed(), false},
			{"scan failed again", Failed(), true},
			{"resolved", Clean(), false},
			{"still clean", Clean(), true},
		}
		for _, s := range steps {
			before := rec.Mutations()
			if err := Deliver(d, s.cur); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if s.quiet && rec.Mutations() != before {
				t.Errorf("%s: a repeat sent %d changing requests", s.name, rec.Mutations()-before)
			}
		}
		if rec.Mutations() == 0 {
			t.Error("no request changed anything over a whole lifecycle")
		}
		var sawMarker bool
		for _, req := range rec.Requests() {
			if req.Contains(drift.SensitiveMarker) {
				sawMarker = true
			}
			for _, s := range []string{DriftSecret} {
				if req.Contains(s) {
					t.Errorf("request %s %s carries the drifted secret", req.Method, redactURL(req.URL, opt.Secrets))
				}
			}
		}
		if !sawMarker {
			t.Errorf("no request showed the sensitive attribute as %q", drift.SensitiveMarker)
		}
		assertClean(t, "log", logs.String(), forbidden)
	})

	// A destination down for a whole run: the next run delivers what it
	// owes, exactly as a first delivery would, and then nothing more.
	t.Run("owed after a failed run", func(t *testing.T) {
		ref := &Recorder{}
		if err := Deliver(Dispatcher(setup(t, ref.Client(), Logger(io.Discard)), &reporters.MemState{}, Logger(io.Discard)), Drifted("one")); err != nil {
			t.Fatal(err)
		}
		once := ref.Mutations()

		rec := &Recorder{}
		var logs logbuf.Buffer
		r := setup(t, rec.Client(), Logger(&logs))
		state := &reporters.MemState{}
		rec.SetFail(failServer)
		if err := Deliver(Dispatcher(r, state, Logger(&logs)), Drifted("one")); err == nil {
			t.Fatal("a run against a failing destination succeeded")
		}
		rec.SetFail(0)
		before := rec.Mutations()
		// A new Dispatcher: the next run, in a new process.
		if err := Deliver(Dispatcher(r, state, Logger(&logs)), Drifted("one")); err != nil {
			t.Fatalf("next run: %v", err)
		}
		if got := rec.Mutations() - before; got != once {
			t.Errorf("the next run sent %d changing requests, want %d (one delivery)", got, once)
		}
		before = rec.Mutations()
		if err := Deliver(Dispatcher(r, state, Logger(&logs)), Drifted("one")); err != nil {
			t.Fatal(err)
		}
		if rec.Mutations() != before {
			t.Errorf("the run after sent %d changing requests again", rec.Mutations()-before)
		}
		assertClean(t, "log", logs.String(), forbidden)
	})

	for _, mode := range []failMode{failNetwork, failServer} {
		t.Run("failure/"+mode.String(), func(t *testing.T) {
			rec := &Recorder{fail: mode}
			var logs logbuf.Buffer
			r := setup(t, rec.Client(), Logger(&logs))
			_, retry, err := r.Notify(context.Background(), reporters.Notification{Kind: reporters.New, Cur: Drifted("one")})
			if err == nil {
				t.Fatal("Notify succeeded against a failing destination")
			}
			if !retry {
				t.Errorf("%s failure not marked for retry: %v", mode, err)
			}
			assertClean(t, "error", err.Error(), forbidden)
			assertClean(t, "log", logs.String(), forbidden)
		})
	}
}

// Dispatcher returns a Dispatcher delivering to r alone with state, trying
// each delivery once.
func Dispatcher(r reporters.Reporter, state reporters.State, logger *slog.Logger) *reporters.Dispatcher {
	return reporters.NewDispatcher(logger, []reporters.Reporter{r}, reporters.WithState(state),
		reporters.WithBackoff(reporters.Backoff{Attempts: 1}), reporters.WithTimeout(10*time.Second))
}

// Deliver delivers reports through d as one run and returns the failures.
func Deliver(d *reporters.Dispatcher, reports ...*drift.Report) error {
	ds := make([]reporters.Delivery, len(reports))
	for i, r := range reports {
		ds[i] = reporters.Delivery{Cur: r}
	}
	var errs []error
	for _, res := range d.DeliverAll(context.Background(), ds) {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", res.Reporter, res.Workspace, res.Err))
		}
	}
	return errors.Join(errs...)
}

func assertClean(t *testing.T, what, text string, forbidden []string) {
	t.Helper()
	for _, s := range forbidden {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%d chars): %s", what, len(s), strings.ReplaceAll(text, s, "<SECRET>"))
		}
	}
}

func redactURL(u string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			u = strings.ReplaceAll(u, s, "<SECRET>")
		}
	}
	return u
}

// Logger returns a JSON logger at debug level writing to w, so that every
// log line a reporter could write is checked.
func Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// contractPlan is a plan in which a database password (sensitive) drifted
// to DriftSecret, and a tag (not marked sensitive) mentions it: drift
// redacts both before a reporter sees the report.
func contractPlan(tag string) *tfjson.Plan {
	return &tfjson.Plan{
		FormatVersion:    "1.2",
		TerraformVersion: "1.11.4",
		ResourceDrift: []*tfjson.ResourceChange{{
			Address: "aws_db_instance.main", Mode: tfjson.ManagedResourceMode, Type: "aws_db_instance", Name: "main",
			ProviderName: "registry.terraform.io/hashicorp/aws",
			Change: &tfjson.Change{
				Actions:         tfjson.Actions{tfjson.ActionUpdate},
				Before:          map[string]any{"password": "old-password-1234", "tags": map[string]any{"env": "prod", "note": "set by terraform"}},
				After:           map[string]any{"password": DriftSecret, "tags": map[string]any{"env": tag, "note": "rotated by hand to " + DriftSecret}},
				BeforeSensitive: map[string]any{"password": true},
				AfterSensitive:  map[string]any{"password": true},
			},
		}},
	}
}

func analyze(plan *tfjson.Plan, day int) *drift.Report {
	r := drift.Analyze(plan, drift.Options{
		Workspace: "contract", Owners: []string{"alice", "platform/sre"},
		StartedAt: time.Date(2026, 3, day, 2, 0, 0, 0, time.UTC),
	})
	r.Duration = 12 * time.Second
	return r
}

// Drifted is the contract's drifted report, produced by drift.Analyze from
// a plan whose sensitive password drifted to DriftSecret. tag varies the
// fingerprint.
func Drifted(tag string) *drift.Report { return analyze(contractPlan(tag), 1) }

// Failed is the contract's failed scan: Terraform's error quoted the
// secret, and drift hid it.
func Failed() *drift.Report {
	plan := contractPlan("dev")
	return drift.Failed(drift.Options{Workspace: "contract", StartedAt: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)},
		errors.New("Error: creating DB instance: invalid password "+strconv.Quote(DriftSecret)), drift.CollectSecrets(plan))
}

// Clean is the contract's clean scan.
func Clean() *drift.Report {
	return analyze(&tfjson.Plan{FormatVersion: "1.2", TerraformVersion: "1.11.4"}, 3)
}

type failMode int

// Zero means requests go through.
const (
	failNetwork failMode = iota + 1
	failServer
)

func (m failMode) String() string {
	return [...]string{"none", "network", "server"}[m]
}

// Request is one request a Recorder saw.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   string
}

// Contains reports whether s appears in the request's URL, headers or body,
// raw or URL-decoded (form bodies).
func (r Request) Contains(s string) bool {
	var all strings.Builder
	all.WriteString(r.URL + "\n" + r.Body + "\n")
	for k, vs := range r.Header {
		all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	text := all.String()
	if strings.Contains(text, s) {
		return true
	}
	dec, err := url.QueryUnescape(text)
	return err == nil && strings.Contains(dec, s)
}

// Recorder records every request sent through its Client, and can make
// them fail.
type Recorder struct {
	mu   sync.Mutex
	fail failMode
	reqs []Request
	tr   *http.Transport
}

// SetFail makes the requests from now on fail in mode (0: go through).
func (r *Recorder) SetFail(mode failMode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = mode
}

// Client returns an HTTP client that records through r.
func (r *Recorder) Client() *http.Client {
	return &http.Client{Transport: r, Timeout: 10 * time.Second}
}

// Requests returns what was sent so far.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Mutations counts the requests other than GET and HEAD.
func (r *Recorder) Mutations() int {
	n := 0
	for _, q := range r.Requests() {
		if q.Method != http.MethodGet && q.Method != http.MethodHead {
			n++
		}
	}
	return n
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, Request{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: string(body)})
	fail := r.fail
	r.mu.Unlock()
	switch fail {
	case failNetwork:
		// http.Client wraps this in a *url.Error carrying the full URL,
		// which for a webhook is the credential.
		return nil, errors.New("dial tcp 192.0.2.1:443: connect: connection refused")
	case failServer:
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Status:     "503 Service Unavailable",
			Header:     http.Header{"Content-Type": {"text/plain"}},
			Body:       io.NopCloser(strings.NewReader("upstream unavailable")),
			Request:    req,
		}, nil
	}
	return r.transport().RoundTrip(req)
}

// transport is the Recorder's own: http.DefaultTransport's connections are
// closed under a request in flight whenever any httptest.Server closes.
func (r *Recorder) transport() http.RoundTripper {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tr == nil {
		r.tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	return r.tr
}

// Golden compares got with the golden file at path (rewriting it first
// when update is set): message bodies people review by eye when they
// change.
func Golden(t *testing.T, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update and review):\n%s", path, got)
	}
}
