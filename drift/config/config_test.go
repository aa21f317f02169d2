package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/driftd/driftd/drift"
)

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// writeTree creates files (content "" means a directory) under a temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if content == "" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const validConfig = `version: 1
defaults:
  timeout: 5m
  pass_env: ["AWS_*"]
  env: {TF_REGISTRY_CLIENT_TIMEOUT: "30", REGION: "${REGION}"}
  vars: {region: "${REGION}"}
  var_files: [common.tfvars]
  owners: ["@acme/platform"]
  ignore:
    - attributes: ['tags["LastScanned"]']
workspaces:
  - name: net
    dir: infra/net
  - name: app.prod
    dir: ${ROOT}/infra/app
    var_files: [prod.tfvars]
    vars:
      count: 3
      enabled: true
      cidrs: ["10.0.0.0/8", "${REGION}"]
      tags: {team: app}
      literal: "$${not.expanded}"
    env: {EXTRA: x, NUM: 5}
    backend_config: {bucket: state, encrypt: true}
    refresh_only: true
    lock: true
    lock_timeout: 30s
    parallelism: 4
    plugin_tls: true
    terraform_version: "~> 1.5"
    tool: tofu
    binary: bin/tofu
    workspace: prod
    schedule: "CRON_TZ=Europe/Berlin 0 6 * * 1-5"
    owners: [alice]
reporters:
  github:
    repository: acme/infra
    base_url: https://ghe.example.com/api/v3/
    app:
      app_id: 12
      installation_id: 34
      private_key_file: secrets/app.pem
  slack:
    token_file: secrets/slack
    channel: "#drift-${REGION}"
    notify: {resolved: false}
    digest: true
    owners:
      acme/platform: "<!subteam^S0PLATFORM>"
      "@alice": "<@U0ALICE>"
  webhooks:
    - url: https://hooks.example.com/${HOOK_PATH}
      secret_env: HOOK_SECRET
      headers: {X-Source: driftd}
      timeout: 5s
    - name: second
      url_env: HOOK_URL
`

const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"

func TestParseValid(t *testing.T) {
	t.Parallel()
	root := writeTree(t, map[string]string{
		"infra/net/common.tfvars": "a = 1",
		"infra/app/common.tfvars": "a = 1",
		"infra/app/prod.tfvars":   "b = 2",
		"secrets/app.pem":         pem,
		"secrets/slack":           "xoxb-slack-token\n",
		"bin/tofu":                "#!/bin/sh\n",
	})
	if err := os.Chmod(filepath.Join(root, "bin/tofu"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := mapEnv(map[string]string{
		"REGION": "eu-west-1", "ROOT": root,
		"HOOK_PATH": "eu-west-1", "HOOK_SECRET": "hmac-key", "HOOK_URL": "https://other.example.com/x?token=t0k",
	})
	cfg, err := Parse(filepath.Join(root, "workspaces.yaml"), []byte(validConfig), env)
	if err != nil {
		t.Fatal(err)
	}

	want := []Workspace{
		{
			Name:        "net",
			Dir:         filepath.Join(root, "infra/net"),
			Tool:        ToolTerraform,
			VarFiles:    []string{"common.tfvars"},
			Vars:        map[string]string{"region": "eu-west-1"},
			Env:         map[string]string{"TF_REGISTRY_CLIENT_TIMEOUT": "30", "REGION": "eu-west-1"},
			PassEnv:     []string{"AWS_*"},
			Timeout:     5 * time.Minute,
			Parallelism: DefaultParallelism,
			Ignore:      []drift.IgnoreRule{{Attributes: []string{`tags["LastScanned"]`}}},
			Owners:      []string{"acme/platform"},
			Schedule:    DefaultSchedule,
		},
		{
			Name:               "app.prod",
			Dir:                filepath.Join(root, "infra/app"),
			Tool:               ToolTofu,
			Binary:             filepath.Join(root, "bin/tofu"),
			TerraformVersion:   "~> 1.5",
			TerraformWorkspace: "prod",
			VarFiles:           []string{"prod.tfvars"},
			Vars: map[string]string{
				"region":  "eu-west-1",
				"count":   "3",
				"enabled": "true",
				"cidrs":   `["10.0.0.0/8","eu-west-1"]`,
				"tags":    `{"team":"app"}`,
				"literal": "${not.expanded}",
			},
			BackendConfig: map[string]string{"bucket": "state", "encrypt": "true"},
			Env:           map[string]string{"TF_REGISTRY_CLIENT_TIMEOUT": "30", "REGION": "eu-west-1", "EXTRA": "x", "NUM": "5"},
			PassEnv:       []string{"AWS_*"},
			Timeout:       5 * time.Minute,
			RefreshOnly:   true,
			Lock:          true,
			LockTimeout:   30 * time.Second,
			Parallelism:   4,
			PluginTLS:     true,
			Ignore:        []drift.IgnoreRule{{Attributes: []string{`tags["LastScanned"]`}}},
			Owners:        []string{"alice"},
			Schedule:      "CRON_TZ=Europe/Berlin 0 6 * * 1-5",
		},
	}
	if !reflect.DeepEqual(cfg.Workspaces, want) {
		t.Errorf("workspaces:\n%+v\nwant:\n%+v", cfg.Workspaces, want)
	}
	// Maps merged from defaults must not be shared between workspaces.
	cfg.Workspaces[1].Env["EXTRA"] = "changed"
	if _, ok := cfg.Workspaces[0].Env["EXTRA"]; ok {
		t.Error("workspaces share the env map")
	}

	gh := cfg.Reporters.GitHub
	wantGH := &GitHub{
		Repository: "acme/infra", BaseURL: "https://ghe.example.com/api/v3/",
		App:    &GitHubApp{AppID: 12, InstallationID: 34, PrivateKey: Secret(strings.TrimSpace(pem))},
		Labels: []string{"drift"}, AssignOwners: true, MaxOpenIssues: DefaultMaxOpenIssues, Timeout: DefaultReporterTimeout,
	}
	if !reflect.DeepEqual(gh, wantGH) {
		t.Errorf("github: %+v\nwant %+v", gh, wantGH)
	}
	wantSlack := &Slack{
		Token: "xoxb-slack-token", Channel: "#drift-eu-west-1",
		Notify: Notify{New: true, Changed: true, Error: true}, Digest: true, Timeout: DefaultReporterTimeout,
		Owners: map[string]string{"acme/platform": "<!subteam^S0PLATFORM>", "alice": "<@U0ALICE>"},
	}
	if !reflect.DeepEqual(cfg.Reporters.Slack, wantSlack) {
		t.Errorf("slack: %+v\nwant %+v", cfg.Reporters.Slack, wantSlack)
	}
	all := Notify{New: true, Changed: true, Resolved: true, Error: true}
	wantHooks := []Webhook{
		{Name: "webhook[0]", URL: "https://hooks.example.com/eu-west-1", Secret: "hmac-key", Headers: map[string]string{"X-Source": "driftd"}, Notify: all, Timeout: 5 * time.Second},
		{Name: "second", URL: "https://other.example.com/x?token=t0k", Notify: all, Timeout: DefaultReporterTimeout},
	}
	if !reflect.DeepEqual(cfg.Reporters.Webhooks, wantHooks) {
		t.Errorf("webhooks: %+v\nwant %+v", cfg.Reporters.Webhooks, wantHooks)
	}
}

// TestExample loads workspaces.example.yaml, the file people copy.
func TestExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../workspaces.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A temp copy, so that the example's directories exist whatever state
	// examples/ is in.
	root := writeTree(t, map[string]string{
		"workspaces.yaml":  string(data),
		"examples/network": "",
		"examples/app":     "",
		"examples/storage": "",
	})
	env := mapEnv(map[string]string{
		"AWS_REGION":              "eu-central-1",
		"GITHUB_TOKEN":            "ghp_example",
		"SLACK_WEBHOOK_URL":       "https://hooks.slack.com/services/T/B/x",
		"INCIDENT_WEBHOOK_URL":    "https://incidents.example.com/hook",
		"INCIDENT_WEBHOOK_SECRET": "hmac",
		"GH_INFRA_TOKEN":          "ghp_infra",
	})
	cfg, err := Parse(filepath.Join(root, "workspaces.yaml"), data, env)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range cfg.Workspaces {
		names = append(names, w.Name)
	}
	if got := strings.Join(names, ","); got != "network,app,storage,shared-dns" {
		t.Errorf("workspaces = %s", got)
	}
	if g := cfg.Workspaces[3].Git; g == nil || g.Path != "stacks/dns" || g.Token != "ghp_infra" {
		t.Errorf("git workspace = %+v", cfg.Workspaces[3])
	}
	if cfg.Reporters.GitHub == nil || cfg.Reporters.Slack == nil || len(cfg.Reporters.Webhooks) != 1 {
		t.Errorf("reporters = %+v", cfg.Reporters)
	}

	// The commented-out server section, uncommented, shows the defaults.
	head, server, ok := strings.Cut(string(data), "\n# server:\n")
	if !ok {
		t.Fatal("no commented server section in the example")
	}
	var b strings.Builder
	b.WriteString(head + "\nserver:\n")
	for _, line := range strings.Split(server, "\n") {
		b.WriteString(strings.TrimPrefix(line, "# ") + "\n")
	}
	env = mapEnv(map[string]string{
		"AWS_REGION": "x", "GITHUB_TOKEN": "x", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/x",
		"INCIDENT_WEBHOOK_URL": "https://x.example.com", "INCIDENT_WEBHOOK_SECRET": "x",
		"GH_INFRA_TOKEN": "x", "DRIFTD_TRIGGER_TOKEN": "trigger-0123456789abcdef0123456789",
	})
	cfg, err = Parse(filepath.Join(root, "workspaces.yaml"), []byte(b.String()), env)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultServer()
	want.DataDir, want.TriggerToken = "/var/lib/driftd", "trigger-0123456789abcdef0123456789"
	if !reflect.DeepEqual(cfg.Server, want) {
		t.Errorf("example server = %+v, want %+v", cfg.Server, want)
	}
}

func TestLoad(t *testing.T) {
	root := writeTree(t, map[string]string{
		"w.yaml": "version: 1\nworkspaces:\n  - name: a\n    dir: ${DRIFTD_TEST_DIR}\n",
		"a":      "",
	})
	t.Setenv("DRIFTD_TEST_DIR", "a")
	cfg, err := Load(filepath.Join(root, "w.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != filepath.Join(root, "w.yaml") || cfg.Workspaces[0].Dir != filepath.Join(root, "a") {
		t.Errorf("cfg = %+v", cfg)
	}
	if _, err := Load(filepath.Join(root, "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	cfg := &Config{Workspaces: []Workspace{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	tests := []struct {
		names   []string
		want    string
		wantErr string
	}{
		{names: nil, want: "a,b,c"},
		{names: []string{"c", "a", "c"}, want: "a,c"},
		{names: []string{"x"}, wantErr: `unknown workspace "x" (known: a, b, c)`},
		{names: []string{"a", "x", "y"}, wantErr: `unknown workspaces "x", "y" (known: a, b, c)`},
	}
	for _, tt := range tests {
		got, err := cfg.Select(tt.names)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Select(%q) error = %v, want %s", tt.names, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, w := range got {
			names = append(names, w.Name)
		}
		if strings.Join(names, ",") != tt.want {
			t.Errorf("Select(%q) = %v, want %s", tt.names, names, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	w := Check("/srv/infra/network/")
	want := Workspace{Name: "network", Dir: "/srv/infra/network", Tool: ToolTerraform, Timeout: DefaultTimeout, Parallelism: DefaultParallelism, Schedule: DefaultSchedule}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("Check = %+v, want %+v", w, want)
	}
	if w := Check("rel"); !filepath.IsAbs(w.Dir) {
		t.Errorf("Check(rel).Dir = %q, want absolute", w.Dir)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	const value = "s3cr3t-value"
	gh := &GitHub{Repository: "a/b", Token: value, App: &GitHubApp{PrivateKey: value}}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "token", gh.Token, "github", gh)
	js, err := json.Marshal(gh)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(gh)
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{
		fmt.Sprint(gh.Token), fmt.Sprintf("%s %v %q %x", gh.Token, gh.Token, gh.Token, gh.Token),
		fmt.Sprintf("%+v %#v", *gh, *gh), fmt.Sprintf("%+v", *gh.App),
		logs.String(), string(js), string(y),
	}
	for _, out := range outputs {
		if strings.Contains(out, value) {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if gh.Token.Reveal() != value {
		t.Error("Reveal lost the value")
	}
}

// TestErrorsNeverShowSecrets makes every secret source fail in a way that
// could echo the value, and checks that no message does.
func TestErrorsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	const value = "hunter2-secret"
	root := writeTree(t, map[string]string{
		"key.pem": value,
		"d":       "",
	})
	config := `version: 1
workspaces:
  - name: a
    dir: d
    env: {A: {x: ` + value + `}}
    vars: {b: [` + value + `, null]}
  - name: g
    git: {url: "https://bot:` + value + `@github.com/a/b.git", token: ` + value + `}
  - name: h
    git: {url: "ftp://x:` + value + `@github.com/a/b.git"}
reporters:
  github:
    repository: a/b
    token: ` + value + `
    app: {app_id: 1, installation_id: 2, private_key_file: key.pem}
  slack:
    webhook_url_env: HOOK
  webhooks:
    - url: ftp://` + value + `
      headers: {X-Token: [` + value + `]}
    - url_env: HOOK
      secret: ` + value + `
`
	_, err := Parse(filepath.Join(root, "w.yaml"), []byte(config), mapEnv(map[string]string{"HOOK": "not a url " + value}))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	if strings.Contains(err.Error(), value) {
		t.Errorf("secret in errors:\n%v", err)
	}
	if n := len(err.(Errors)); n < 8 {
		t.Errorf("got %d errors, want at least 8:\n%v", n, err)
	}
}

func TestExpandEnv(t *testing.T) {
	t.Parallel()
	env := mapEnv(map[string]string{"A": "x", "EMPTY": "", "LOOP": "${A}"})
	tests := []struct{ in, want, err string }{
		{in: "plain $A $$A", want: "plain $A $$A"},
		{in: "${A}-${A}", want: "x-x"},
		{in: "${EMPTY}", want: ""},
		{in: "${LOOP}", want: "${A}"},
		{in: "$${A}", want: "${A}"},
		{in: "$$${A}", want: "$${A}"}, // leftmost $${ wins
		{in: "${B}", err: "environment variable B is not set"},
		{in: "${A", err: "unterminated ${ (write $${ for a literal ${)"},
		{in: "${1A}", err: "invalid variable reference: want ${NAME} with letters, digits and _ (write $${ for a literal ${)"},
	}
	for _, tt := range tests {
		got, err := expandEnv(tt.in, env)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("expandEnv(%q) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestWarnings: an ignore rule that can never match a path as reports
// write them is accepted with a warning.
func TestWarnings(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("testdata/w.yml", []byte(`version: 1
defaults:
  ignore:
    - attributes: ["tags['LastScanned']", 'tags["LastScanned"]', tags.LastScanned]
workspaces:
  - name: app
    dir: .
    ignore:
      - type: aws_instance
        attributes: [tags.Cost Center, 'tags["Cost Center"]']
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `testdata/w.yml:4:20: defaults.ignore[0].attributes[0]: warning: "tags['LastScanned']" can never match: paths quote keys with double quotes: ["LastScanned"]
testdata/w.yml:10:22: workspaces[0].ignore[0].attributes[0]: warning: "tags.Cost Center" can never match: key "Cost Center" is not an identifier, which paths write as ["Cost Center"]`
	if got := cfg.Warnings.Error(); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}

// offlineConfig needs environment variables and secret files that a pull
// request's CI does not have.
const offlineConfig = `version: 1
workspaces:
  - name: app
    dir: ${INFRA_ROOT}/app
    var_files: [prod.tfvars]
    env: {REGION: "${AWS_REGION}"}
    vars: {password: "${DB_PASSWORD}", list: ["${X}"]}
    backend_config: {bucket: "${BUCKET}"}
  - name: dns
    git:
      url: git@github.com:acme/${REPO}.git
      ssh_key_file: keys/deploy
reporters:
  github:
    repository: acme/infra
    app: {app_id: 1, installation_id: 2, private_key_file: secrets/app.pem}
  slack:
    token_env: SLACK_BOT_TOKEN
    channel: "#drift-${TEAM}"
  webhooks:
    - url: https://hooks.example.com/${HOOK_TOKEN}
      secret_file: secrets/hook
server:
  trigger_token_env: TRIGGER
  data_dir: ${STATE_DIR}
`

// TestOffline: offline, what needs the environment or secret files is not
// checked, and everything else still is.
func TestOffline(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "w.yaml")
	if _, err := ParseContext(t.Context(), file, []byte(offlineConfig), Options{Offline: true}); err != nil {
		t.Errorf("offline: %v", err)
	}
	_, err := Parse(file, []byte(offlineConfig), nil)
	if n := len(err.(Errors)); n != 14 {
		t.Errorf("online: %d errors, want 14:\n%v", n, err)
	}

	// Malformed references, inline secrets and everything else are errors
	// offline too.
	bad := strings.NewReplacer("SLACK_BOT_TOKEN", "not a name", "${X}", "${1X}", "app_id: 1", "app_id: 0",
		"ssh_key_file: keys/deploy", "token: ghp_x").Replace(offlineConfig)
	_, err = ParseContext(t.Context(), file, []byte(bad), Options{Offline: true})
	want := []string{
		`7:47: workspaces[0].vars.list[0]: invalid variable reference`,
		`12:7: workspaces[1].git.token: secrets cannot be written inline; use token_env or token_file`,
		`16:19: reporters.github.app.app_id: must be a positive integer, got 0`,
		`18:16: reporters.slack.token_env: invalid environment variable name "not a name"`,
	}
	errs, _ := err.(Errors)
	if len(errs) != len(want) {
		t.Fatalf("offline, bad: %v", err)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), file+":"+w) {
			t.Errorf("error %d = %s, want %s...", i, errs[i], w)
		}
	}
}
