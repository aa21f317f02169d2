package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/driftd/driftd/internal/logbuf"
)

// fakeTerraform is a shell script standing in for terraform 1.99.0 (a
// version not on PATH, so the Runner finds it in its install cache). It
// records each subcommand's argv and environment in $FAKE_LOG (and its name
// in $FAKE_LOG/calls), acts like init where a reused data dir depends on it
// (a lock file written, providers in TF_DATA_DIR), fails init with
// FAKE_INIT_FAIL=1, makes plan write $FAKE_LOG/planning and wait until
// FILE exists with FAKE_WAIT=FILE, and, with FAKE_HANG=1, makes plan ignore SIGINT and hang with a child process that
// holds terraform's stderr open (the worst case for process cleanup),
// writing $FAKE_LOG/hanging once the child runs.
const fakeTerraform = `#!/bin/sh
cmd="$1"
[ "$cmd" = version ] && { [ -n "$FAKE_LOG" ] && echo version >> "$FAKE_LOG/versions"; echo '{"terraform_version":"1.99.0","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}'; exit 0; }
printf '%s\n' "$@" > "$FAKE_LOG/$cmd.args"
env > "$FAKE_LOG/$cmd.env"
echo "$cmd" >> "$FAKE_LOG/calls"
case "$cmd" in
plan)
  [ -f .terraform.lock.hcl ] || { echo 'Error: Inconsistent dependency lock file' >&2; exit 1; }
  [ -d "$TF_DATA_DIR/providers" ] || { echo 'Error: Required plugins are not installed' >&2; exit 1; }
  for a; do case "$a" in -out=*) : > "${a#-out=}";; -var-file=*) cat "${a#-var-file=}" >> "$FAKE_LOG/varfiles";; esac; done
  [ -f "$TF_DATA_DIR/terraform.tfstate" ] && cp "$TF_DATA_DIR/terraform.tfstate" "$FAKE_LOG/plan.tfstate"
  [ -n "$FAKE_LOCK_INFO" ] && { cat "$FAKE_LOCK_INFO" >&2; exit 1; }
  if [ -n "$FAKE_WAIT" ]; then : > "$FAKE_LOG/planning"; until [ -e "$FAKE_WAIT" ]; do sleep 0.01; done; fi
  if [ "$FAKE_HANG" = 1 ]; then trap '' INT; sleep 3600 & : > "$FAKE_LOG/hanging"; wait; fi
  ;;
init)
  [ "$FAKE_INIT_FAIL" = 1 ] && { echo 'Error: Failed to query available provider packages' >&2; exit 1; }
  [ -f .terraform.lock.hcl ] || echo '# written by init' > .terraform.lock.hcl
  mkdir -p "$TF_DATA_DIR/providers"
  for a; do case "$a" in -backend-config=*)
    cat "${a#-backend-config=}" > "$FAKE_LOG/backend"
    # As terraform does: the backend's whole configuration in the data dir.
    { printf '{"version":3,"backend":{"type":"fake","hash":4242424242,"config":{"region":null,"retries":3,'
      sed -n 's/^\([a-z_]*\) = \(".*"\)$/"\1": \2/p' "${a#-backend-config=}" | paste -sd, -
      printf '}}}\n'; } > "$TF_DATA_DIR/terraform.tfstate" ;;
  esac; done ;;
show) echo '{"format_version":"1.2","terraform_version":"1.99.0"}' ;;
esac
`

func fakeRunner(t *testing.T, environ []string, opts Options) *Runner {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	if opts.WorkRoot == "" {
		opts.WorkRoot = t.TempDir()
	}
	bin := filepath.Join(opts.CacheDir, "terraform", "1.99.0", "terraform")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte(fakeTerraform), 0o755); err != nil {
		t.Fatal(err)
	}
	opts.Environ = environ
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestPlanArgvAndEnv(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "main.tf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "GITHUB_TOKEN=ghp_driftd", "SLACK_TOKEN=xoxb-driftd",
		"DRIFTD_WEBHOOK_SECRET=whsec", "AWS_PROFILE=prod", "UNLISTED=1", "TF_LOG=trace"}
	r := fakeRunner(t, environ, Options{})

	tests := []struct {
		name     string
		spec     Spec
		wantPlan []string // in order, among plan's args
		noPlan   []string
		wantInit []string
	}{
		{
			name:     "defaults",
			spec:     Spec{TerraformVersion: "1.99.0"},
			wantPlan: []string{"plan", "-input=false", "-lock=false"},
			noPlan:   []string{"-refresh-only", "-lock=true", "-var"},
			wantInit: []string{"init", "-input=false"},
		},
		{
			name: "everything",
			spec: Spec{
				TerraformVersion: ">= 1.99, < 2",
				VarFiles:         []string{"prod.tfvars", "/abs/common.tfvars"},
				BackendConfig:    map[string]string{"bucket": "b", "key": "p/${x}"},
				RefreshOnly:      true, Lock: true, LockTimeout: 90 * time.Second, Parallelism: 3,
			},
			wantPlan: []string{"-lock-timeout=1m30s", "-var-file=prod.tfvars", "-var-file=/abs/common.tfvars", "-lock=true", "-parallelism=3", "-refresh-only"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logDir := filepath.Join(logDir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.Mkdir(logDir, 0o755); err != nil {
				t.Fatal(err)
			}
			spec := tt.spec
			spec.Name, spec.Dir = "ws", ws
			spec.PassEnv = []string{"AWS_*", "GITHUB_*"}
			spec.Env = map[string]string{"FAKE_LOG": logDir}
			spec.Vars = map[string]string{"db_password": "vars-secret-value"}
			res, err := r.Plan(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.TerraformVersion != "1.99.0" || res.Plan == nil || res.ScanID == "" {
				t.Errorf("result = %+v", res)
			}
			plan := readLines(t, filepath.Join(logDir, "plan.args"))
			if !containsInOrder(plan, tt.wantPlan) {
				t.Errorf("plan argv %q lacks %q", plan, tt.wantPlan)
			}
			for _, a := range tt.noPlan {
				if slices.Contains(plan, a) {
					t.Errorf("plan argv %q has %q", plan, a)
				}
			}
			var last string
			for _, a := range plan {
				if strings.HasPrefix(a, "-var-file=") {
					last = a
				}
			}
			if !strings.HasSuffix(last, "driftd.tfvars.json") {
				// The vars file must come last among var files: it is the highest-precedence source.
				t.Errorf("driftd's var file is not last: %q", plan)
			}
			if init := readLines(t, filepath.Join(logDir, "init.args")); !containsInOrder(init, tt.wantInit) {
				t.Errorf("init argv %q lacks %q", init, tt.wantInit)
			}
			for _, cmd := range []string{"init", "plan", "show"} {
				argv, _ := os.ReadFile(filepath.Join(logDir, cmd+".args"))
				env, _ := os.ReadFile(filepath.Join(logDir, cmd+".env"))
				all := string(argv) + string(env)
				for _, secret := range []string{"ghp_driftd", "xoxb-driftd", "whsec", "vars-secret-value", "UNLISTED"} {
					if strings.Contains(all, secret) {
						t.Errorf("%s: %q reached terraform's argv or environment", cmd, secret)
					}
				}
				for _, want := range []string{"AWS_PROFILE=prod", "DRIFTD_SCAN_ID=" + res.ScanID, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
					"TF_LOG_SDK=off", "TF_LOG_SDK_FRAMEWORK=off", "TF_LOG_SDK_PROTO=off",
					"TF_PLUGIN_CACHE_DIR=" + filepath.Join(r.opts.CacheDir, "plugins"), "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=1"} {
					if !strings.Contains(string(env), want+"\n") {
						t.Errorf("%s env lacks %s", cmd, want)
					}
				}
				if strings.Contains(string(env), "TF_LOG=trace") {
					t.Errorf("%s: driftd's TF_LOG leaked", cmd)
				}
			}
			if vf, _ := os.ReadFile(filepath.Join(logDir, "varfiles")); !strings.Contains(string(vf), `"db_password":"vars-secret-value"`) {
				t.Errorf("var file = %q", vf)
			}
			if len(tt.spec.BackendConfig) > 0 {
				if b, _ := os.ReadFile(filepath.Join(logDir, "backend")); string(b) != "bucket = \"b\"\nkey = \"p/$${x}\"\n" {
					t.Errorf("backend file = %q", b)
				}
			}
		})
	}
	if entries, _ := os.ReadDir(r.opts.WorkRoot); len(entries) != 0 {
		t.Errorf("scan directories left behind: %v", entries)
	}
}

func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestTimeoutKillsStubbornTree: terraform ignores SIGINT and a child holds its
// stderr open, so neither terraform-exec's SIGINT nor its kill after
// KillGrace ends the run; the scan id sweep must.
func TestTimeoutKillsStubbornTree(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	var logs logbuf.Buffer
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{
		KillGrace: 500 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	// The timeout grows until it strikes with the tree in place: on a
	// loaded machine it may strike before plan has started its child.
	for timeout := time.Second; ; timeout *= 2 {
		fakeLog, logged := t.TempDir(), len(logs.String())
		_, err := r.Plan(context.Background(), Spec{
			TerraformVersion: "1.99.0",
			Timeout:          timeout,
		}.with(ws, map[string]string{"FAKE_LOG": fakeLog, "FAKE_HANG": "1"}))
		var e *Error
		if !errors.As(err, &e) || e.Stage != StageTimeout {
			t.Fatalf("err = %v, want a timeout *Error", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err does not wrap DeadlineExceeded: %v", err)
		}
		if pids := scanPIDs(t, e.ScanID); len(pids) > 0 {
			t.Errorf("processes of scan %s survive: %v", e.ScanID, pids)
		}
		if _, err := os.Stat(filepath.Join(fakeLog, "hanging")); err != nil {
			if timeout > time.Minute {
				t.Fatalf("plan never reached its hang: %v", err)
			}
			continue
		}
		if !strings.Contains(e.Error(), "timed out after") || !strings.Contains(e.Error(), "during plan") {
			t.Errorf("message = %q", e.Error())
		}
		// The child survives SIGINT and terraform's kill: only the sweep
		// of the scan's processes ends it. Its log line may come just
		// after Plan returns (the reaper's timer goroutine writes it).
		for wait := time.Now().Add(time.Minute); !strings.Contains(logs.String()[logged:], `"msg":"killed processes`); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(wait) {
				t.Fatalf("no process killed by the scan's sweep; log:\n%s", logs.String()[logged:])
			}
		}
		return
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{KillGrace: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	logDir := t.TempDir()
	go func() {
		// Cancel once plan is running.
		for {
			if _, err := os.Stat(filepath.Join(logDir, "plan.env")); err == nil {
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	_, err := r.Plan(ctx, Spec{TerraformVersion: "1.99.0"}.with(ws, map[string]string{"FAKE_LOG": logDir, "FAKE_HANG": "1"}))
	var e *Error
	if !errors.As(err, &e) || e.Stage != StageCanceled || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "during plan") {
		t.Fatalf("err = %v, want a canceled *Error", err)
	}
	if pids := scanPIDs(t, e.ScanID); len(pids) > 0 {
		t.Errorf("processes of scan %s survive: %v", e.ScanID, pids)
	}
}

func TestBinaryNotFound(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	_, err := r.Plan(context.Background(), Spec{TerraformVersion: "0.12.31"}.with(t.TempDir(), nil))
	var e *Error
	if !errors.As(err, &e) || e.Stage != StageInstall || !strings.Contains(e.Error(), "0.12.31") || !strings.Contains(e.Error(), "not allowed") {
		t.Fatalf("err = %v", err)
	}
}

// TestInstallFailsFast: the network is closed in CI; a download must fail
// with the version and the cause, quickly.
func TestInstallFailsFast(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{AllowInstall: true, InstallTimeout: 20 * time.Second})
	for _, c := range []string{"1.2.9", "~> 1.1.0"} {
		_, err := r.Plan(context.Background(), Spec{TerraformVersion: c}.with(t.TempDir(), nil))
		var e *Error
		if !errors.As(err, &e) || e.Stage != StageInstall || !strings.Contains(e.Error(), "download terraform "+c) {
			t.Fatalf("%s: err = %v", c, err)
		}
		t.Logf("%s: %v", c, err)
		if m, _ := filepath.Glob(filepath.Join(r.opts.CacheDir, "terraform", ".install-*")); len(m) > 0 {
			t.Errorf("temporary install dirs left: %v", m)
		}
	}
}

// with returns s for the workspace in dir with env set.
func (s Spec) with(dir string, env map[string]string) Spec {
	s.Name, s.Dir, s.Env = "ws", dir, env
	return s
}

// scanPIDs lists processes whose environment carries the scan id.
func scanPIDs(t *testing.T, scanID string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []string
	for _, e := range entries {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && strings.Contains(string(env), "DRIFTD_SCAN_ID="+scanID+"\x00") {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// TestVersionAskedOncePerBinary: the Runner asks a terraform binary for its
// version once, and again only when the file changed (an upgrade in place).
func TestVersionAskedOncePerBinary(t *testing.T) {
	t.Parallel()
	logDir, dir := t.TempDir(), t.TempDir()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	bin := filepath.Join(r.opts.CacheDir, "terraform", "1.99.0", "terraform")
	asks := func() int {
		b, _ := os.ReadFile(filepath.Join(logDir, "versions"))
		return strings.Count(string(b), "version")
	}
	for i, want := range []int{1, 1, 1, 2} {
		if i == 3 {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(bin, later, later); err != nil {
				t.Fatal(err)
			}
		}
		tf, err := tfexec.NewTerraform(dir, bin)
		if err == nil {
			err = tf.SetEnv(map[string]string{"FAKE_LOG": logDir})
		}
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.version(t.Context(), binary{path: bin}, tf)
		if err != nil || v != "1.99.0" {
			t.Fatalf("version %d = %q, %v", i, v, err)
		}
		if got := asks(); got != want {
			t.Errorf("after call %d: terraform asked %d times, want %d", i, got, want)
		}
	}
}

func TestProcsFor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ cores, running, want int }{
		{cores: 2, running: 1, want: 2}, // alone: every core, whatever --concurrency allows
		{cores: 2, running: 2, want: 1},
		{cores: 2, running: 4, want: 1}, // more scans than cores: one each
		{cores: 12, running: 4, want: 3},
		{cores: 8, running: 3, want: 2}, // rounded down
		{cores: 1, running: 1, want: 1},
		{cores: 4, running: 0, want: 4},
	} {
		if got := ProcsFor(tt.cores, tt.running); got != tt.want {
			t.Errorf("ProcsFor(%d cores, %d running) = %d, want %d", tt.cores, tt.running, got, tt.want)
		}
	}
}

// TestGOMAXPROCSByScansRunning starts scans one by one, each while the
// earlier ones are still planning: each scan's processes get the cores
// shared by the scans running when it started, a scan alone gets them all,
// and a workspace's own GOMAXPROCS wins.
func TestGOMAXPROCSByScansRunning(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	r.cores = func() int { return 12 }
	release := filepath.Join(t.TempDir(), "release")
	t.Cleanup(func() { os.WriteFile(release, nil, 0o644) }) //nolint:errcheck // frees hung scans of a failed test
	scan := func(name string, env map[string]string) (logDir string, done <-chan error) {
		logDir = t.TempDir()
		spec := fakeSpec(t)
		spec.Name = name
		spec.Env = map[string]string{"FAKE_LOG": logDir}
		maps.Copy(spec.Env, env)
		errc := make(chan error, 1)
		go func() {
			_, err := r.Plan(t.Context(), spec)
			errc <- err
		}()
		return logDir, errc
	}
	gomaxprocs := func(logDir string) string {
		for _, kv := range readLines(t, filepath.Join(logDir, "plan.env")) {
			if v, ok := strings.CutPrefix(kv, "GOMAXPROCS="); ok {
				return v
			}
		}
		return ""
	}

	var (
		logDirs []string
		dones   []<-chan error
	)
	for i := range 4 {
		logDir, done := scan(fmt.Sprintf("ws%d", i), map[string]string{"FAKE_WAIT": release})
		logDirs, dones = append(logDirs, logDir), append(dones, done)
		// A safety net only: the scan is waiting for release.
		for wait := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(logDir, "planning")); err == nil {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("scan %d ended before planning: %v", i, err)
			default:
			}
			if time.Now().After(wait) {
				t.Fatalf("scan %d never reached plan", i)
			}
		}
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, done := range dones {
		if err := <-done; err != nil {
			t.Fatalf("scan %d: %v", i, err)
		}
	}
	for i, want := range []string{"12", "6", "4", "3"} {
		if got := gomaxprocs(logDirs[i]); got != want {
			t.Errorf("scan %d, started with %d running: GOMAXPROCS = %q, want %q", i, i+1, got, want)
		}
	}
	// Every scan counted itself out: the next one is alone again.
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"alone again", nil, "12"},
		{"workspace sets it", map[string]string{"GOMAXPROCS": "7"}, "7"},
	} {
		logDir, done := scan("after", tt.env)
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := gomaxprocs(logDir); got != tt.want {
			t.Errorf("%s: GOMAXPROCS = %q, want %q", tt.name, got, tt.want)
		}
	}
}
