package runner

import (
	"strings"
	"testing"
	"unicode/utf8"
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
		got, err := defaultCacheDir(tt.env)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("defaultCacheDir(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}
