package filestate

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/reporters"
)

func TestGetPut(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "notify")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if b, err := s.GetState(ctx, "prod", "webhook[ops]"); b != nil || err != nil {
		t.Fatalf("missing entry: %q, %v", b, err)
	}
	if err := s.PutState(ctx, "prod", "webhook[ops]", []byte(`{"status":"clean"}`)); err != nil {
		t.Fatal(err)
	}
	if b, err := s.GetState(ctx, "prod", "webhook[ops]"); string(b) != `{"status":"clean"}` || err != nil {
		t.Fatalf("read back %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "prod", "webhook[ops].json")); err != nil {
		t.Errorf("entry file: %v", err)
	}
	if err := s.PutState(ctx, "prod", "webhook[ops]", nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.GetState(ctx, "prod", "webhook[ops]"); b != nil {
		t.Errorf("deleted entry reads %q", b)
	}
	if err := s.PutState(ctx, "", "x", []byte("{}")); err == nil {
		t.Error("empty workspace accepted")
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"prod.eu-west-1": "prod.eu-west-1", "webhook[pd]": "webhook[pd]",
		"..": "%2E.", ".hidden": "%2Ehidden", "a/b": "a%2Fb", "é": "%C3%A9",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLockAcrossStates: two States on one directory (two driftd
// processes) exclude each other; the lock honours ctx and is released.
func TestLockAcrossStates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, _ := Open(dir)
	b, _ := Open(dir)
	unlock, err := a.Lock(context.Background(), "prod", "slack")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(ctx, "prod", "slack"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second holder: %v, want the wait to end with ctx", err)
	}
	other, err := b.Lock(context.Background(), "prod", "github")
	if err != nil {
		t.Fatalf("another entry: %v", err)
	}
	other()
	unlock()
	unlock, err = b.Lock(context.Background(), "prod", "slack")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	unlock()
}

// slow is a reporter that counts its notifications and takes a moment,
// so that concurrent deliveries overlap.
type slow struct{ sent atomic.Int32 }

func (s *slow) Name() string { return "slack" }
func (s *slow) Notify(context.Context, reporters.Notification) (reporters.Receipt, bool, error) {
	time.Sleep(20 * time.Millisecond)
	s.sent.Add(1)
	return reporters.Receipt{Sent: true}, false, nil
}

// TestConcurrentScansTellOnce: driftd scans sharing a cache dir deliver
// the same new drift at once; it is told once.
func TestConcurrentScansTellOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := &slow{}
	cur := &drift.Report{Workspace: "prod", Status: drift.StatusDrifted, Fingerprint: "a", StartedAt: time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)}
	var wg sync.WaitGroup
	for range 4 {
		st, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			d := reporters.NewDispatcher(slog.New(slog.DiscardHandler), []reporters.Reporter{r}, reporters.WithState(st))
			for _, res := range d.Deliver(context.Background(), cur) {
				if res.Err != nil {
					t.Error(res.Err)
				}
			}
		})
	}
	wg.Wait()
	if n := r.sent.Load(); n != 1 {
		t.Fatalf("told %d times, want once", n)
	}
}

// TestForget: workspaces are listed by their names, whatever escaping
// their directories needed; forgetting one removes its records, lock
// files and directory, and leaves what driftd did not write.
func TestForget(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "notify")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ws := range []string{"a/b", "é", "keep"} {
		unlock, err := s.Lock(ctx, ws, "slack")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutState(ctx, ws, "slack", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		unlock()
	}
	if err := os.Mkdir(filepath.Join(dir, "not%zz"), 0o700); err != nil {
		t.Fatal(err)
	}
	wss, err := s.StateWorkspaces(ctx)
	slices.Sort(wss)
	if err != nil || !slices.Equal(wss, []string{"a/b", "keep", "é"}) {
		t.Fatalf("StateWorkspaces = %q, %v", wss, err)
	}
	for _, ws := range []string{"a/b", "é", "never"} {
		if err := s.ForgetState(ctx, ws); err != nil {
			t.Fatalf("ForgetState(%q): %v", ws, err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{"keep", "not%zz"}) {
		t.Errorf("left in %s: %q", dir, left)
	}
}
