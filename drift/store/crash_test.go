package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
	bolt "go.etcd.io/bbolt"
)

// helperEnv names the store file TestHelperWriter writes to; set only in the
// child process TestCrashSafety starts.
const helperEnv = "DRIFTD_STORE_CRASH_HELPER"

var crashWorkspaces = []string{"alpha", "beta", "gamma"}

// TestHelperWriter is not a test: it is the child of TestCrashSafety. It
// saves reports until killed, printing each scan's ID once SaveReport has
// returned (the transaction is committed and fsync'd).
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	s, err := store.Open(path, store.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		ws := crashWorkspaces[i%len(crashWorkspaces)]
		r := report(ws, []drift.Status{drift.StatusDrifted, drift.StatusClean, drift.StatusError}[i%3], time.Now())
		r.Commit = strconv.Itoa(i)
		// Reports of varying size make transactions allocate and free
		// pages, not just overwrite one.
		for j := range i % 40 {
			r.Pending = append(r.Pending, drift.ResourceChange{
				Address: fmt.Sprintf("null_resource.r%d", j), Type: "null_resource", Action: drift.ActionCreate,
				Attributes: []drift.AttributeChange{{Path: "triggers", Before: nil, After: strings.Repeat("x", 200)}},
			})
		}
		sc, err := s.SaveReport(ctx, r)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		if err := s.PutState(ctx, ws, "github", []byte(strconv.Itoa(i))); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Printf("committed %d %s\n", sc.ID, ws)
	}
}

// TestCrashSafety kills a writing process at random moments and checks that
// the store still opens and holds every scan the writer saw committed.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Logf("seed %d", seed)
	path := filepath.Join(t.TempDir(), "driftd.db")
	committed := map[uint64]string{} // scan ID -> workspace, across all rounds
	var maxID uint64

	for round := range 6 {
		ids := runWriter(t, path, time.Duration(rng.IntN(300))*time.Millisecond)
		if len(ids) == 0 {
			t.Fatalf("round %d: the writer committed nothing", round)
		}
		for _, c := range ids {
			if c.id <= maxID {
				t.Fatalf("round %d: ID %d reused (previous max %d)", round, c.id, maxID)
			}
			maxID = c.id
			committed[c.id] = c.ws
		}
		checkFile(t, path)
		checkStore(t, path, committed)
		t.Logf("round %d: %d scans committed before kill", round, len(ids))
	}
}

type commit struct {
	id uint64
	ws string
}

// runWriter starts TestHelperWriter, lets it commit for at least one scan
// plus delay, SIGKILLs it, and returns the commits it announced.
func runWriter(t *testing.T, path string, delay time.Duration) []commit {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	var commits []commit
	parse := func(line string) {
		var c commit
		if _, err := fmt.Sscanf(line, "committed %d %s", &c.id, &c.ws); err != nil {
			t.Errorf("writer said %q", line)
			return
		}
		commits = append(commits, c)
	}
	select {
	case line, ok := <-lines:
		if !ok {
			_ = cmd.Wait()
			t.Fatal("writer exited before its first commit")
		}
		parse(line)
	case <-time.After(2 * time.Minute): // a safety net: a loaded machine starts processes slowly
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("writer committed nothing in 2 minutes")
	}
	kill := time.After(delay)
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				done = true
				break
			}
			parse(line)
		case <-kill:
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("writer ended with %v, want SIGKILL", err)
	}
	return commits
}

// checkFile runs bbolt's own consistency check over every page.
func checkFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("bbolt open after kill: %v", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkStore reopens the store and checks it holds every committed scan and
// that each workspace's summary, history and last report agree.
func checkStore(t *testing.T, path string, committed map[uint64]string) {
	t.Helper()
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("Open after kill: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	have := map[uint64]bool{}
	sums, err := s.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, sum := range sums {
		scans, err := s.Scans(ctx, sum.Workspace, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range scans {
			have[sc.ID] = true
		}
		seen[sum.Workspace] = true
		newest := scans[0]
		if sum.Last.ID != newest.ID || !sum.Last.StartedAt.Equal(newest.StartedAt) {
			t.Errorf("%s: summary's last scan %+v, history's newest %+v", sum.Workspace, sum.Last, newest)
		}
		r, err := s.LastReport(ctx, sum.Workspace)
		if err != nil {
			t.Fatal(err)
		}
		if r == nil || r.Commit != newest.Commit {
			t.Errorf("%s: last report is not the newest scan's (%q)", sum.Workspace, newest.Commit)
		}
	}
	for id, ws := range committed {
		if !seen[ws] {
			t.Errorf("workspace %s lost its summary", ws)
		}
		if !have[id] {
			t.Errorf("scan %d of %s was committed before the kill and is gone", id, ws)
		}
	}
}
