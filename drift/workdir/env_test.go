package workdir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			t.Fatalf("duplicate env entry %q", k)
		}
		m[k] = v
	}
	return m
}

func TestBuildEnv(t *testing.T) {
	t.Parallel()
	driftd := []string{
		"PATH=/usr/bin", "HOME=/home/op", "LC_ALL=C", "TZ=UTC",
		"https_proxy=http://proxy:3128", "TF_TOKEN_app_terraform_io=registry-token",
		"GITHUB_TOKEN=ghp_secret", "GH_TOKEN=gh_secret", "SLACK_BOT_TOKEN=xoxb-secret",
		"DRIFTD_GITHUB_APP_KEY=pem", "MY_WEBHOOK_SECRET=hook",
		"AWS_ACCESS_KEY_ID=AKIA", "AWS_SECRET_ACCESS_KEY=shh", "AWS_REGION=eu-west-1",
		"TF_VAR_from_env=1", "TF_DATA_DIR=/elsewhere", "UNRELATED=x",
	}
	d := &Dir{DataDir: "/scan/data", ScanID: "abc123"}
	tests := []struct {
		name    string
		spec    Spec
		opts    Options
		want    map[string]string // subset that must be present with these values
		absent  []string
		wantErr string
	}{
		{
			name: "allow-list only",
			want: map[string]string{
				"PATH": "/usr/bin", "HOME": "/home/op", "LC_ALL": "C", "TZ": "UTC",
				"https_proxy": "http://proxy:3128", "TF_TOKEN_app_terraform_io": "registry-token",
				"TF_DATA_DIR": "/scan/data", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
				"CHECKPOINT_DISABLE": "1", "DRIFTD_SCAN_ID": "abc123",
			},
			absent: []string{"GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN", "DRIFTD_GITHUB_APP_KEY",
				"MY_WEBHOOK_SECRET", "AWS_ACCESS_KEY_ID", "UNRELATED", "TF_VAR_from_env", "TF_PLUGIN_CACHE_DIR"},
		},
		{
			name: "pass_env globs",
			spec: Spec{PassEnv: []string{"AWS_*", "TF_VAR_*"}},
			want: map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "shh",
				"AWS_REGION": "eu-west-1", "TF_VAR_from_env": "1"},
			absent: []string{"UNRELATED", "GITHUB_TOKEN"},
		},
		{
			name:   "deny wins over pass_env",
			spec:   Spec{PassEnv: []string{"*"}},
			opts:   Options{DenyEnv: []string{"MY_WEBHOOK_SECRET"}},
			want:   map[string]string{"UNRELATED": "x", "TF_DATA_DIR": "/scan/data"},
			absent: []string{"GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN", "DRIFTD_GITHUB_APP_KEY", "MY_WEBHOOK_SECRET"},
		},
		{
			name:   "deny wins over explicit env",
			spec:   Spec{Env: map[string]string{"GITHUB_TOKEN": "ghp_secret", "MY_WEBHOOK_SECRET": "hook", "OK": "yes"}},
			opts:   Options{DenyEnv: []string{"MY_WEBHOOK_SECRET"}},
			want:   map[string]string{"OK": "yes"},
			absent: []string{"GITHUB_TOKEN", "MY_WEBHOOK_SECRET"},
		},
		{
			name: "explicit env overrides inherited, driftd's own override both",
			spec: Spec{Env: map[string]string{"TZ": "Europe/Paris", "TF_DATA_DIR": "/mine"}, PassEnv: []string{"TF_DATA_DIR"}},
			want: map[string]string{"TZ": "Europe/Paris", "TF_DATA_DIR": "/scan/data"},
		},
		{
			name: "vars become TF_VAR entries and override inherited ones",
			spec: Spec{PassEnv: []string{"TF_VAR_*"}, Vars: map[string]string{"from_env": "2", "region": "eu"}},
			want: map[string]string{"TF_VAR_from_env": "2", "TF_VAR_region": "eu"},
		},
		{
			name: "plugin cache",
			opts: Options{PluginCacheDir: "/cache/plugins"},
			want: map[string]string{"TF_PLUGIN_CACHE_DIR": "/cache/plugins"},
		},
		{name: "bad glob", spec: Spec{PassEnv: []string{"AWS_["}}, wantErr: "pass_env"},
		{name: "bad env name", spec: Spec{Env: map[string]string{"A=B": "x"}}, wantErr: "invalid variable name"},
		{name: "bad var name", spec: Spec{Vars: map[string]string{"a b": "x"}}, wantErr: "invalid variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			opts.Environ = driftd
			got, err := buildEnv(tt.spec, opts, d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSorted(got) {
				t.Errorf("env not sorted: %v", got)
			}
			m := envMap(t, got)
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %q, want %q", k, m[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := m[k]; ok {
					t.Errorf("%s must not be passed", k)
				}
			}
			for _, secret := range []string{"ghp_secret", "gh_secret", "xoxb-secret", "pem"} {
				for _, kv := range got {
					if strings.Contains(kv, secret) {
						t.Errorf("secret %q leaked in %q", secret, kv)
					}
				}
			}
		})
	}
}

func TestBuildEnvCLIConfigMadeAbsolute(t *testing.T) {
	t.Parallel()
	got, err := buildEnv(Spec{}, Options{Environ: []string{"TF_CLI_CONFIG_FILE=conf/terraformrc"}}, &Dir{})
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "conf/terraformrc"); envMap(t, got)["TF_CLI_CONFIG_FILE"] != want {
		t.Errorf("TF_CLI_CONFIG_FILE = %q, want %q", envMap(t, got)["TF_CLI_CONFIG_FILE"], want)
	}
}
