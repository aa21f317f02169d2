// Package slacktest is a fake Slack for the two ways driftd posts: an
// incoming webhook (POST of a JSON message, answered "ok") and the Web API's
// chat.postMessage (form-encoded, answered {"ok":true,"ts":...}). It can
// answer 429 with Retry-After, 5xx, and Slack's error codes.
package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is a message the fake received.
type Message struct {
	Via      string // "webhook" or "api"
	Channel  string
	ThreadTS string
	TS       string // the ts the fake answered (api only)
	Text     string
	Blocks   []map[string]any
}

// BlocksJSON returns the message's blocks as JSON, with <, > and & as is.
func (m Message) BlocksJSON() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m.Blocks)
	return strings.TrimSpace(b.String())
}

// Fault is an error response the fake can inject.
type Fault int

const (
	// RateLimited is a 429 with Retry-After.
	RateLimited Fault = iota + 1
	// ServerError is a 500.
	ServerError
	// InvalidAuth is {"ok":false,"error":"invalid_auth"} (a 200).
	InvalidAuth
	// ChannelNotFound is {"ok":false,"error":"channel_not_found"} (a 200).
	ChannelNotFound
)

// Server is the fake.
type Server struct {
	*httptest.Server
	// Token is what chat.postMessage requires.
	Token string
	// WebhookPath is the secret path of the incoming webhook.
	WebhookPath string
	// RetryAfter is the delay RateLimited announces (default 1s).
	RetryAfter time.Duration

	mu     sync.Mutex
	msgs   []Message
	faults []Fault
	seq    int
}

// NewServer starts a fake accepting token and a webhook at a secret path.
// It is closed when the test ends.
func NewServer(t testing.TB, token string) *Server {
	s := &Server{Token: token, WebhookPath: "/services/T0000/B0000/XXXXsecretXXXX", RetryAfter: time.Second}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// APIURL is the Web API base URL for slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.URL + "/api/" }

// WebhookURL is the incoming webhook's URL (a secret, as in Slack).
func (s *Server) WebhookURL() string { return s.URL + s.WebhookPath }

// Fail makes the next requests fail with the faults, in order.
func (s *Server) Fail(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	var f Fault
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch f {
	case RateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(int(s.RetryAfter/time.Second)))
		http.Error(w, "rate_limited", http.StatusTooManyRequests)
		return
	case ServerError:
		http.Error(w, "<html>internal error</html>", http.StatusInternalServerError)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == s.WebhookPath:
		if f == InvalidAuth || f == ChannelNotFound {
			http.Error(w, "invalid_token", http.StatusForbidden)
			return
		}
		var m struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.add(Message{Via: "webhook", Text: m.Text, Blocks: m.Blocks})
		_, _ = io.WriteString(w, "ok")
	case r.Method == http.MethodPost && r.URL.Path == "/api/chat.postMessage":
		s.postMessage(w, r, body, f)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/services/"):
		http.Error(w, "no_service", http.StatusNotFound)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, body []byte, f Fault) {
	form, err := url.ParseQuery(string(body))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var j map[string]any
		err = json.Unmarshal(body, &j)
		form = url.Values{}
		for k, v := range j {
			if s, ok := v.(string); ok {
				form.Set(k, s)
			} else {
				b, _ := json.Marshal(v)
				form.Set(k, string(b))
			}
		}
	}
	if err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	tok := form.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = bearer
	}
	if f == InvalidAuth || tok == "" || tok != s.Token {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	channel := form.Get("channel")
	if f == ChannelNotFound || channel == "" {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	var blocks []map[string]any
	if b := form.Get("blocks"); b != "" {
		if err := json.Unmarshal([]byte(b), &blocks); err != nil {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_blocks"})
			return
		}
	}
	if form.Get("text") == "" && len(blocks) == 0 {
		writeJSON(w, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	s.mu.Lock()
	s.seq++
	ts := fmt.Sprintf("1767225600.%06d", s.seq)
	s.msgs = append(s.msgs, Message{Via: "api", Channel: channel, ThreadTS: form.Get("thread_ts"), TS: ts, Text: form.Get("text"), Blocks: blocks})
	s.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "channel": channel, "ts": ts, "message": map[string]any{"text": form.Get("text"), "ts": ts}})
}
