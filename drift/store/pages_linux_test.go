package store

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
)

// residentKB is the resident size of the process's mapping of file, from
// /proc/self/smaps.
func residentKB(t *testing.T, file string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = strings.HasSuffix(line, " "+file)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	return kb
}

// TestHistoryReadsReleasePages: reading a long history leaves no more of
// the file resident than the bytes read between releases, where without
// releases most of the history stays in the process.
func TestHistoryReadsReleasePages(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "driftd.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for batch := range 40 {
		rs := make([]*drift.Report, 1000)
		for i := range rs {
			rs[i] = &drift.Report{SchemaVersion: drift.SchemaVersion, Workspace: "ws", Status: drift.StatusError,
				StartedAt: at.Add(time.Duration(batch*1000+i) * time.Hour), Error: strings.Repeat("e", 100)}
		}
		if _, err := s.SaveReports(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func() int {
		n := 0
		if err := s.ScansBack(ctx, "ws", func(Scan) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}

	s.releaseEvery = 256 << 10
	if n := readAll(); n != 40000 {
		t.Fatalf("read %d scans", n)
	}
	released := residentKB(t, path)

	s.releaseEvery = 1 << 62
	readAll()
	kept := residentKB(t, path)
	t.Logf("resident after reading the history: %d kB with releases every 256 kB, %d kB without", released, kept)
	if kept < 2048 {
		t.Fatalf("without releases only %d kB resident: the history is too small to tell", kept)
	}
	if released > 1024 {
		t.Errorf("%d kB of the file resident after reading with releases every 256 kB, want at most 1024", released)
	}
}
