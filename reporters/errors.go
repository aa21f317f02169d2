package reporters

import (
	"errors"
	"net/url"
	"strings"
	"time"
)

type delayError struct {
	err   error
	after time.Duration
}

func (e *delayError) Error() string { return e.err.Error() }
func (e *delayError) Unwrap() error { return e.err }

// WithRetryAfter marks err with the delay a server asked for before the
// next attempt (Retry-After, a rate limit reset). The Dispatcher honours it.
func WithRetryAfter(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	if after < 0 {
		after = 0
	}
	return &delayError{err: err, after: after}
}

// RetryAfter returns the delay carried by err (see WithRetryAfter).
func RetryAfter(err error) (time.Duration, bool) {
	var d *delayError
	if errors.As(err, &d) {
		return d.after, true
	}
	return 0, false
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Redact returns err with every occurrence of the secrets (tokens, webhook
// URLs) removed from its text. A *url.Error's URL is dropped entirely, since
// for webhooks the URL itself is the credential. errors.Is/As still see the
// original chain, so RetryAfter and friends keep working.
func Redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = strings.ReplaceAll(msg, ue.URL, "(url redacted)")
		if q := `"` + ue.URL + `"`; strings.Contains(msg, q) {
			msg = strings.ReplaceAll(msg, q, "(url redacted)")
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "(redacted)")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
