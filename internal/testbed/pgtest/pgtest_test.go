package pgtest_test

import (
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/testbed/pgtest"
)

// TestServer: a server starts with password authentication, keeps data across
// a restart, and a session's advisory lock is seen by others until the
// session (or the server) ends.
func TestServer(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	if _, err := s.Query(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('a\nb|c')"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Query(ctx, "SELECT v FROM t"); err != nil || got != "a\nb|c" {
		t.Fatalf("select: %q, %v; want the value byte for byte", got, err)
	}
	if !strings.Contains(s.ConnString(), s.Password) || !strings.HasPrefix(s.ConnString(), "postgres://driftd:") {
		t.Errorf("ConnString %q lacks the user and password", s.ConnString())
	}

	ss, err := s.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Exec("SELECT pg_advisory_lock(42)"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Query(ctx, "SELECT pg_try_advisory_lock(42)"); got != "f" {
		t.Errorf("another client took lock 42 held by the session: %q", got)
	}

	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Query(ctx, "SELECT v FROM t"); err != nil || got != "a\nb|c" {
		t.Fatalf("after restart: %q, %v", got, err)
	}
	if got, _ := s.Query(ctx, "SELECT pg_try_advisory_lock(42)"); got != "t" {
		t.Errorf("lock 42 still held after a restart cut its session: %q", got)
	}
	if _, err := ss.Exec("SELECT 1"); err == nil {
		t.Error("the session survived a server restart")
	}
	ss.Close()

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, "SELECT 1"); err == nil {
		t.Error("query succeeded on a stopped server")
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}
