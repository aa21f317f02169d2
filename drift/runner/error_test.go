package runner

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/driftd/driftd/internal/reliability"
)

func TestDiagnostics(t *testing.T) {
	t.Parallel()
	framed := "\x1b[31m╷\x1b[0m\n" +
		"│ Warning: Deprecated thing\n│ \n│ Stop using it.\n╵\n" +
		"╷\n│ Error: testbed: simulated provider failure\n│ \n│   with provider[\"driftd.test/driftd/testbed\"],\n│   on main.tf line 9:\n│ \n│ Configure fails because token hunter2-token was refused.\n╵\n" +
		"╷\n│ Error: Second\n│ \n│ detail\n╵\n"
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{
			name:    "framed errors kept, warnings dropped, secret redacted",
			in:      framed,
			secrets: []string{"hunter2-token", "eu"},
			want: "Error: testbed: simulated provider failure\n\n  with provider[\"driftd.test/driftd/testbed\"],\n  on main.tf line 9:\n\n" +
				"Configure fails because token (sensitive value) was refused.\n\nError: Second\n\ndetail",
		},
		{
			name: "unframed error",
			in:   "Initializing...\nError: Failed to query available provider packages\n\nCould not retrieve.\n",
			want: "Error: Failed to query available provider packages\n\nCould not retrieve.",
		},
		{
			name: "escape sequences and control characters dropped",
			in:   "Error: a\x1b]0;title\x07b\x1b]8;;https://e.example\x1b\\c\x1b]8;;\x1b\\ \x1b[2Jd\re\x00\u009b31m\xff\n",
			want: "Error: abc de31m\uFFFD",
		},
		{
			name: "no error block: whole text",
			in:   "  exit status 1  \n",
			want: "exit status 1",
		},
	}
	reliability.Record(t, "escaping", "terraform diagnostics carrying OSC title and hyperlink sequences, BEL, CSI, NUL, C1 controls and invalid UTF-8",
		"dropped at the source: no log, store, issue, chat message or terminal gets them")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := diagnostics(tt.in, tt.secrets); got != tt.want {
				t.Errorf("diagnostics =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestDiagnosticsCapped(t *testing.T) {
	t.Parallel()
	got := diagnostics("Error: "+strings.Repeat("é", maxDiagnostics), nil)
	if len(got) > maxDiagnostics || !utf8.ValidString(got) || !strings.HasSuffix(got, "(truncated)") {
		t.Errorf("len %d, valid %v, suffix %q", len(got), utf8.ValidString(got), got[len(got)-20:])
	}
}

func TestHCLString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`plain`:          `"plain"`,
		`a"b\c`:          `"a\"b\\c"`,
		"line\nnext\t":   `"line\nnext\t"`,
		"${var.x} %{if}": `"$${var.x} %%{if}"`,
		"$ alone %":      `"$ alone %"`,
		"bell\a":         `"bell\u0007"`,
	} {
		if got := hclString(in); got != want {
			t.Errorf("hclString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSplitEnv(t *testing.T) {
	t.Parallel()
	env, vars, dropped := splitEnv([]string{
		"PATH=/bin", "TF_VAR_region=eu", "TF_VAR_token=a=b", "TF_IN_AUTOMATION=1", "TF_INPUT=0",
		"TF_LOG=trace", "TF_CLI_ARGS_plan=-refresh=false", "DRIFTD_SCAN_ID=x",
	})
	if len(env) != 2 || env["PATH"] != "/bin" || env["DRIFTD_SCAN_ID"] != "x" {
		t.Errorf("env = %v", env)
	}
	if len(vars) != 2 || vars["region"] != "eu" || vars["token"] != "a=b" {
		t.Errorf("vars = %v", vars)
	}
	if strings.Join(dropped, ",") != "TF_CLI_ARGS_plan,TF_LOG" {
		t.Errorf("dropped = %v", dropped)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env     []string
		want    string
		wantErr bool
	}{
		{env: []string{"XDG_CACHE_HOME=/xdg", "HOME=/home/u"}, want: "/xdg/driftd"},
		{env: []string{"XDG_CACHE_HOME=relative", "HOME=/home/u"}, want: "/home/u/.cache/driftd"},
		{env: []string{"HOME=/home/u"}, want: "/home/u/.cache/driftd"},
		{env: nil, wantErr: true},
	}
	for _, tt := range tests {
		got, err := DefaultCacheDir(tt.env)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("DefaultCacheDir(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	secrets := []string{"hunter2-token", "s3cr3t", "p@ss w0rd!", "eu"}
	for in, want := range map[string]string{
		"token hunter2-token was refused.":        "token (sensitive value) was refused.",
		`got "hunter2-token"`:                     `got "(sensitive value)"`,
		"key=xhunter2-token2; next":               "(sensitive value); next",
		"https://user:s3cr3t@db.example.com/x":    "https://user:(sensitive value)@db.example.com/x",
		"v1.s3cr3t.sig and s3cr3t.":               "(sensitive value) and (sensitive value).",
		"said p@ss w0rd! twice: p@ss w0rd!":       "said (sensitive value) twice: (sensitive value)",
		"eu-west-1 stays, “s3cr3t” goes":          "eu-west-1 stays, “(sensitive value)” goes",
		"nothing secret here, already read, prod": "nothing secret here, already read, prod",
	} {
		if got := redact(in, secrets); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSecretValues: what a scan's diagnostics hide are its credentials,
// not every value it was given.
func TestSecretValues(t *testing.T) {
	t.Parallel()
	environ := []string{
		"PATH=/usr/bin", "HOME=/home/u", "AWS_REGION=eu-west-1", "AWS_PROFILE=prod", "MODE=read",
		"AWS_SECRET_ACCESS_KEY=aws-secret-1", "AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SESSION_TOKEN=aws-session-2",
		"TF_TOKEN_app_terraform_io=tfc-token-3", "GOOGLE_CREDENTIALS={\"k\":1}", "HTTPS_PROXY=http://u:proxy-pw-4@proxy:3128",
		"TF_VAR_region=eu-central-1", "TF_VAR_db_password=db-pw-5", "TF_VAR_apiKey=api-key-6", "TF_VAR_environment=prod",
		"DATABASE_URL=postgres://app:db-url-pw-7@db/app",
	}
	spec := Spec{BackendConfig: map[string]string{
		"bucket": "state", "key": "network/terraform.tfstate", "region": "eu-west-1",
		"access_key": "backend-ak-8", "secret_key": "backend-sk-9", "sas_token": "sas-10",
	}}
	got := secretValues(environ, spec)
	slices.Sort(got)
	want := []string{"AKIAEXAMPLE", "api-key-6", "aws-secret-1", "aws-session-2", "backend-ak-8", "backend-sk-9", "db-pw-5",
		"db-url-pw-7", "proxy-pw-4", "sas-10", "tfc-token-3", `{"k":1}`}
	if !slices.Equal(got, want) {
		t.Errorf("secretValues = %q\nwant %q", got, want)
	}
}

func TestCredentialName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"token": true, "db_password": true, "AWS_SECRET_ACCESS_KEY": true, "authToken": true, "api-key": true,
		"GITHUB_PAT_TOKEN": true, "sse_customer_key": true, "SENTRY_DSN": true,
		"key": false, "region": false, "environment": false, "AWS_PROFILE": false, "keyring": false,
		"passenger": false, "author": false, "MODE": false, "tokenizer": false,
	} {
		if got := credentialName(name); got != want {
			t.Errorf("credentialName(%q) = %v, want %v", name, got, want)
		}
	}
}
