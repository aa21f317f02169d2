package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift/slo"
	"github.com/driftd/driftd/internal/server"
)

// chromium finds Debian's chromium. CI installs it, so there a missing
// browser is a failure; on a developer's machine it is a skip.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found, and CI=true: CI must install it (apt-get install -y chromium)")
	}
	t.Skip("chromium not found: install it (apt-get install -y chromium) to run the browser test")
	return ""
}

// artifactDir is where screenshots go: $DRIFTD_ARTIFACTS when set, so that
// CI (and a person checking the layout) can keep them, else the test's
// temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("DRIFTD_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// runChromium runs headless chromium with the flags this machine needs and
// returns its standard output.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	t.Parallel()
	bin := chromium(t)
	ts := newTestServer(t, openEstate(t), nil)
	dir := artifactDir(t)

	t.Run("dom", func(t *testing.T) {
		dom := string(runChromium(t, bin, "--dump-dom", ts.URL+"/"))
		rows := statusRows(parse(t, dom))
		var names []string
		for _, r := range rows {
			names = append(names, r.name)
		}
		if !slices.Equal(names, wantOrder) {
			t.Fatalf("browser sees rows %v, want %v", names, wantOrder)
		}
		if !strings.Contains(rows[0].cells, "error") || !strings.Contains(rows[1].cells, "3 1") {
			t.Errorf("first rows = %+v", rows[:2])
		}
		assertNoSecret(t, "browser DOM", dom)

	})

	screenshots(t, bin, ts.URL, dir, []shot{
		{"status-desktop", "/", desktop},
		{"status-phone", "/", phone},
		{"workspace-desktop", "/workspaces/network", desktop},
		{"workspace-phone", "/workspaces/network", phone},
	})
}

// Window sizes the pages are checked at: a laptop and a phone.
const (
	desktop = "1280,800"
	phone   = "390,844"
)

type shot struct{ name, path, size string }

// screenshots takes each shot of the server at base into dir, in parallel.
func screenshots(t *testing.T, bin, base, dir string, shots []shot) {
	for _, s := range shots {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(dir, s.name+".png")
			runChromium(t, bin, "--screenshot="+file, "--window-size="+s.size, base+s.path)
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("no screenshot: %v", err)
			}
			if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10_000 {
				t.Fatalf("screenshot %s is not a plausible PNG (%d bytes)", file, len(b))
			}
			t.Logf("screenshot: %s", file)
		})
	}
}

// TestBrowserFleet: the status page of a fleet of 250 workspaces, with
// owners, the fleet's SLO, pages and filters, as a browser renders it.
func TestBrowserFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	t.Parallel()
	bin := chromium(t)
	const scanned, never = 240, 10
	st := openFleet(t, scanned, 48)
	f := newFleet(t, st, scanned, never, func(o *server.Options) {
		var targets []slo.Target
		for i := range scanned {
			ws := fmt.Sprintf("ws-%04d", i)
			targets = append(targets, slo.Target{Workspace: ws, Owners: o.Owners(ws), Objective: slo.Objective{DriftFree: 0.9, Window: 30 * 24 * time.Hour}})
		}
		tr := slo.NewTracker(st)
		o.SLO = func(ctx context.Context) (*slo.Fleet, error) { return tr.Compute(ctx, targets, now) }
	})
	dir := artifactDir(t)

	t.Run("dom", func(t *testing.T) {
		dom := string(runChromium(t, bin, "--dump-dom", f.URL+"/?page=2"))
		rows := statusRows(parse(t, dom))
		if want := worstFirst(f.names, scanned)[100:200]; !slices.Equal(names(rows), want) {
			t.Errorf("browser sees page 2 as %v, want %v", names(rows), want)
		}
		for _, want := range []string{`id="slo"`, `id="pager"`, `id="filters"`, "Page 2 of 3"} {
			if !strings.Contains(dom, want) {
				t.Errorf("browser DOM lacks %s", want)
			}
		}
	})
	screenshots(t, bin, f.URL, dir, []shot{
		{"fleet-status-desktop", "/", desktop},
		{"fleet-status-phone", "/", phone},
		{"fleet-filtered-desktop", "/?owner=team-2&status=clean&page=1", desktop},
		{"fleet-filtered-phone", "/?owner=team-2&q=ws-00", phone},
	})
}
