package pgtest

import (
	"errors"
	"os"
	"testing"
)

// New starts a Server for the test and closes it when the test ends. Without
// PostgreSQL binaries it skips the test, loudly, unless CI=true: in CI (where
// `make test` installs PostgreSQL) a missing server fails the test rather than
// letting the backend go untested.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.Context())
	if errors.Is(err, ErrNoPostgres) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI=true, so this fails instead of skipping (`make test` installs Debian's postgresql)", err)
		}
		t.Skipf("SKIPPING: %v. Install PostgreSQL (Debian: apt-get install postgresql) or set DRIFTD_PG_BIN, or run `make test`, which installs it", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("PostgreSQL log:\n%s", tail(s.Log(), 4000))
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}
