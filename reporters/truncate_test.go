package reporters

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s       string
		n       int
		want    string
		wantCut bool
	}{
		{"hello", 10, "hello", false},
		{"hello", 5, "hello", false},
		{"hello", 4, "hel…", true},
		{"héllo wörld", 5, "héll…", true},
		{"日本語テキスト", 3, "日本…", true},
		{"🙂🙂🙂", 2, "🙂…", true},
		{"abc", 0, "", true},
		{"", 0, "", false},
	}
	for _, tt := range tests {
		got, cut := Truncate(tt.s, tt.n)
		if got != tt.want || cut != tt.wantCut {
			t.Errorf("Truncate(%q, %d) = %q, %v; want %q, %v", tt.s, tt.n, got, cut, tt.want, tt.wantCut)
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > max(tt.n, 0) {
			t.Errorf("Truncate(%q, %d) = %q: invalid or too long", tt.s, tt.n, got)
		}
	}
}

func TestTruncateBytes(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"hello world", "日本語テキスト", "🙂🙂🙂🙂", strings.Repeat("é", 50)} {
		for n := 0; n <= len(s)+1; n++ {
			got, cut := TruncateBytes(s, n)
			if len(got) > n || !utf8.ValidString(got) {
				t.Fatalf("TruncateBytes(%q, %d) = %q", s, n, got)
			}
			if cut != (len(s) > n) {
				t.Fatalf("TruncateBytes(%q, %d) cut = %v", s, n, cut)
			}
		}
	}
}

func TestMoreResources(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "", 1: "… and 1 more resource", 42: "… and 42 more resources"} {
		if got := MoreResources(n); got != want {
			t.Errorf("MoreResources(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	const hook = "https://hooks.example.com/services/T0/B0/SECRETPATH"
	_, err := (&http.Client{Transport: failing{}}).Post(hook, "application/json", nil)
	if err == nil || !strings.Contains(err.Error(), "SECRETPATH") {
		t.Fatalf("setup: %v", err)
	}
	wrapped := WithRetryAfter(fmt.Errorf("post: %w", err), 3*time.Second)
	red := Redact(wrapped, "xoxb-token")
	if strings.Contains(red.Error(), "SECRETPATH") {
		t.Errorf("url survived: %v", red)
	}
	if d, ok := RetryAfter(red); !ok || d != 3*time.Second {
		t.Errorf("RetryAfter lost: %v %v", d, ok)
	}
	if got := Redact(errors.New("bad token xoxb-token here"), "xoxb-token").Error(); strings.Contains(got, "xoxb") {
		t.Errorf("token survived: %q", got)
	}
}

type failing struct{}

func (failing) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}
