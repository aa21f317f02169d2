package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/internal/logbuf"
)

// TestChangedServerSettingsCoversEverySetting: a reload looks at every
// server setting, so that none added later is silently left as it was
// at start-up.
func TestChangedServerSettingsCoversEverySetting(t *testing.T) {
	// leaves lists the index paths of the non-struct fields under typ.
	var leaves func(typ reflect.Type, prefix []int) [][]int
	leaves = func(typ reflect.Type, prefix []int) [][]int {
		var out [][]int
		for i := range typ.NumField() {
			idx := append(slices.Clone(prefix), i)
			if f := typ.Field(i); f.Type.Kind() == reflect.Struct {
				out = append(out, leaves(f.Type, idx)...)
			} else {
				out = append(out, idx)
			}
		}
		return out
	}
	typ := reflect.TypeFor[config.Server]()
	for _, idx := range leaves(typ, nil) {
		var cur config.Server
		v := reflect.ValueOf(&cur).Elem().FieldByIndex(idx)
		name := typ.FieldByIndex(idx).Name
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int, reflect.Int64:
			v.SetInt(1)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Slice:
			v.Set(reflect.Append(v, reflect.ValueOf("x")))
		default:
			t.Fatalf("%s: a %s setting; teach this test and changedServerSettings about it", name, v.Kind())
		}
		if got := changedServerSettings(config.Server{}, cur); len(got) != 1 {
			t.Errorf("changing %s reports %v, want one setting", name, got)
		}
	}
}

// reloadConfig is a config with one workspace that is never scanned
// during a test, and server lines.
func reloadConfig(t *testing.T, path, server string) {
	t.Helper()
	text := fmt.Sprintf("version: 1\nworkspaces:\n  - name: one\n    dir: %s\n    schedule: \"@daily\"\nserver:\n%s", filepath.Dir(path), server)
	must(t, os.WriteFile(path, []byte(text), 0o600))
}

// hostStatus is the status of GET /healthz at addr with the Host host.
func hostStatus(t *testing.T, addr, host string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/healthz", nil)
	must(t, err)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// triggerStatus is the status of a trigger of an unconfigured workspace
// with token: 401 for a wrong token, 404 for the right one, as
// authentication comes first.
func triggerStatus(t *testing.T, addr, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/api/v1/workspaces/nope/scan", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeReloadServerSettings: a reload applies the trigger token,
// allowed_hosts and the scheduler's and store's settings at once; a
// change to listen or scan_at_startup rejects the whole reload, naming
// each, and the running config (workspaces included) stays.
func TestServeReloadServerSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon end-to-end")
	}
	dir := t.TempDir()
	cfg, tokenFile := filepath.Join(dir, "driftd.yaml"), filepath.Join(dir, "token")
	const tokenA, tokenB = "token-a-0123456789abcdef0123456789", "token-b-0123456789abcdef0123456789"
	must(t, os.WriteFile(tokenFile, []byte(tokenA), 0o600))
	addr := freeAddr(t)
	server := fmt.Sprintf("  listen: %q\n  trigger_token_file: %s\n  allowed_hosts: [old.example]\n", addr, tokenFile)
	reloadConfig(t, cfg, server)
	d := startDaemonAt(t, addr, cliEnv(t), "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--log-format", "json",
		"--allowed-hosts", "flag.example,*.pods.example")

	if got := []int{hostStatus(t, addr, "old.example"), hostStatus(t, addr, "new.example"), hostStatus(t, addr, "flag.example"), hostStatus(t, addr, "d-0.pods.example"), triggerStatus(t, addr, tokenA)}; fmt.Sprint(got) != "[200 421 200 200 404]" {
		t.Fatalf("before the reload: old host, new host, flag's hosts, token A = %v, want [200 421 200 200 404]", got)
	}

	must(t, os.WriteFile(tokenFile, []byte(tokenB), 0o600))
	server = fmt.Sprintf("  listen: %q\n  trigger_token_file: %s\n  allowed_hosts: [new.example]\n"+
		"  concurrency: 2\n  jitter: 1m\n  shutdown_timeout: 45s\n  min_interval: 2s\n  retention: {max_age: 720h, max_scans: 10}\n", addr, tokenFile)
	reloadConfig(t, cfg, server)
	d.reload(t, "the reload")
	log := d.log()
	if !strings.Contains(log, `"msg":"config reloaded"`) ||
		!strings.Contains(log, `"server_changed":["allowed_hosts","trigger_token","concurrency","jitter","min_interval","shutdown_timeout","retention"]`) {
		t.Fatalf("reload not logged with the changed settings:\n%s", log)
	}
	if strings.Contains(log, tokenB) || strings.Contains(log, tokenA) {
		t.Fatal("a trigger token in the log")
	}
	if got := []int{hostStatus(t, addr, "old.example"), hostStatus(t, addr, "new.example"), hostStatus(t, addr, "flag.example"), triggerStatus(t, addr, tokenB), triggerStatus(t, addr, tokenA)}; fmt.Sprint(got) != "[421 200 200 404 401]" {
		t.Fatalf("after the reload: old host, new host, flag's host, token B, token A = %v, want [421 200 200 404 401]", got)
	}

	// The socket stays where it is, so the whole file is refused: the
	// new workspace and allowed host too.
	other := freeAddr(t)
	text := fmt.Sprintf("version: 1\nworkspaces:\n  - name: one\n    dir: %s\n    schedule: \"@daily\"\n  - name: two\n    dir: %s\n    schedule: \"@daily\"\n"+
		"server:\n  listen: %q\n  trigger_token_file: %s\n  allowed_hosts: [new.example, third.example]\n  scan_at_startup: true\n", dir, dir, other, tokenFile)
	must(t, os.WriteFile(cfg, []byte(text), 0o600))
	d.reload(t, "the rejection")
	log = d.log()
	for _, want := range []string{
		`config reload rejected`,
		fmt.Sprintf(`server.listen changed from \"%s\" to \"%s\": it takes effect only when driftd starts`, addr, other),
		`server.scan_at_startup changed from false to true`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("log:\n%s", log)
	}
	if body := d.get(t, "/api/v1/workspaces"); strings.Contains(body, `"two"`) {
		t.Errorf("a rejected reload added workspace two: %s", body)
	}
	if got := []int{hostStatus(t, addr, "third.example"), triggerStatus(t, addr, tokenB)}; fmt.Sprint(got) != "[421 404]" {
		t.Errorf("after the rejection: third host, token B = %v, want [421 404]", got)
	}
}

// TestServeReloadPanic: a reload that panics is logged, the daemon serves
// on with its config, and the next reload works.
func TestServeReloadPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon end-to-end")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "driftd.yaml")
	reloadConfig(t, cfg, "  allowed_hosts: [old.example]\n")
	addr := freeAddr(t)

	var logs logbuf.Buffer
	a := newApp(&logs, &logs, cliEnv(t))
	var reloads atomic.Int32
	a.beforeReload = func() {
		if reloads.Add(1) == 1 {
			panic("boom in reload")
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- a.run(ctx, []string{"serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", addr, "--log-format", "json"})
	}()
	// Ready means serve has its SIGHUP handler: the signal cannot kill
	// the test.
	waitReady(t, addr)

	reloadConfig(t, cfg, "  allowed_hosts: [new.example]\n")
	must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	waitFor(t, 30*time.Second, "the panic logged", func() bool { return strings.Contains(logs.String(), "config reload panicked") })
	if !strings.Contains(logs.String(), "boom in reload") {
		t.Errorf("the panic's value is not logged:\n%s", logs.String())
	}
	if got := []int{hostStatus(t, addr, "old.example"), hostStatus(t, addr, "new.example")}; fmt.Sprint(got) != "[200 421]" {
		t.Errorf("after the panic: old host, new host = %v, want the old config's [200 421]", got)
	}

	must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	waitFor(t, 30*time.Second, "the next reload", func() bool { return strings.Contains(logs.String(), `"msg":"config reloaded"`) })
	if got := []int{hostStatus(t, addr, "old.example"), hostStatus(t, addr, "new.example")}; fmt.Sprint(got) != "[421 200]" {
		t.Errorf("after the next reload: old host, new host = %v, want [421 200]", got)
	}

	cancel()
	select {
	case code := <-exited:
		if code != exitClean {
			t.Errorf("serve exited %d, want %d:\n%s", code, exitClean, logs.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not stop")
	}
}

// TestServeAllowedHostsFlag: --allowed-hosts entries are checked as
// allowed_hosts entries are, before serve starts anything.
func TestServeAllowedHostsFlag(t *testing.T) {
	for _, tt := range []struct{ value, want string }{
		{"driftd.example:8080", "has a port"},
		{"driftd,,other", `invalid host name ""`},
		{"127.0.0.1", "is an IP address"},
	} {
		var out, errb strings.Builder
		code := newApp(&out, &errb, nil).run(t.Context(), []string{"serve", "--config", "/nonexistent.yaml", "--allowed-hosts", tt.value})
		if code != exitError || !strings.Contains(errb.String(), tt.want) || !strings.Contains(errb.String(), "allowed-hosts") {
			t.Errorf("--allowed-hosts %s: exit %d, stderr %q; want %d and an error about %q", tt.value, code, errb.String(), exitError, tt.want)
		}
	}
}

// TestServeReloadSLO: a reload that changes a workspace's objective shows
// in the SLO figures at once, not when the cached ones grow a minute old.
func TestServeReloadSLO(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon end-to-end")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "driftd.yaml")
	addr := freeAddr(t)
	write := func(driftFree string) {
		text := fmt.Sprintf("version: 1\nworkspaces:\n  - name: one\n    dir: %s\n    schedule: \"@daily\"\n    slo: {drift_free: %s, window: 7d}\nserver:\n  listen: %q\n", dir, driftFree, addr)
		must(t, os.WriteFile(cfg, []byte(text), 0o600))
	}
	write("99%")
	d := startDaemonAt(t, addr, cliEnv(t), "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--log-format", "json")
	objective := func() string {
		body := d.get(t, "/api/v1/slo")
		_, rest, _ := strings.Cut(body, `"objective": {`)
		v, _, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), `"drift_free":`)), ",")
		return strings.TrimSpace(v)
	}
	waitFor(t, 30*time.Second, "the first SLO figures", func() bool { return objective() == "0.99" })

	write("95%")
	d.reload(t, "the reload")
	// The cache keeps figures a minute when nothing changes: well within
	// that, the new objective shows.
	waitFor(t, 30*time.Second, "the new objective in the SLO figures", func() bool { return objective() == "0.95" })
}
