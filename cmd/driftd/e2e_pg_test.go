package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/internal/testbed"
	"github.com/driftd/driftd/internal/testbed/pgtest"
)

const pgTF = `
terraform {
  backend "pg" {}
}
` + webTF

// pgFleet is a testbed workspace whose state lives in a real PostgreSQL
// server through Terraform's pg backend, applied, and listed in a config
// (possibly several times, with different settings) that passes the
// connection string, password included, as backend_config.
type pgFleet struct {
	env *testbed.Env
	srv *pgtest.Server
	ws  *testbed.Workspace
	// state is the state's bytes in PostgreSQL after apply.
	state string
}

func newPGFleet(t *testing.T, name string) *pgFleet {
	t.Helper()
	srv := pgtest.New(t)
	env := testbed.New(t)
	p := &pgFleet{env: env, srv: srv, ws: applyPG(t, env, srv, name)}
	p.state = p.readState(t)
	return p
}

// applyPG creates workspace name in env with its state in srv, and applies
// it.
func applyPG(t *testing.T, env *testbed.Env, srv *pgtest.Server, name string) *testbed.Workspace {
	t.Helper()
	ws, err := env.NewWorkspace(name, fmt.Sprintf(pgTF, name))
	must(t, err)
	_, err = ws.Run(t.Context(), "init", "-input=false", "-no-color", "-backend-config=conn_str="+srv.ConnString())
	must(t, err)
	_, err = ws.Run(t.Context(), "apply", "-auto-approve", "-input=false", "-no-color")
	must(t, err)
	if _, err := os.Stat(ws.StatePath()); !os.IsNotExist(err) {
		t.Fatalf("test setup: a local state file exists (%v): the state is not in PostgreSQL", err)
	}
	return ws
}

// pgState is the state of every workspace in srv, byte for byte.
func pgState(t *testing.T, srv *pgtest.Server) string {
	t.Helper()
	s, err := srv.Query(t.Context(), "SELECT name || ':' || data FROM terraform_remote_state.states ORDER BY name")
	must(t, err)
	if !strings.HasPrefix(s, "default:{") {
		t.Fatalf("unexpected state rows in PostgreSQL: %.200q", s)
	}
	return s
}

// entry is a config entry for the workspace's directory under name, with
// extra environment for terraform and extra YAML lines.
func (p *pgFleet) entry(name string, env map[string]string, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    dir: %s\n    backend_config:\n      conn_str: %s\n    env:\n      TESTBED_ROOT: %s\n      TF_CLI_CONFIG_FILE: %s\n",
		name, p.ws.Dir, p.srv.ConnString(), p.env.Root, p.env.Mirror.CLIConfigFile)
	for k, v := range env {
		fmt.Fprintf(&b, "      %s: %q\n", k, v)
	}
	return b.String() + extra
}

// readState is the workspace's state as PostgreSQL holds it, byte for byte.
func (p *pgFleet) readState(t *testing.T) string { return pgState(t, p.srv) }

// checkState fails the test if any scan changed the state's bytes.
func (p *pgFleet) checkState(t *testing.T, after string) {
	t.Helper()
	if got := p.readState(t); got != p.state {
		t.Errorf("state in PostgreSQL changed after %s:\nbefore %s\nafter  %s", after, p.state, got)
	}
}

// scan runs `driftd scan` on a config of entries and returns the reports.
func (p *pgFleet) scan(t *testing.T, entries ...string) (result, map[string]*drift.Report) {
	t.Helper()
	res := p.run(t, p.writeConfig(t, entries...))
	return res, byWorkspace(decodeDoc(t, res.stdout))
}

func (p *pgFleet) writeConfig(t *testing.T, entries ...string) string {
	t.Helper()
	f, err := os.CreateTemp(p.env.Dir, "workspaces-*.yaml")
	must(t, err)
	_, err = f.WriteString("version: 1\ndefaults:\n  timeout: 2m\nworkspaces:\n" + strings.Join(entries, ""))
	must(t, err)
	must(t, f.Close())
	return f.Name()
}

// run runs `driftd scan` and checks that the database password, which only
// backend_config holds, appears nowhere in its output. It is safe to call
// from another goroutine than the test's.
func (p *pgFleet) run(t *testing.T, cfg string) result {
	res := runCLI(t, cliEnv(t), "scan", "--config", cfg, "--output", "json", "--log-level", "debug")
	if strings.Contains(res.stdout+res.stderr, p.srv.Password) {
		t.Errorf("the database password (backend_config) leaked:\n%s\n%s", res.stdout, res.stderr)
	}
	return res
}

// wantDrift fails unless r found exactly the drift the tests make: one
// attribute of testbed_object.web.
func wantDrift(t *testing.T, name string, r *drift.Report) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: no report", name)
	}
	if r.Status != drift.StatusDrifted || !equalStrings(changeList(r.Drift), []string{"testbed_object.web:update"}) || len(r.Pending) != 0 {
		t.Fatalf("%s: want the drift of testbed_object.web alone, got status %s drift %v pending %v error %q",
			name, r.Status, changeList(r.Drift), changeList(r.Pending), r.Error)
	}
}

func wantError(t *testing.T, name string, r *drift.Report, has ...string) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: no report", name)
	}
	if r.Status != drift.StatusError {
		t.Fatalf("%s: want an error report, got status %s drift %v", name, r.Status, changeList(r.Drift))
	}
	for _, s := range has {
		if !strings.Contains(r.Error, s) {
			t.Errorf("%s: error lacks %q:\n%s", name, s, r.Error)
		}
	}
}

// TestPostgresBackend: drift is found in a workspace whose state is in a real
// PostgreSQL (Terraform's pg backend, credentials in backend_config); a lock
// held by another client stops only the `lock: true` scan, whose report says
// the state is locked; no scan changes the state's bytes.
func TestPostgresBackend(t *testing.T) {
	t.Parallel()
	p := newPGFleet(t, "pg")
	cfg := []string{p.entry("pg", nil, ""), p.entry("pglock", nil, "    lock: true\n    lock_timeout: 1s\n")}

	must(t, p.env.SetAttribute("pg-web", "tags.env", "staging"))
	res, reports := p.scan(t, cfg...)
	if res.code != exitDrift {
		t.Errorf("exit %d, want %d", res.code, exitDrift)
	}
	wantDrift(t, "pg", reports["pg"])
	wantDrift(t, "pglock", reports["pglock"])
	if a := reports["pg"].Drift[0].Attributes; len(a) != 1 || a[0].Path != "tags.env" || a[0].Before != "prod" || a[0].After != "staging" {
		t.Errorf("drifted attributes %+v, want tags.env prod → staging", a)
	}
	p.checkState(t, "scans with and without lock")
	reliability.Record(t, "state backend", "state in PostgreSQL (pg backend, password in backend_config), object changed outside Terraform",
		"drift found, attribute by attribute; state bytes unchanged; password in no output or log")

	// Someone else holds the state lock, as a running terraform apply would:
	// the same advisory lock, on the state row's id.
	id, err := p.srv.Query(t.Context(), "SELECT id FROM terraform_remote_state.states WHERE name = 'default'")
	must(t, err)
	holder, err := p.srv.Session(t.Context())
	must(t, err)
	defer holder.Close()
	_, err = holder.Exec("SELECT pg_advisory_lock(" + id + ")")
	must(t, err)

	res, reports = p.scan(t, cfg...)
	if res.code != exitError {
		t.Errorf("exit %d, want %d (one workspace failed)", res.code, exitError)
	}
	wantDrift(t, "pg (default -lock=false)", reports["pg"])
	wantError(t, "pglock (lock: true)", reports["pglock"], "Error acquiring the state lock", "already locked")
	p.checkState(t, "scans against a held lock")
	reliability.Record(t, "state backend", "state lock held by another client; workspace with lock: true, lock_timeout: 1s",
		`error report "Error acquiring the state lock … already locked"; other workspaces finish`)
	reliability.Record(t, "state backend", "state lock held by another client; workspace with the default lock: false",
		"plans anyway: drift found")
}

// TestPostgresFaults: the database down when a scan starts, restarted while
// terraform plans, or down from mid-plan to the scan's end, each gives that
// scan an error report or a correct one (never a hang, a crash or a wrong
// report); the next scan succeeds; the state's bytes never change.
func TestPostgresFaults(t *testing.T) {
	t.Parallel()
	p := newPGFleet(t, "pgf")
	startLog := filepath.Join(t.TempDir(), "startup.log")
	// lock: true makes terraform talk to the database at the end of the plan
	// too (unlock). The slow config's read latency holds the plan while the
	// test acts; the others scan at full speed.
	plain := p.entry("pgf", nil, "    lock: true\n")
	slow := p.entry("pgf", map[string]string{"TESTBED_READ_LATENCY": "5s", "TESTBED_STARTUP_LOG": startLog}, "    lock: true\n")
	must(t, p.env.SetAttribute("pgf-web", "content", "edited"))
	ctx := context.Background()

	// scanDuring runs a scan, calls fault once terraform plans (the provider
	// starts only after init and after the state is read), and returns the
	// scan's report and how the fault went.
	scanDuring := func(fault func()) *drift.Report {
		t.Helper()
		must(t, os.WriteFile(startLog, nil, 0o644))
		cfg := p.writeConfig(t, slow)
		done := make(chan result, 1)
		go func() { done <- p.run(t, cfg) }()
		waitFor(t, 2*time.Minute, "terraform plan to start the provider", func() bool {
			b, _ := os.ReadFile(startLog)
			return len(b) > 0
		})
		fault()
		select {
		case res := <-done:
			return byWorkspace(decodeDoc(t, res.stdout))["pgf"]
		case <-time.After(4 * time.Minute):
			t.Fatal("the scan hangs after the database fault")
			return nil
		}
	}
	next := func(after string) {
		t.Helper()
		_, reports := p.scan(t, plain)
		wantDrift(t, "the scan after "+after, reports["pgf"])
		p.checkState(t, after)
	}

	// 1. Down when the scan starts: init cannot reach the backend.
	must(t, p.srv.Stop())
	_, reports := p.scan(t, plain)
	wantError(t, "database down", reports["pgf"], "connection refused")
	must(t, p.srv.Start(ctx))
	next("the database came back")
	reliability.Record(t, "state backend", "PostgreSQL down when the scan starts",
		`error report ("connection refused"); next scan finds the drift; state bytes unchanged`)

	// 2. Restarted (fast shutdown, start) while terraform plans. Terraform
	// has read the state; its unlock at the end reconnects. The restart is
	// much shorter than the provider's read latency, but a loaded machine may
	// stretch it past the plan's end: then the unlock fails, which is an
	// error report and equally right. Either way, never a wrong report.
	r := scanDuring(func() { must(t, p.srv.Restart(ctx)) })
	outcome := "report correct (the state was read before the restart); "
	if r != nil && r.Status == drift.StatusError {
		wantError(t, "restart mid-plan", r, "state lock")
		outcome = `error report ("Error releasing the state lock"); `
	} else {
		wantDrift(t, "restart mid-plan", r)
	}
	next("a restart mid-plan")
	reliability.Record(t, "state backend", "PostgreSQL restarted (fast shutdown) while terraform plans with lock: true",
		outcome+"next scan finds the drift; state bytes unchanged")

	// 3. Down from mid-plan until after the scan ends: terraform cannot
	// release the lock, and says so.
	r = scanDuring(func() { must(t, p.srv.Stop()) })
	wantError(t, "down mid-plan", r, "Error releasing the state lock", "connection refused")
	must(t, p.srv.Start(ctx))
	next("an outage mid-plan")
	reliability.Record(t, "state backend", "PostgreSQL down from mid-plan until the scan ends (lock: true)",
		`error report ("Error releasing the state lock … connection refused"); next scan finds the drift; state bytes unchanged`)
}
