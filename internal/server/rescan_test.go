package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/server"
)

// rescan posts the workspace page's re-scan form from the client address
// from.
func (ts *testServer) rescan(t *testing.T, from, ws, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/workspaces/"+ws+"/scan", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Host, req.RemoteAddr = "localhost", from
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	ts.handler.ServeHTTP(rec, req)
	return rec
}

// The re-scan button asks for the trigger token, which the page never
// holds, and answers as the trigger API does, on the workspace's page.
func TestRescanButton(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), nil)

	_, body := ts.get(t, "/workspaces/dns")
	checkWellFormed(t, body)
	for _, want := range []string{`<form class="rescan card" method="post" action="/workspaces/dns/scan" id="rescan">`, `<input type="password" id="token" name="token" autocomplete="off" required>`} {
		if !strings.Contains(body, want) {
			t.Errorf("workspace page lacks %q", want)
		}
	}
	assertNoSecret(t, "workspace page", body)

	const client = "192.0.2.7:4000"
	tests := []struct {
		name, ws, token string
		wantCode        int
		wantLocation    string // for a redirect
		wantText        string // on the page answered
		wantTriggered   []string
	}{
		{"wrong token", "dns", "guess", 401, "", "a valid trigger token is required", nil},
		{"no token", "dns", "", 401, "", "a valid trigger token is required", nil},
		{"unknown workspace", "nope", triggerToken, 404, "", `unknown workspace "nope"`, nil},
		{"scan started", "dns", triggerToken, 303, "/workspaces/dns?scan=started", "", []string{"dns"}},
		{"scan already running", "storage", triggerToken, 303, "/workspaces/storage?scan=joined", "", []string{"dns", "storage"}},
	}
	for _, tt := range tests {
		rec := ts.rescan(t, client, tt.ws, tt.token)
		if rec.Code != tt.wantCode || rec.Header().Get("Location") != tt.wantLocation {
			t.Errorf("%s: %d to %q, want %d to %q", tt.name, rec.Code, rec.Header().Get("Location"), tt.wantCode, tt.wantLocation)
		}
		if !strings.Contains(rec.Body.String(), tt.wantText) {
			t.Errorf("%s: the answer lacks %q: %s", tt.name, tt.wantText, rec.Body.String())
		}
		if got := ts.sched.calls(); !slices.Equal(got, tt.wantTriggered) {
			t.Errorf("%s: scans triggered %v, want %v", tt.name, got, tt.wantTriggered)
		}
		assertNoSecret(t, tt.name, rec.Body.String())
	}
	for query, want := range map[string]string{
		"/workspaces/dns?scan=started":    "Scan started; it will show here when it ends.",
		"/workspaces/storage?scan=joined": "A scan was already under way; it will show here when it ends.",
	} {
		if _, body := ts.get(t, query); !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", query, want)
		}
	}

	// Wrong tokens from the form count against the client's budget, which
	// the API shares: three more (five in all) and it must wait.
	for range 3 {
		ts.rescan(t, client, "dns", "guess")
	}
	rec := ts.rescan(t, client, "dns", triggerToken)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "too many failed authentications") {
		t.Errorf("past the budget: %d (Retry-After %q): %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if rec := ts.trigger(t, client, "dns", triggerToken); rec.Code != 429 {
		t.Errorf("the API after failed form posts: %d, want 429", rec.Code)
	}
}

// Without a trigger token there is no button, and a post is refused.
func TestRescanButtonDisabled(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, openEstate(t), func(o *server.Options) { o.TriggerToken = "" })
	if _, body := ts.get(t, "/workspaces/dns"); strings.Contains(body, `id="rescan"`) {
		t.Error("the re-scan button shows without a trigger token")
	}
	rec := ts.rescan(t, "192.0.2.7:4000", "dns", "anything")
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "the scan trigger is disabled") || len(ts.sched.calls()) != 0 {
		t.Errorf("post without a trigger token: %d, %d scans: %s", rec.Code, len(ts.sched.calls()), rec.Body.String())
	}
}
