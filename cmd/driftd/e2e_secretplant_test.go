package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/reliability"
	"github.com/driftd/driftd/internal/testbed"
	"github.com/driftd/driftd/internal/testbed/pgtest"
	"github.com/driftd/driftd/internal/testbed/provider"
	"github.com/driftd/driftd/reporters/github/githubtest"
	"github.com/driftd/driftd/reporters/slack/slacktest"
)

// planted are the secrets TestSecretsNeverLeave hides everywhere a user can
// put one, by where they are planted.
type planted map[string]string

// evidence is everything driftd produced or left that the test inspects.
type evidence struct {
	mu    sync.Mutex
	items []evidenceItem
	seen  map[string]bool
}

type evidenceItem struct {
	where string // "stdout of scan --output json", "file cache/…", "environ of pid 12 (terraform)"
	text  string
	// allowed lists the plantings this place may hold: the channel through
	// which driftd hands a workspace its own credentials.
	allowed []string
}

// add keeps text found at where, once.
func (e *evidence) add(where, text string, allowed ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := where + "\x00" + text
	if e.seen[key] {
		return
	}
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	e.seen[key] = true
	e.items = append(e.items, evidenceItem{where, text, allowed})
}

// TestSecretsNeverLeave plants known secrets as a sensitive attribute, a map
// key, a sensitive variable, a sensitive variable's default that an error
// echoes, a sensitive output, backend config (a PostgreSQL password), a
// workspace env value, and the GitHub, Slack, webhook (URL and HMAC key),
// git and trigger tokens; runs every command in every format with every
// reporter; and looks for them in every output and log, every request body
// the fakes received, the store, the cache dir, the scan dirs while scans
// run, the status page, the API, metrics, and the environment and command
// line of every process driftd started. The only places allowed to hold a
// secret are the channels that hand a workspace its own credentials:
// its terraform's environment (its env values), its scan dir's input files
// (vars, backend config, its own code) while the scan runs, and git's
// environment (the git token, as an HTTP header).
func TestSecretsNeverLeave(t *testing.T) {
	t.Parallel()
	srv := pgtest.New(t)
	sec := planted{
		"sensitive attribute":            "S3cretAttr-q8Zt4kWm",
		"sensitive attribute, rotated":   "S3cretAttrNew-b7Yp2Lx",
		"map key":                        "S3cretKey-m4Rv9Qa",
		"sensitive variable":             "S3cretVar-c2Hn7Ue",
		"sensitive default in an error":  "S3cretDefault-x5Kd3Jo",
		"sensitive output":               "S3cretOutput-w9Ne1Tc",
		"backend config":                 srv.Password,
		"workspace env":                  "S3cretEnv-j6Bq8Vr",
		"GitHub token":                   "ghp_S3cretGitHub-f3Ls0Pz",
		"Slack token":                    "xoxb-S3cretSlack-r1Mu5Yd",
		"webhook URL":                    "S3cretHookPath-d8Wc2Ni",
		"webhook HMAC key":               "S3cretHookKey-k0Gt6Ea",
		"git token":                      "S3cretGit-p4Jx9Hs",
		"trigger token":                  "S3cretTrigger-u7Fb3Ro-a-long-enough-token",
		"env secret echoed by a bad URL": "S3cretNotAURL-h2Qe8Wy",
	}
	ev := &evidence{}
	env := testbed.New(t)
	gh := githubtest.NewServer(t, "acme", "infra", sec["GitHub token"])
	sl := slacktest.NewServer(t, sec["Slack token"])
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ev.add("webhook request body", string(b))
		var h bytes.Buffer
		r.Header.Write(&h)
		ev.add("webhook request headers", h.String())
	}))
	t.Cleanup(hook.Close)

	dirs := plantWorkspaces(t, env, srv, sec)
	cacheDir, workDir, dataDir := t.TempDir(), t.TempDir(), t.TempDir()
	store := filepath.Join(t.TempDir(), "history.db")
	gitURL := serveGitRepo(t, dirs["git"], sec["git token"])

	cfg := filepath.Join(env.Dir, "workspaces.yaml")
	must(t, os.WriteFile(cfg, []byte(secretsConfig(env, srv, dirs, gitURL, gh, sl)), 0o644))
	bad := filepath.Join(env.Dir, "bad.yaml")
	must(t, os.WriteFile(bad, []byte(fmt.Sprintf(`version: 1
workspaces:
  - {name: a, dir: %s}
reporters:
  slack: {webhook_url_env: NOT_A_URL}
  webhooks:
    - {url_env: GITHUB_TOKEN}
`, dirs["plant"])), 0o644))

	base := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DRIFTD_CACHE_DIR=" + cacheDir, "DRIFTD_WORK_DIR=" + workDir,
		"GITHUB_TOKEN=" + sec["GitHub token"], "SLACK_TOKEN=" + sec["Slack token"],
		"HOOK_URL=" + hook.URL + "/" + sec["webhook URL"], "HOOK_SECRET=" + sec["webhook HMAC key"],
		"GIT_TOKEN=" + sec["git token"], "TRIGGER_TOKEN=" + sec["trigger token"],
		"NOT_A_URL=" + sec["env secret echoed by a bad URL"],
	}
	runs := 0
	run := func(wantCodes []int, extraEnv []string, args ...string) string {
		t.Helper()
		runs++
		stdout, stderr, code := runWatched(t, ev, append(slices.Clone(base), extraEnv...), workDir, args...)
		what := strings.Join(args, " ")
		ev.add("stdout of driftd "+what, stdout)
		ev.add("stderr of driftd "+what, stderr)
		if !slices.Contains(wantCodes, code) {
			t.Errorf("driftd %s: exit %d, want %v\nstdout: %s\nstderr: %s", what, code, wantCodes, stdout, stderr)
		}
		return stdout
	}

	run([]int{exitClean}, nil, "validate", "--config", cfg)
	run([]int{exitError}, nil, "validate", "--config", bad)
	run([]int{exitClean}, nil, "version")
	for _, output := range []string{"text", "json", "markdown"} {
		for _, logFormat := range []string{"json", "text"} {
			out := run([]int{exitError}, nil, "scan", "--config", cfg, "--output", output,
				"--log-level", "debug", "--log-format", logFormat, "--store", store)
			if output == "json" && !strings.Contains(out, `"status": "drifted"`) {
				t.Errorf("scan found no drift: the secrets were not where the test plants them:\n%s", out)
			}
		}
	}
	for _, output := range []string{"text", "json", "markdown"} {
		run([]int{exitDrift}, []string{"TESTBED_ROOT=" + env.Root, "TF_CLI_CONFIG_FILE=" + env.Mirror.CLIConfigFile},
			"check", dirs["plant"], "--output", output, "--log-level", "debug", "--var", "db_password="+sec["sensitive variable"],
			"--pass-env", "TESTBED_ROOT", "--pass-env", "TF_CLI_CONFIG_FILE", "--report", "--config", cfg)
	}
	serveAndRead(t, ev, base, cfg, dataDir, workDir, sec["trigger token"])
	runs++

	// What the fakes received and keep.
	for _, r := range gh.Requests() {
		ev.add("GitHub request body "+r.Method+" "+r.Path, r.Body)
	}
	for _, is := range gh.Issues() {
		ev.add(fmt.Sprintf("GitHub issue %d", is.Number), is.Title+"\n"+is.Body+"\n"+strings.Join(is.Comments, "\n"))
	}
	for _, m := range sl.Messages() {
		ev.add("Slack message", m.Text+"\n"+m.BlocksJSON())
	}
	if len(gh.Issues()) == 0 || len(sl.Messages()) == 0 {
		t.Errorf("reporters were not exercised: %d issues, %d Slack messages", len(gh.Issues()), len(sl.Messages()))
	}
	// What driftd keeps on disk.
	for _, dir := range []string{cacheDir, dataDir, filepath.Dir(store)} {
		addFiles(t, ev, dir, "file ")
	}
	if entries, _ := os.ReadDir(workDir); len(entries) > 0 {
		t.Errorf("scan dirs left behind in %s: %d", workDir, len(entries))
	}

	hits := 0
	observed := map[string]bool{} // plantings seen where they are allowed
	for _, it := range ev.items {
		for what, s := range sec {
			forms := []string{s}
			if what == "git token" {
				forms = append(forms, base64.StdEncoding.EncodeToString([]byte("x-access-token:"+s)))
			}
			for _, form := range forms {
				switch {
				case !strings.Contains(it.text, form):
				case slices.Contains(it.allowed, what):
					observed[what+" in "+strings.Fields(it.where)[0]] = true
				default:
					hits++
					t.Errorf("the %s leaked into %s", what, it.where)
				}
			}
		}
	}
	// Zero hits means something only if the watch saw the channels that
	// must hold the secrets: children's environments, git's, scan dirs.
	for _, want := range []string{"workspace env in environ", "git token in environ", "sensitive variable in scan", "backend config in scan"} {
		if !observed[want] {
			t.Errorf("never observed the %s: the watch misses what it must inspect (saw %v)", want, observed)
		}
	}
	t.Logf("%d places inspected after %d commands, %d secrets planted, %d hits", len(ev.items), runs, len(sec), hits)
	for what := range sec {
		reliability.Record(t, "secrets", "secret planted as "+what+"; every command, format and reporter run",
			"in no output, log, request body, store, cache, scan dir, page, API or child process's environment or command line")
	}
}

// plantWorkspaces writes and applies the workspaces holding the secrets and
// changes them out of band; it returns their directories by name.
func plantWorkspaces(t *testing.T, env *testbed.Env, srv *pgtest.Server, sec planted) map[string]string {
	ctx := t.Context()
	plantTF := func(outSecret string) string {
		return fmt.Sprintf(`
variable "db_password" {
  type      = string
  sensitive = true
}
variable "tag_key" {
  type      = string
  sensitive = true
  default   = %q
}
variable "out_secret" {
  type      = string
  sensitive = true
  default   = %q
}
resource "testbed_object" "db" {
  name     = "plant-db"
  secret   = %q
  settings = { tier = "gold", password = var.db_password }
  tags     = { (nonsensitive(var.tag_key)) = "v1", env = "prod" }
}
output "token" {
  value     = var.out_secret
  sensitive = true
}
`, sec["map key"], outSecret, sec["sensitive attribute"])
	}
	plant, err := env.NewWorkspace("plant", plantTF("old-output-value"))
	must(t, err)
	_, err = plant.Run(ctx, "init", "-input=false", "-no-color")
	must(t, err)
	_, err = plant.Run(ctx, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "db_password="+sec["sensitive variable"])
	must(t, err)
	must(t, plant.SetMainTF(plantTF(sec["sensitive output"])))
	must(t, env.SetAttribute("plant-db", "secret", sec["sensitive attribute, rotated"]))
	must(t, env.SetAttribute("plant-db", "tags."+sec["map key"], "v2"))
	must(t, env.SetAttribute("plant-db", "tags.env", "staging"))

	// Not applied: terraform refuses the default, quoting its line.
	echo, err := env.NewWorkspace("echo", fmt.Sprintf(`
variable "limit" {
  type      = number
  sensitive = true
  default   = %q
}
resource "testbed_object" "e" {
  name = "echo-e"
}
`, sec["sensitive default in an error"]))
	must(t, err)

	pg := applyPG(t, env, srv, "pgws")
	must(t, env.SetAttribute("pgws-web", "content", "edited"))

	// A workspace in git, fetched over HTTP with a token; its state outside.
	repo := filepath.Join(env.Dir, "repo")
	must(t, os.MkdirAll(repo, 0o755))
	gitRun(t, repo, "init", "--quiet", "--initial-branch=main")
	gitws := env.OpenWorkspace("gitws", repo)
	must(t, gitws.SetMainTF(fmt.Sprintf("terraform {\n  backend \"local\" { path = %q }\n}\n", filepath.Join(env.Dir, "gitws.tfstate"))+fmt.Sprintf(webTF, "gitws")))
	must(t, gitws.Apply(ctx))
	must(t, os.RemoveAll(filepath.Join(repo, ".terraform")))
	must(t, os.WriteFile(filepath.Join(repo, ".gitignore"), []byte(".terraform*\n"), 0o644))
	commitAll(t, repo)
	return map[string]string{"plant": plant.Dir, "echo": echo.Dir, "pg": pg.Dir, "git": repo}
}

func secretsConfig(env *testbed.Env, srv *pgtest.Server, dirs map[string]string, gitURL string, gh *githubtest.Server, sl *slacktest.Server) string {
	return fmt.Sprintf(`version: 1
defaults:
  timeout: 3m
  schedule: "@every 2s"
  env:
    TESTBED_ROOT: %[1]s
    TF_CLI_CONFIG_FILE: %[2]s
workspaces:
  - name: plant
    dir: %[3]s
    vars:
      db_password: S3cretVar-c2Hn7Ue
    env:
      AWS_SECRET_ACCESS_KEY: S3cretEnv-j6Bq8Vr
      PLANT_MARK: "1"
  - name: echo
    dir: %[4]s
  - name: pgws
    dir: %[5]s
    backend_config:
      conn_str: %[6]s
  - name: gitws
    git:
      url: %[7]s
      token_env: GIT_TOKEN
server:
  trigger_token_env: TRIGGER_TOKEN
  min_interval: 1s
  shutdown_timeout: 1m
reporters:
  github:
    repository: acme/infra
    base_url: %[8]s
    token_env: GITHUB_TOKEN
    error_issues: true
  slack:
    token_env: SLACK_TOKEN
    channel: "#drift"
    api_url: %[9]s
  webhooks:
    - url_env: HOOK_URL
      secret_env: HOOK_SECRET
`, env.Root, env.Mirror.CLIConfigFile, dirs["plant"], dirs["echo"], dirs["pg"], srv.ConnString(), gitURL, gh.BaseURL(), sl.APIURL())
}

// serveGitRepo serves the repository at dir over smart HTTP (git
// http-backend), answering 401 to requests without the token.
func serveGitRepo(t *testing.T, dir, token string) string {
	out, err := exec.Command("git", "--exec-path").Output()
	must(t, err)
	h := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(dir), "GIT_HTTP_EXPORT_ALL=1"},
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(dir)
}

// runWatched runs the driftd binary with env and args, and meanwhile keeps
// the environment and command line of every process it starts, and every
// file in workDir (the scan dirs), as evidence.
func runWatched(t *testing.T, ev *evidence, env []string, workDir string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(driftdBinary(t), args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	must(t, cmd.Start())
	stop := watch(t, ev, cmd.Process.Pid, workDir)
	err := cmd.Wait()
	stop()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// watch samples, until stopped, the processes below pid and the files in
// workDir.
func watch(t *testing.T, ev *evidence, pid int, workDir string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	self := driftdBinary(t)
	go func() {
		defer close(done)
		for {
			for _, p := range descendants(pid) {
				for _, f := range []string{"environ", "cmdline"} {
					// A child between fork and exec is still driftd, with
					// driftd's own environment, and a child that exits
					// or execs while it is read is named by what it
					// was or will be: a sample counts only if the
					// process was the same one before and after the
					// read and was not driftd.
					before, ok := identity(p)
					if !ok || before.exe == self {
						break
					}
					b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", p, f))
					after, ok := identity(p)
					if err != nil || len(b) == 0 || !ok || after != before {
						continue
					}
					text := strings.ReplaceAll(string(b), "\x00", "\n")
					where := fmt.Sprintf("%s of pid %d (%s)", f, p, before.comm)
					var allowed []string
					if f == "environ" && slices.Contains(strings.Split(text, "\n"), "PLANT_MARK=1") {
						allowed = append(allowed, "workspace env") // the plant workspace's own
					}
					if f == "environ" && strings.HasPrefix(before.comm, "git") {
						allowed = append(allowed, "git token") // the header git sends, as GIT_CONFIG_VALUE_n
					}
					ev.add(where, text, allowed...)
				}
			}
			// A scan's inputs, while it runs: its own code, its vars and
			// backend config files, and the plan file (which holds state).
			addFiles(t, ev, workDir, "scan dir file ", "sensitive variable", "backend config", "map key",
				"sensitive attribute", "sensitive attribute, rotated", "sensitive output", "sensitive default in an error")
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// procIdentity is what names a process in /proc: its executable and its
// command name, both of which change at exec and vanish at exit.
type procIdentity struct{ exe, comm string }

func identity(pid int) (procIdentity, bool) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return procIdentity{}, false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return procIdentity{}, false
	}
	return procIdentity{exe: exe, comm: strings.TrimSpace(string(comm))}, true
}

// descendants lists the processes whose parent chain leads to pid.
func descendants(pid int) []int {
	parent := map[int]int{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 {
			parent[p], _ = strconv.Atoi(fields[1])
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// addFiles adds every regular file under dir (up to 4 MiB each; provider
// binaries are larger and hold no secret) as evidence.
func addFiles(t *testing.T, ev *evidence, dir, prefix string, allowed ...string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 4<<20 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			ev.add(prefix+p, string(b), allowed...)
		}
		return nil
	})
}

// serveAndRead runs driftd serve until every workspace has been scanned and
// every report delivered, reads every page and API route, triggers a scan
// with the token, and stops it.
func serveAndRead(t *testing.T, ev *evidence, env []string, cfg, dataDir, workDir, trigger string) {
	addr := freeAddr(t)
	cmd := exec.Command(driftdBinary(t), "serve", "--config", cfg, "--data-dir", dataDir, "--work-dir", workDir,
		"--listen", addr, "--log-level", "debug", "--log-format", "json")
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	stop := watch(t, ev, cmd.Process.Pid, workDir)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		stop()
		ev.add("log of driftd serve", out.String())
	}()
	get := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitFor(t, 5*time.Minute, "every workspace scanned twice", func() bool {
		for _, name := range []string{"plant", "echo", "pgws", "gitws"} {
			if strings.Count(get("/api/v1/workspaces/"+name+"/scans"), `"started_at"`) < 2 {
				return false
			}
		}
		return true
	})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/workspaces/plant/scan", nil)
	req.Header.Set("Authorization", "Bearer "+trigger)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("trigger: %d, want 202", resp.StatusCode)
	}
	paths := []string{"/", "/healthz", "/readyz", "/metrics", "/api/v1/workspaces"}
	for _, name := range []string{"plant", "echo", "pgws", "gitws"} {
		paths = append(paths, "/workspaces/"+name, "/api/v1/workspaces/"+name, "/api/v1/workspaces/"+name+"/scans")
	}
	for _, p := range paths {
		ev.add("GET "+p, get(p))
	}
	if !strings.Contains(get("/api/v1/workspaces/plant"), provider.Address) {
		t.Errorf("the API shows no drift of plant: the test would prove nothing")
	}
}
