package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/driftd/driftd/internal/testbed"
)

// IdleBench measures `driftd serve` doing nothing: many workspaces, every
// schedule a day away.
type IdleBench struct {
	Env        *testbed.Env
	Driftd     string
	Workspaces int
	// Settle is how long the daemon runs before sampling starts; Window is
	// how long it is sampled.
	Settle, Window time.Duration
	Dir            string
	Logger         *slog.Logger
}

// IdleResult is what idle.json holds.
type IdleResult struct {
	Workspaces int           `json:"workspaces"`
	Window     time.Duration `json:"window_ns"`
	// RSS is VmRSS at the end of the window, MaxRSS the largest sampled.
	RSS    int64 `json:"rss_bytes"`
	MaxRSS int64 `json:"max_rss_bytes"`
	// CPUPercent is utime+stime over the window, in percent of one core.
	CPUPercent float64 `json:"cpu_percent"`
	Load1      float64 `json:"load1"`
	// Startup is the time from exec to /readyz answering 200.
	Startup time.Duration `json:"startup_ns"`
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// Measure starts the daemon, waits for readiness and Settle, samples it
// for Window, and stops it with SIGTERM.
func (b *IdleBench) Measure(ctx context.Context) (*IdleResult, error) {
	ws, err := b.Env.NewWorkspace("idle", fmt.Sprintf(workspaceTF, 1, "idle"))
	if err != nil {
		return nil, err
	}
	names := make([]string, b.Workspaces)
	for i := range names {
		names[i] = fmt.Sprintf("idle%03d", i)
	}
	cfg := filepath.Join(b.Dir, "workspaces.yaml")
	// @every 24h first fires a day after start, whatever the time of day.
	if err := WriteConfig(cfg, b.Env, names, func(string) string { return ws.Dir }, 0, "@every 24h", nil); err != nil {
		return nil, err
	}
	d, err := startServe(ctx, b.Driftd, 60*time.Second, "--config", cfg, "--data-dir", filepath.Join(b.Dir, "data"), "--cache-dir", filepath.Join(b.Dir, "cache"))
	if err != nil {
		return nil, err
	}
	defer d.stop()
	addr := d.addr
	res := &IdleResult{Workspaces: b.Workspaces, Window: b.Window, Startup: d.startup}
	b.Logger.Info("idle daemon: ready", "addr", addr, "startup", res.Startup, "settle", b.Settle, "window", b.Window)
	select {
	case <-time.After(b.Settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	pid := d.cmd.Process.Pid
	res.Load1 = Load1()
	st0, err := procStat(pid)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(t0) < b.Window {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		rss, err := procStatus(pid, "VmRSS")
		if err != nil {
			return nil, fmt.Errorf("bench: driftd serve died: %w", err)
		}
		res.RSS, res.MaxRSS = rss, max(res.MaxRSS, rss)
	}
	st1, err := procStat(pid)
	if err != nil {
		return nil, err
	}
	cpu := time.Duration(st1.cpuTicks-st0.cpuTicks) * time.Second / clockTick
	res.CPUPercent = 100 * float64(cpu) / float64(time.Since(t0))
	return res, nil
}

// serveProc is a `driftd serve` started by startServe.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	// startup is from exec to /readyz answering 200.
	startup time.Duration
}

// startServe starts `driftd serve` with args, listening on a free
// loopback port and logging JSON, and waits up to timeout for its
// address and then for readiness. Stop it with stop.
func startServe(ctx context.Context, driftd string, timeout time.Duration, args ...string) (*serveProc, error) {
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "info"}, args...)
	cmd := exec.CommandContext(ctx, driftd, args...)
	cmd.Env = driftdEnv()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start driftd serve: %w", err)
	}
	d := &serveProc{cmd: cmd}
	if d.addr, err = listenAddr(stderr, timeout); err == nil {
		err = waitReady(ctx, "http://"+d.addr+"/readyz", timeout)
	}
	if err != nil {
		d.stop()
		return nil, err
	}
	d.startup = time.Since(start)
	return d, nil
}

// stop ends the daemon with SIGTERM and waits for it.
func (d *serveProc) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	_ = d.cmd.Wait()
}

// listenAddr reads driftd's JSON log until the "driftd serving" line and
// returns its listen address; the rest of the log is discarded.
func listenAddr(r io.Reader, timeout time.Duration) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			if sent {
				continue // keep draining so driftd never blocks on stderr
			}
			var line struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "driftd serving" {
				found <- line.Listen
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case a, ok := <-found:
		if !ok {
			return "", fmt.Errorf("bench: driftd serve exited before serving")
		}
		return a, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("bench: driftd serve did not log its address within %s", timeout)
	}
}

func waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: driftd serve not ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
