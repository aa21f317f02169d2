package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParseGitAndServer is the round trip of a valid file with git
// workspaces and a server section.
func TestParseGitAndServer(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{
		"keys/deploy":          "-----BEGIN OPENSSH PRIVATE KEY-----\n",
		"home/.ssh/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
		"secrets/trigger":      "trigger-token-0123456789abcdef0123\n",
	})
	const config = `version: 1
defaults:
  var_files: [common.tfvars]
workspaces:
  - name: network
    git:
      url: https://${GIT_HOST}/acme/infra.git
      ref: ${REF}
      path: ./stacks//network/
      token_env: GH_INFRA_TOKEN
    var_files: [prod.tfvars]
  - name: scp
    git: {url: "git@github.com:acme/infra.git", ssh_key_file: ~/.ssh/id_ed25519, path: .}
  - name: ssh
    git: {url: "ssh://git@github.com:2222/acme/infra.git", ssh_key_file: keys/deploy}
  - name: local
    git: {url: "file:///srv/git/infra.git"}
    schedule: "@every 1h"
reporters:
  webhooks:
    - url: https://hooks.example.com/${HOOK_PATH}?x=$${literal}
    - url_env: HOOK_URL
server:
  listen: ":9090"
  allowed_hosts: [driftd.example.com, "*.${GIT_HOST}"]
  data_dir: state
  trigger_token_file: secrets/trigger
  concurrency: 8
  jitter: 15m
  min_interval: 30m
  scan_at_startup: true
  shutdown_timeout: 90s
  retention: {max_age: 720h, max_scans: 0}
`
	env := mapEnv(map[string]string{
		"GIT_HOST": "github.com", "REF": "v1.2.0", "GH_INFRA_TOKEN": "ghp_infra",
		"HOME": filepath.Join(root, "home"), "HOOK_PATH": "p", "HOOK_URL": "https://h.example.com/",
	})
	cfg, err := Parse(filepath.Join(root, "workspaces.yaml"), []byte(config), env)
	if err != nil {
		t.Fatal(err)
	}
	base := builtinDefaults()
	want := []Workspace{
		{Name: "network", Git: &GitSource{URL: "https://github.com/acme/infra.git", Ref: "v1.2.0", Path: "stacks/network", Token: "ghp_infra"}, VarFiles: []string{"prod.tfvars"}},
		{Name: "scp", Git: &GitSource{URL: "git@github.com:acme/infra.git", SSHKeyFile: filepath.Join(root, "home/.ssh/id_ed25519")}, VarFiles: []string{"common.tfvars"}},
		{Name: "ssh", Git: &GitSource{URL: "ssh://git@github.com:2222/acme/infra.git", SSHKeyFile: filepath.Join(root, "keys/deploy")}, VarFiles: []string{"common.tfvars"}},
		{Name: "local", Git: &GitSource{URL: "file:///srv/git/infra.git"}, VarFiles: []string{"common.tfvars"}, Schedule: "@every 1h"},
	}
	for i := range want {
		want[i].Timeout, want[i].Parallelism, want[i].Tool = base.Timeout, base.Parallelism, base.Tool
		if want[i].Schedule == "" {
			want[i].Schedule = base.Schedule
		}
	}
	if !reflect.DeepEqual(cfg.Workspaces, want) {
		t.Errorf("workspaces:\n%+v\nwant:\n%+v", cfg.Workspaces, want)
		for i := range min(len(want), len(cfg.Workspaces)) {
			t.Logf("git[%d] = %+v, want %+v", i, cfg.Workspaces[i].Git, want[i].Git)
		}
	}
	wantServer := Server{
		Listen: ":9090", AllowedHosts: []string{"driftd.example.com", "*.github.com"},
		DataDir: filepath.Join(root, "state"), TriggerToken: "trigger-token-0123456789abcdef0123",
		Concurrency: 8, Jitter: 15 * time.Minute, MinInterval: 30 * time.Minute, ScanAtStartup: true, ShutdownTimeout: 90 * time.Second,
		Retention: Retention{MaxAge: 720 * time.Hour},
	}
	if !reflect.DeepEqual(cfg.Server, wantServer) {
		t.Errorf("server = %+v, want %+v", cfg.Server, wantServer)
	}
	if got, want := strings.Join(cfg.SecretEnv(), ","), "GH_INFRA_TOKEN,HOOK_PATH,HOOK_URL"; got != want {
		t.Errorf("SecretEnv() = %s, want %s", got, want)
	}
}

func TestServerDefaults(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"absent": "",
		"null":   "server:\n",
		"empty":  "server: {}\n",
	} {
		config := "version: 1\nworkspaces:\n  - name: a\n    dir: .\n" + doc
		cfg, err := Parse("testdata/w.yaml", []byte(config), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := Server{
			Listen: "127.0.0.1:8080", Concurrency: 4, ShutdownTimeout: 5 * time.Minute, MinInterval: time.Minute,
			Retention: Retention{MaxAge: 2160 * time.Hour, MaxScans: 1000},
		}
		if !reflect.DeepEqual(cfg.Server, want) {
			t.Errorf("%s: server = %+v, want %+v", name, cfg.Server, want)
		}
		if s := cfg.SecretEnv(); len(s) != 0 {
			t.Errorf("%s: SecretEnv() = %q", name, s)
		}
	}
}

// TestSecretEnv checks that every *_env secret is listed, and nothing else:
// ${VAR} in workspace settings is configuration, not driftd's secret.
func TestSecretEnv(t *testing.T) {
	t.Parallel()
	const config = `version: 1
workspaces:
  - name: a
    env: {REGION: "${REGION}"}
    git: {url: "https://github.com/a/b.git", token_env: GIT_TOKEN}
  - name: b
    git: {url: "https://github.com/a/c.git", token_env: GIT_TOKEN}
reporters:
  github:
    repository: a/b
    app: {app_id: 1, installation_id: 2, private_key_env: GH_APP_KEY}
  slack: {webhook_url_env: SLACK_HOOK}
  webhooks:
    - url_env: HOOK_URL
      secret_env: HOOK_SECRET
server:
  trigger_token_env: TRIGGER
`
	env := mapEnv(map[string]string{
		"REGION": "x", "GIT_TOKEN": "t", "GH_APP_KEY": pem, "SLACK_HOOK": "https://hooks.slack.com/x",
		"HOOK_URL": "https://h.example.com", "HOOK_SECRET": "s", "TRIGGER": "tttttttttttttttttttttttttttttttt",
	})
	cfg, err := Parse("testdata/w.yaml", []byte(config), env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GH_APP_KEY", "GIT_TOKEN", "HOOK_SECRET", "HOOK_URL", "SLACK_HOOK", "TRIGGER"}
	if got := cfg.SecretEnv(); !reflect.DeepEqual(got, want) {
		t.Errorf("SecretEnv() = %q, want %q", got, want)
	}
	// The caller's copy is its own.
	cfg.SecretEnv()[0] = "X"
	if cfg.SecretEnv()[0] != "GH_APP_KEY" {
		t.Error("SecretEnv shares its slice")
	}
}

func TestGitURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		kind gitKind
	}{
		{"https://github.com/a/b.git", gitHTTP},
		{"HTTP://git.example.com:8080/a/b", gitHTTP},
		{"ssh://git@github.com/a/b.git", gitSSH},
		{"git@github.com:a/b.git", gitSSH},
		{"github.com:a/b.git", gitSSH},
		{"file:///srv/git/b.git", gitFile},
		{"git://github.com/a/b.git", gitInvalid},
		{"git@:a/b", gitInvalid},
		{"git@github.com:", gitInvalid},
		{"./a:b", gitInvalid},
		{"/srv/git/b.git", gitInvalid},
		{"file://", gitInvalid},
		{"ssh://user:pw@host/a", gitInvalid},
		{"https://a b/c", gitInvalid},
	}
	for _, tt := range tests {
		kind, msg := gitURL(tt.url)
		if kind != tt.kind || (kind == gitInvalid) != (msg != "") {
			t.Errorf("gitURL(%q) = %v, %q; want kind %v", tt.url, kind, msg, tt.kind)
		}
		if strings.Contains(msg, "pw") {
			t.Errorf("gitURL(%q) message shows the password: %s", tt.url, msg)
		}
	}
}

func TestCheckListen(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, ":8080": true, "localhost:1": true, "[::1]:65535": true, "0.0.0.0:443": true,
		"localhost": false, ":0": false, ":http": false, "[::1]": false, "a b:80": false, ":65536": false, "": false,
	} {
		if msg := checkListen(addr); (msg == "") != ok {
			t.Errorf("checkListen(%q) = %q, want ok=%v", addr, msg, ok)
		}
	}
}

func TestMinInterval(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]time.Duration{
		"@every 90s":                        90 * time.Second,
		"@hourly":                           time.Hour,
		"@daily":                            24 * time.Hour,
		"*/5 * * * *":                       5 * time.Minute,
		"0 6,7 * * *":                       time.Hour,
		"CRON_TZ=Europe/Berlin 0 6 * * 1-5": 24 * time.Hour,
		"0 0 1 * *":                         28 * 24 * time.Hour,
		"0 0 29 2 *":                        4*365*24*time.Hour + 24*time.Hour,
	} {
		if got, ok := minInterval(spec); !ok || got != want {
			t.Errorf("minInterval(%q) = %v, %v; want %v", spec, got, ok, want)
		}
	}
	if _, ok := minInterval("not cron"); ok {
		t.Error("minInterval of an invalid spec succeeded")
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"network":                "network",
		"My Stack (prod)":        "my-stack-prod",
		"__infra__":              "infra",
		"app.v2":                 "app.v2",
		"Größe":                  "gr-e",
		"---":                    "workspace",
		"/":                      "workspace",
		"":                       "workspace",
		strings.Repeat("a", 200): strings.Repeat("a", 128),
	}
	for in, want := range tests {
		got := CheckName(in)
		if got != want {
			t.Errorf("CheckName(%q) = %q, want %q", in, got, want)
		}
		if !nameRE.MatchString(got) || len(got) > maxNameLen {
			t.Errorf("CheckName(%q) = %q is not a valid name", in, got)
		}
	}
	if w := Check("/srv/Infra Stacks/"); w.Name != "infra-stacks" || w.Dir != "/srv/Infra Stacks" {
		t.Errorf("Check = %+v", w)
	}
}
