package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

// ScaleBench measures `driftd serve` over a large estate's history: a
// store of Workspaces × History/Interval scans, written through the
// store's own API, then the daemon's start-up, memory, store size, and the
// latency of its pages and API under a loopback load generator (wrk when
// on PATH, else a Go one). No scan runs: every schedule is a day away.
type ScaleBench struct {
	Driftd     string
	Workspaces int
	// History is how far back scans go, one every Interval.
	History, Interval time.Duration
	// Load is how long each route is loaded, by Connections at once.
	Load        time.Duration
	Connections int
	// SLO gives every workspace an objective, so that the daemon keeps
	// their history in memory and the status page shows the fleet's SLO.
	SLO bool
	// Wrk is the wrk binary; "" uses the Go load generator.
	Wrk    string
	Dir    string
	Logger *slog.Logger
}

// ScaleResult is what scale.json holds.
type ScaleResult struct {
	Workspaces int           `json:"workspaces"`
	Scans      int           `json:"scans"`
	SLO        bool          `json:"slo"`
	History    time.Duration `json:"history_ns"`
	// Generate is how long writing the history took (setup, not a figure
	// of driftd's).
	Generate time.Duration `json:"generate_ns"`
	// StoreBytes is the store file's size after the daemon ran.
	StoreBytes int64 `json:"store_bytes"`
	// Startup is from exec to /readyz answering 200.
	Startup time.Duration `json:"startup_ns"`
	// FirstView is the first status page request, which reads the SLO
	// history into memory.
	FirstView time.Duration `json:"first_view_ns"`
	// RSS is VmRSS after the load, MaxRSS the peak (VmHWM); RSS is
	// RSSAnon (heap, stacks) plus RSSFile (pages of the store's file
	// mapped and read, which the kernel may drop).
	RSS     int64 `json:"rss_bytes"`
	MaxRSS  int64 `json:"max_rss_bytes"`
	RSSAnon int64 `json:"rss_anon_bytes"`
	RSSFile int64 `json:"rss_file_bytes"`
	// Generator is "wrk" or "go".
	Generator   string      `json:"generator"`
	Connections int         `json:"connections"`
	Routes      []RouteLoad `json:"routes"`
	Load1       float64     `json:"load1"`
	// Phases are the largest resident sets seen while the daemon was
	// idle after start-up, served the first page, and under each route's
	// load.
	Phases []PhaseRSS `json:"phases"`
}

// RouteLoad is one route under load.
type RouteLoad struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Page says whether the route is an HTML page (the page target's).
	Page     bool          `json:"page"`
	Requests int           `json:"requests"`
	Failed   int           `json:"failed"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	PerSec   float64       `json:"per_second"`
	Bytes    int64         `json:"bytes"` // one response's body
	Load1    float64       `json:"load1"`
}

// scaleRoutes are what the benchmark loads: the status page as people
// open it, deep in a filter and searched, a workspace's page, the API,
// and the metrics.
func scaleRoutes(ws string) []RouteLoad {
	return []RouteLoad{
		{Name: "status page", Path: "/", Page: true},
		{Name: "status page, filtered, page 20", Path: "/?status=clean&page=20", Page: true},
		{Name: "status page, searched", Path: "/?q=ws-01", Page: true},
		{Name: "workspace page", Path: "/workspaces/" + ws, Page: true},
		{Name: "API: all workspaces", Path: "/api/v1/workspaces"},
		{Name: "API: one workspace", Path: "/api/v1/workspaces/" + ws},
		{Name: "API: fleet SLO", Path: "/api/v1/slo"},
		// Prometheus scrapes every 15–60 s, not in a loop; loaded like the
		// rest, it shows what many scrapes at once cost.
		{Name: "metrics", Path: "/metrics"},
	}
}

// Measure writes the history, starts the daemon, loads every route in
// turn, and stops the daemon with SIGTERM.
func (b *ScaleBench) Measure(ctx context.Context) (*ScaleResult, error) {
	names := make([]string, b.Workspaces)
	for i := range names {
		names[i] = fmt.Sprintf("ws-%04d", i)
	}
	data := filepath.Join(b.Dir, "data")
	now := time.Now().UTC().Truncate(b.Interval)
	res := &ScaleResult{Workspaces: b.Workspaces, SLO: b.SLO, History: b.History, Connections: b.Connections, Generator: "go"}
	if b.Wrk != "" {
		res.Generator = "wrk"
	}
	b.Logger.Info("scale: writing history", "workspaces", b.Workspaces, "history", b.History, "interval", b.Interval)
	t0 := time.Now()
	n, err := WriteHistory(ctx, filepath.Join(data, "driftd.db"), names, now, b.History, b.Interval)
	if err != nil {
		return nil, err
	}
	res.Scans, res.Generate = n, time.Since(t0)
	b.Logger.Info("scale: history written", "scans", n, "took", res.Generate.Round(time.Second))

	cfg, err := b.writeConfig(names)
	if err != nil {
		return nil, err
	}
	d, err := startServe(ctx, b.Driftd, 120*time.Second, "--config", cfg, "--data-dir", data,
		"--cache-dir", filepath.Join(b.Dir, "cache"), "--work-dir", filepath.Join(b.Dir, "work"))
	if err != nil {
		return nil, err
	}
	defer d.stop()
	base := "http://" + d.addr
	res.Startup = d.startup
	b.Logger.Info("scale: daemon ready", "startup", res.Startup)

	watch := watchRSS(ctx, d.cmd.Process.Pid, "ready")
	defer watch.close()
	watch.phase("first status page")
	t1 := time.Now()
	if _, err := get(ctx, base+"/"); err != nil {
		return nil, err
	}
	res.FirstView = time.Since(t1)
	for _, r := range scaleRoutes(names[42%len(names)]) {
		body, err := get(ctx, base+r.Path)
		if err != nil {
			return nil, err
		}
		r.Bytes = int64(len(body))
		r.Load1 = Load1()
		watch.phase(r.Name)
		b.Logger.Info("scale: loading", "route", r.Path, "for", b.Load, "connections", b.Connections)
		if b.Wrk != "" {
			err = wrkLoad(ctx, b.Wrk, base+r.Path, b.Connections, b.Load, &r)
		} else {
			err = goLoad(ctx, base+r.Path, b.Connections, b.Load, &r)
		}
		if err != nil {
			return nil, err
		}
		res.Routes = append(res.Routes, r)
	}
	res.Phases = watch.close()
	pid := d.cmd.Process.Pid
	fields := map[string]*int64{"VmRSS": &res.RSS, "VmHWM": &res.MaxRSS, "RssAnon": &res.RSSAnon, "RssFile": &res.RSSFile}
	if err := procStatusFields(pid, fields); err != nil {
		return nil, fmt.Errorf("bench: driftd serve died: %w", err)
	}
	res.Load1 = Load1()
	d.stop() // the store's size once closed
	fi, err := os.Stat(filepath.Join(data, "driftd.db"))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	res.StoreBytes = fi.Size()
	return res, nil
}

// writeConfig configures the estate: every workspace on one directory
// (nothing is scanned), owners for four in five, with SLO the example's
// objective for all (over 30 days, or the whole history when shorter), and retention that keeps exactly the history written.
func (b *ScaleBench) writeConfig(names []string) (string, error) {
	dir := filepath.Join(b.Dir, "module")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("# never scanned by the scale benchmark\n"), 0o644); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "version: 1\nserver:\n  retention:\n    max_age: %s\n    max_scans: %d\n", b.History, int(b.History/b.Interval)+1)
	// @every 24h first fires a day after start.
	s.WriteString("defaults:\n  schedule: \"@every 24h\"\n")
	if b.SLO {
		fmt.Fprintf(&s, "  slo:\n    drift_free: 99%%\n    window: %s\n    resolve_within: 72h\n", min(b.History, 30*24*time.Hour))
	}
	s.WriteString("workspaces:\n")
	for i, n := range names {
		fmt.Fprintf(&s, "  - name: %s\n    dir: %q\n", n, dir)
		if i%5 != 4 {
			fmt.Fprintf(&s, "    owners: [team-%d]\n", i%40)
		}
	}
	path := filepath.Join(b.Dir, "workspaces.yaml")
	if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return path, nil
}

// WriteHistory fills the store at path with a scan of every workspace
// every interval over history, ending at now, through the store's own
// SaveReports (a few workspaces per transaction). Workspace i drifts for a
// day now and then, fails about one scan in a hundred, and some have
// changes pending, so that every state and transition is in the history.
// It returns the number of scans written.
func WriteHistory(ctx context.Context, path string, names []string, now time.Time, history, interval time.Duration) (int, error) {
	per := int(history / interval)
	st, err := store.Open(path, store.Options{MaxAge: history, MaxScans: per + 1, Clock: func() time.Time { return now }})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	const batch = 16 // workspaces per transaction
	total := 0
	for lo := 0; lo < len(names); lo += batch {
		var rs []*drift.Report
		for i := lo; i < min(lo+batch, len(names)); i++ {
			for h := range per {
				rs = append(rs, scaleReport(names[i], i, h, now.Add(-time.Duration(per-1-h)*interval)))
			}
		}
		if _, err := st.SaveReports(ctx, rs); err != nil {
			return total, err
		}
		total += len(rs)
	}
	return total, st.Close()
}

// scaleReport is workspace i's h-th scan.
func scaleReport(ws string, i, h int, at time.Time) *drift.Report {
	r := &drift.Report{
		SchemaVersion: drift.SchemaVersion, Workspace: ws, StartedAt: at, Duration: 8 * time.Second,
		Status: drift.StatusClean, TerraformVersion: "1.11.4", Commit: "9f2c4e1a7b3d5f60812ab4c9d0e1f2a3b4c5d6e7",
	}
	switch {
	case (h*7+i)%97 == 0:
		r.Status = drift.StatusError
		r.Error = fmt.Sprintf("workspace %q: terraform plan: exit status 1\nError: reading object: 503 Service Unavailable\n\n  with testbed_object.o%d", ws, i%20)
		return r
	case (h+i*37)%500 < 24: // a day of drift every three weeks or so
		for k := range i%4 + 1 {
			r.Drift = append(r.Drift, drift.ResourceChange{
				Address: fmt.Sprintf("testbed_object.o%d", k), Type: "testbed_object", Name: fmt.Sprintf("o%d", k), Action: drift.ActionUpdate,
				Attributes: []drift.AttributeChange{{Path: "tags.env", Before: "prod", After: "staging"}},
			})
		}
		r.Status, r.Fingerprint = drift.StatusDrifted, drift.Fingerprint(r.Drift)
	}
	if i%11 == 0 {
		r.Pending = []drift.ResourceChange{{Address: "testbed_object.new", Type: "testbed_object", Name: "new", Action: drift.ActionCreate}}
	}
	return r
}

func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("bench: GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: GET %s: %s: %.200s", url, resp.Status, body)
	}
	return body, nil
}

var (
	wrkPercentile = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkRequests   = regexp.MustCompile(`(?m)^\s+(\d+) requests in `)
	wrkRate       = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkFailed     = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses: (\d+)`)
	wrkSocketErr  = regexp.MustCompile(`(?m)^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrkLoad runs wrk on url and reads its latency distribution.
func wrkLoad(ctx context.Context, wrk, url string, conns int, d time.Duration, r *RouteLoad) error {
	out, err := exec.CommandContext(ctx, wrk, "-t", "1", "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", max(1, int(d.Seconds()))),
		"--timeout", "30s", "--latency", url).CombinedOutput()
	if err != nil {
		return fmt.Errorf("bench: wrk %s: %w\n%s", url, err, out)
	}
	s := string(out)
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}
	for _, m := range wrkPercentile.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(v * float64(units[m[3]]))
		if m[1] == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	m := wrkRequests.FindStringSubmatch(s)
	if m == nil || r.P99 == 0 {
		return fmt.Errorf("bench: wrk %s: no latency distribution in its output:\n%s", url, s)
	}
	r.Requests, _ = strconv.Atoi(m[1])
	if m := wrkRate.FindStringSubmatch(s); m != nil {
		r.PerSec, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := wrkFailed.FindStringSubmatch(s); m != nil {
		r.Failed, _ = strconv.Atoi(m[1])
	}
	if m := wrkSocketErr.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			r.Failed += n
		}
	}
	return nil
}

// goLoad is the load generator when wrk is not installed: conns clients,
// each sending the next request when the last answered, for d.
func goLoad(ctx context.Context, url string, conns int, d time.Duration, r *RouteLoad) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu      sync.Mutex
		lat     []time.Duration
		failed  int
		wg      sync.WaitGroup
		started = time.Now()
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t := time.Now()
				ok := fetch(ctx, client, url)
				el := time.Since(t)
				if ctx.Err() != nil {
					return // cut short by the end of the window
				}
				mu.Lock()
				lat = append(lat, el)
				if !ok {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(lat) == 0 {
		return fmt.Errorf("bench: no request to %s finished within %s", url, d)
	}
	slices.Sort(lat)
	r.Requests, r.Failed = len(lat), failed
	r.P50, r.P99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	r.PerSec = float64(len(lat)) / time.Since(started).Seconds()
	return nil
}

func fetch(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK
}
