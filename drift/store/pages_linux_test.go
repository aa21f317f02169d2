package store

import (
	"bufio"
	"context"
	"fmt"
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

// TestStartUpReadsReleasePages: what the daemon reads of every workspace
// at start-up, the summaries (decoded into memory when the store opens)
// and each last report (for its metrics), leaves little of the file
// resident.
func TestStartUpReadsReleasePages(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "driftd.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Failed scans, so that each summary holds a 1 KiB error too: 3,000
	// summaries and reports of about 1.3 kB each.
	var names []string
	var rs []*drift.Report
	for i := range 3000 {
		ws := fmt.Sprintf("ws-%04d", i)
		names = append(names, ws)
		rs = append(rs, &drift.Report{SchemaVersion: drift.SchemaVersion, Workspace: ws, Status: drift.StatusError,
			StartedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Error: strings.Repeat("e", 1200)})
	}
	if _, err := s.SaveReports(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	if s, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opened := residentKB(t, path)
	s.releaseEvery = 256 << 10
	for _, ws := range names {
		if r, err := s.LastReport(ctx, ws); err != nil || r == nil {
			t.Fatalf("last report of %s: %v, %v", ws, r, err)
		}
	}
	read := residentKB(t, path)
	t.Logf("file %d kB; resident %d kB once opened, %d kB after every last report", fi.Size()>>10, opened, read)
	if fi.Size() < 4<<20 {
		t.Fatalf("the file is %d kB: too small to tell", fi.Size()>>10)
	}
	if opened > 512 || read > 1024 {
		t.Errorf("resident %d kB once opened (want at most 512) and %d kB after every last report (want at most 1024)", opened, read)
	}
}
