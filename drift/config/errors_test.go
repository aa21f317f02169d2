package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/reliability"
)

// testEnv is the environment the testdata/conf.*.yml cases see.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"SET":   "https://hooks.example.com/abc",
		"TOKEN": "tok",
	}[name]
	return v, ok
}

// TestParseErrors checks the exact messages for every malformed case in
// testdata: one file per case, in the spirit of Alertmanager's config tests.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]string{
		"bad_cron": {
			`11:15: workspaces[2].schedule: invalid cron expression "61 * * * *": end of range (61) above maximum (59): 61`,
		},
		"bad_duration": {
			`7:14: workspaces[1].timeout: expected a duration like "15m", got "fast"`,
			`9:19: workspaces[1].lock_timeout: must not be negative, got "-5s"`,
		},
		"bad_name": {
			`3:11: workspaces[0].name: invalid name "App_One": use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit`,
			`5:11: workspaces[1].name: invalid name "-lead": use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit`,
			`7:11: workspaces[2].name: name longer than 128 characters`,
		},
		"bad_tool": {
			`7:24: workspaces[0].terraform_version: no OpenTofu release satisfies "~> 1.5.0": OpenTofu's releases start at 1.6.0 (tool: tofu)`,
			`10:11: workspaces[1].tool: unknown tool "opentofu": want "terraform" or "tofu" (OpenTofu)`,
			`17:13: workspaces[3].binary: testdata/nope/tofu does not exist`,
			`20:13: workspaces[4].binary: must not be empty`,
			`23:24: workspaces[5].terraform_version: no OpenTofu release satisfies ">= 1.3, < 1.6": OpenTofu's releases start at 1.6.0 (tool: tofu)`,
			`26:13: workspaces[6].binary: testdata is not a regular file`,
		},
		"bad_version_constraint": {
			`5:24: workspaces[0].terraform_version: invalid version constraint "~> one": malformed constraint: ~> one`,
		},
		"comments_only": {
			`1:1: empty configuration: expected a mapping with "version" and "workspaces"`,
		},
		"duplicate_key": {
			`6:5: workspaces[0].timeout: duplicate key (first at line 5)`,
		},
		"duplicate_names": {
			`6:11: workspaces[1].name: duplicate workspace name "app" (first at line 3)`,
		},
		"empty": {
			`1:1: empty configuration: expected a mapping with "version" and "workspaces"`,
		},
		"empty_ignore": {
			`6:9: workspaces[0].ignore[0]: ignore rule needs at least one of address, type or attributes`,
			`7:9: workspaces[0].ignore[1]: ignore rule needs at least one of address, type or attributes`,
		},
		"env_reserved": {
			`3:9: defaults.env.TF_IN_AUTOMATION: driftd sets TF_IN_AUTOMATION itself (scans never ask for input)`,
			`9:7: workspaces[0].env.TF_WORKSPACE: driftd does not pass TF_WORKSPACE to terraform; select a Terraform workspace with the workspace key`,
			`10:7: workspaces[0].env.TF_DATA_DIR: driftd sets TF_DATA_DIR itself (a data dir per workspace)`,
			`11:7: workspaces[0].env.TF_CLI_ARGS_plan: driftd does not pass TF_CLI_ARGS_plan to terraform; use the workspace's keys (vars, var_files, backend_config, lock, parallelism, refresh_only)`,
			`12:7: workspaces[0].env.TF_LOG: driftd does not pass TF_LOG to terraform (its log would mix with the diagnostics driftd reads)`,
			`13:7: workspaces[0].env.SLACK_TOKEN: driftd never passes SLACK_TOKEN to terraform (SLACK_* are the names of its own tokens); give terraform the value under another name`,
			`14:7: workspaces[0].env.TOKEN: driftd never passes TOKEN to terraform: a secret of this file is read from it; give terraform the value under another name`,
			`15:7: workspaces[0].env.TF_VAR_region: vars.region sets the same Terraform variable, and wins; set it in one place`,
			`18:16: workspaces[0].pass_env[0]: driftd does not pass TF_CLI_ARGS to terraform; use the workspace's keys (vars, var_files, backend_config, lock, parallelism, refresh_only)`,
			`18:38: workspaces[0].pass_env[2]: driftd never passes TOKEN to terraform: a secret of this file is read from it`,
			`18:45: workspaces[0].pass_env[3]: driftd never passes GITHUB_TOKEN to terraform (the name of its own token); give terraform the value under another name`,
			`21:16: workspaces[1].workspace: invalid Terraform workspace name "a/b"`,
			`24:16: workspaces[2].workspace: invalid Terraform workspace name ""`,
		},
		"github_no_credentials": {
			`7:5: reporters.github: missing required field "repository"`,
			`7:5: reporters.github: missing credentials: set token_env, token_file or app`,
			`7:13: reporters.github.labels: must not be empty: driftd finds its issues by label`,
			`8:22: reporters.github.max_open_issues: must be 0 (unlimited) or more, got -1`,
		},
		"github_token_and_app": {
			`7:17: reporters.github.repository: expected "owner/repo", got "acme"`,
			`9:5: reporters.github.app: set either a token (token_env or token_file) or app, not both`,
			`10:7: reporters.github.app: missing required field "installation_id"`,
			`10:15: reporters.github.app.app_id: must be a positive integer, got 0`,
			`11:7: reporters.github.app.private_key: secrets cannot be written inline; use private_key_env or private_key_file`,
		},
		"git_url": {
			`4:10: workspaces[0].git: missing required field "url"`,
			`6:16: workspaces[1].git.url: unsupported scheme "ftp": use https://, http://, ssh://, file:// or git@host:path`,
			`8:16: workspaces[2].git.url: the URL embeds a password; remove it and use token_env or token_file`,
			`10:16: workspaces[3].git.url: the URL embeds a user name; remove it and use token_env or token_file`,
			`12:16: workspaces[4].git.url: unsupported URL: use https://, http://, ssh://, file:// or git@host:path (a local repository is file:///path/to/repo)`,
			`14:16: workspaces[5].git.url: invalid URL: no host`,
			`16:16: workspaces[6].git.url: transport helpers (<transport>::<address>) are not supported: use https://, http://, ssh://, file:// or git@host:path`,
			`18:16: workspaces[7].git.url: invalid URL: it starts with "-" or contains white space`,
			`20:16: workspaces[8].git.url: environment variable GIT_HOST is not set`,
		},
		"git_dir_and_git": {
			`3:3: defaults.git: git cannot be set in defaults`,
			`7:5: workspaces[0].git: set either dir or git, not both`,
			`8:5: workspaces[1]: missing required field "dir" (or "git")`,
			`11:10: workspaces[2].git: expected a mapping, got "https://github.com/acme/infra.git"`,
		},
		"git_auth": {
			`6:7: workspaces[0].git.token_env: a token applies to http(s) URLs only`,
			`10:7: workspaces[1].git.ssh_key_file: an ssh key applies to ssh:// and git@host:path URLs only`,
			`14:21: workspaces[2].git.ssh_key_file: ssh key file testdata/no-such-key does not exist`,
			`16:63: workspaces[3].git.ssh_key_file: ssh key file testdata is not a regular file`,
			`20:7: workspaces[4].git.token: secrets cannot be written inline; use token_env or token_file`,
			`24:7: workspaces[5].git.token_file: a token applies to http(s) URLs only`,
			`24:19: workspaces[5].git.token_file: secret file testdata/empty-secret is empty`,
		},
		"git_path_ref": {
			`6:12: workspaces[0].git.ref: must not be empty; leave ref out to scan the remote's default branch`,
			`7:13: workspaces[0].git.path: "/etc" must be a relative, slash-separated path inside the repository`,
			`11:12: workspaces[1].git.ref: invalid ref "--detach": want a branch, tag or commit`,
			`12:13: workspaces[1].git.path: "stacks/../../etc" leads outside the repository`,
			`16:12: workspaces[2].git.ref: invalid ref "main:evil": want a branch, tag or commit`,
			`17:13: workspaces[2].git.path: must not be empty; leave path out for the repository root`,
			`18:7: workspaces[2].git.branch: unknown field`,
		},
		"ignore_globs": {
			`6:18: workspaces[0].ignore[0].address: glob is 1025 bytes long, more than the 1024 allowed`,
			`8:28: workspaces[0].ignore[1].attributes[1]: glob is 1025 bytes long, more than the 1024 allowed`,
		},
		"inline_secret": {
			`8:5: reporters.github.token: secrets cannot be written inline; use token_env or token_file`,
		},
		"lock_timeout_without_lock": {
			`5:19: workspaces[0].lock_timeout: has no effect unless lock is true`,
		},
		"merge_key": {
			`2:1: base: unknown field`,
			`5:5: workspaces[0]: merge keys (<<) are not supported; put shared workspace settings in defaults`,
		},
		"missing_dir": {
			`4:10: workspaces[0].dir: directory testdata/does-not-exist does not exist`,
			`6:10: workspaces[1].dir: testdata/conf.missing_dir.yml is not a directory`,
			`7:5: workspaces[2]: missing required field "dir" (or "git")`,
		},
		"missing_env_secret": {
			`7:16: reporters.slack.token_env: environment variable SLACK_BOT_TOKEN is not set`,
		},
		"name_in_defaults": {
			`3:3: defaults.name: name cannot be set in defaults`,
			`4:3: defaults.dir: dir cannot be set in defaults`,
		},
		"no_workspaces": {
			`2:13: workspaces: no workspaces defined`,
		},
		"not_mapping": {
			`1:1: the top level must be a mapping with "version" and "workspaces", got a list`,
		},
		"owners_pass_env": {
			`5:24: workspaces[0].owners[1]: invalid owner "not a login": want a GitHub login or org/team`,
			`5:39: workspaces[0].owners[2]: invalid owner "org/team/extra": want a GitHub login or org/team`,
			`6:25: workspaces[0].pass_env[1]: invalid variable name or glob "["`,
			`6:30: workspaces[0].pass_env[2]: must not be empty`,
		},
		"parallelism_range": {
			`3:16: defaults.parallelism: must be between 1 and 256, got 0`,
			`7:18: workspaces[0].parallelism: must be between 1 and 256, got 300`,
		},
		"schedules": {
			`3:13: defaults.schedule: "@every 30s" runs every 30s, more often than server.min_interval (10m0s) allows`,
			`9:15: workspaces[1].schedule: "@every -5m" must have a positive interval`,
			`12:15: workspaces[2].schedule: "@every 90500ms" must have an interval of whole seconds`,
			`15:15: workspaces[3].schedule: "0 0 30 2 *" never fires: no date matches it`,
			`18:15: workspaces[4].schedule: "CRON_TZ=UTC 0 0 31 4 *" never fires: no date matches it`,
			`21:15: workspaces[5].schedule: "*/5 * * * *" runs every 5m0s, more often than server.min_interval (10m0s) allows`,
			`24:15: workspaces[6].schedule: "@every 0s" must have a positive interval`,
		},
		"min_interval": {
			`5:15: workspaces[0].schedule: "@every 59s" runs every 59s, more often than server.min_interval (1m0s) allows`,
		},
		"slo": {
			`3:3: defaults.slo: needs drift_free, the objective (e.g. drift_free: "99%")`,
			`9:19: workspaces[0].slo.drift_free: expected a percentage like "99.5%", got 99`,
			`13:19: workspaces[1].slo.drift_free: must be above 0% and below 100% (100% leaves no error budget), got 100%`,
			`14:15: workspaces[1].slo.window: must be positive, got "0s"`,
			`15:23: workspaces[1].slo.resolve_within: must be positive, got "-1h"`,
			`18:10: workspaces[2].slo: expected a mapping (drift_free, window, ...) or false for none, got true`,
			`22:19: workspaces[3].slo.drift_free: must be above 0% and below 100% (100% leaves no error budget), got 0%`,
			`23:26: workspaces[3].slo.workspace_metrics: expected true or false, got "yes"`,
			`24:7: workspaces[3].slo.burn: unknown field`,
			`30:19: workspaces[5].slo.drift_free: expected a percentage like "99.5%", got "9e1%"`,
		},
		"slo_retention": {
			`13:15: workspaces[1].slo.window: window is longer than server.retention.max_age (35d): the store would not keep the history it covers`,
			`18:15: workspaces[2].slo.window: window holds more than 1000 scans of workspace "c" (schedule "*/10 * * * *"), more than server.retention.max_scans (1000) keeps: raise max_scans or shorten the window`,
		},
		"secret_files": {
			`8:17: reporters.github.token_file: cannot read secret file: testdata is not a regular file`,
			`10:17: reporters.slack.token_file: secret file testdata/empty-secret is empty`,
		},
		"server": {
			`6:11: server.listen: invalid address "localhost": want host:port, e.g. "127.0.0.1:8080" or ":8080"`,
			`7:13: server.data_dir: must not be empty; leave data_dir out for the default`,
			`8:3: server.trigger_token: secrets cannot be written inline; use trigger_token_env or trigger_token_file`,
			`9:16: server.concurrency: must be between 1 and 64, got 0`,
			`10:11: server.jitter: must not be negative, got "-1s"`,
			`11:20: server.scan_at_startup: expected true or false, got "yes"`,
			`12:21: server.shutdown_timeout: must be positive, got "0s"`,
			`14:14: server.retention.max_age: must be 0 (keep forever) or more, got "-1h"`,
			`15:16: server.retention.max_scans: must be 0 (keep forever) or more, got -1`,
			`16:5: server.retention.max_size: unknown field`,
			`17:3: server.port: unknown field`,
			`18:17: server.min_interval: must be at least 1s (schedules fire at most once a second), got "500ms"`,
		},
		"server_hosts": {
			`9:7: server.allowed_hosts[2]: host "driftd.example.com:8080" has a port: list the host name alone (requests are accepted on any port)`,
			`10:7: server.allowed_hosts[3]: "10.0.0.5" is an IP address: requests addressed to an IP address are always accepted; list host names only`,
			`11:7: server.allowed_hosts[4]: "[::1]" is an IP address: requests addressed to an IP address are always accepted; list host names only`,
			`12:7: server.allowed_hosts[5]: "LocalHost." is always accepted; list other host names only`,
			`13:7: server.allowed_hosts[6]: invalid host name "https://driftd.example.com": want a host name like "driftd.example.com" or "*.example.com"`,
			`14:7: server.allowed_hosts[7]: invalid host name "*": want a host name like "driftd.example.com" or "*.example.com"`,
			`15:7: server.allowed_hosts[8]: must not be empty`,
			`16:22: server.trigger_token_env: the trigger token is shorter than 32 characters; use a random one, e.g. from ` + "`openssl rand -hex 32`",
		},
		"server_jitter": {
			`17:11: server.jitter: must be shorter than every schedule's interval: workspace "every" ("@every 5m") can run every 5m0s`,
			`17:11: server.jitter: must be shorter than every schedule's interval: workspace "cron" ("*/10 * * * *") can run every 10m0s`,
		},
		"server_listen": {
			`6:11: server.listen: invalid port "99999": want a number from 1 to 65535`,
			`7:16: server.concurrency: must be between 1 and 64, got 65`,
			`8:22: server.trigger_token_env: environment variable UNSET_TRIGGER is not set`,
		},
		"slack_owners": {
			`10:14: reporters.slack.owners.alice: a channel has no effect with a webhook URL (it posts to its own channel); use a bot token or map "alice" to a mention`,
			`12:7: reporters.slack.owners.carol: no workspace has owner "carol"; list it in a workspace's owners or remove it`,
			`13:22: reporters.slack.owners["acme/platform"]: expected a Slack mention ("<@U…>", "<!subteam^S…>") or channel ("#name", "C…"), got "@platform"`,
		},
		"slack_owner_channels": {
			`15:12: reporters.slack.owners.bob: workspace "app" is owned by alice and bob, whose channels differ (#alice-drift, C0BOB); a workspace's messages go to one channel`,
		},
		"slack_owners_digest": {
			`12:14: reporters.slack.owners.alice: a channel has no effect with digest (one message per run, in channel); map "alice" to a mention`,
		},
		"slack_token_without_channel": {
			`7:5: reporters.slack: missing required field "channel" (a bot token needs a channel)`,
		},
		"slack_webhook_with_channel": {
			`8:5: reporters.slack.channel: has no effect with a webhook URL (the webhook posts to its own channel); remove it or use a bot token`,
			`9:14: reporters.slack.api_url: expected an http(s) URL, got "not a url"`,
			`10:13: reporters.slack.digest: expected true or false, got "yes"`,
		},
		"syntax": {
			`4: invalid YAML: did not find expected ',' or ']'`,
		},
		"tabs": {
			`4: invalid YAML: found a tab character that violates indentation (tabs are not allowed in indentation; use spaces)`,
		},
		"two_documents": {
			`5:1: a second YAML document: the configuration must be a single document`,
		},
		"two_secret_sources": {
			`9:5: reporters.github.token_file: set only one of token_env and token_file`,
		},
		"unknown_defaults": {
			`3:3: defaults.timout: unknown field (did you mean "timeout"?)`,
		},
		"unknown_github": {
			`9:5: reporters.github.label: unknown field (did you mean "labels"?)`,
		},
		"unknown_ignore": {
			`6:9: workspaces[0].ignore[0].adress: unknown field (did you mean "address"?)`,
		},
		"unknown_notify": {
			`7:22: reporters.slack.webhook_url_env: environment variable HOOK is not set`,
			`9:7: reporters.slack.notify.resolve: unknown field (did you mean "resolved"?)`,
		},
		"unknown_top": {
			`5:1: reporter: unknown field (did you mean "reporters"?)`,
		},
		"unknown_webhook": {
			`8:7: reporters.webhooks[0].header: unknown field (did you mean "headers"?)`,
		},
		"unknown_workspace": {
			`5:5: workspaces[0].refresh-only: unknown field (did you mean "refresh_only"?)`,
			`6:5: workspaces[0].scheduel: unknown field (did you mean "schedule"?)`,
		},
		"unset_var": {
			`4:10: workspaces[0].dir: environment variable WORKSPACES_ROOT is not set`,
			`8:16: workspaces[0].env.MISSING: environment variable UNSET_VAR is not set`,
			`9:15: workspaces[0].env.BROKEN: unterminated ${ (write $${ for a literal ${)`,
		},
		"var_file_missing": {
			`3:15: defaults.var_files[0]: var file "common.tfvars" does not exist in testdata`,
			`9:44: workspaces[1].var_files[1]: var file "other.tfvars" does not exist in testdata`,
		},
		"vars": {
			`7:16: workspaces[0].vars.nothing: null is not a value Terraform can take; leave the variable out instead`,
			`8:7: workspaces[0].vars["bad name"]: invalid variable name: use letters, digits, _ and -, starting with a letter or _`,
			`9:13: workspaces[0].vars.huge: infinity and NaN are not values Terraform can take`,
		},
		"version_2": {
			`1:10: version: unsupported version 2: this driftd reads version 1`,
		},
		"version_missing": {
			`1:1: version: missing; add "version: 1" at the top`,
		},
		"webhooks": {
			`8:12: reporters.webhooks[0].url: the value is not an http(s) URL`,
			`9:7: reporters.webhooks[0].secret: secrets cannot be written inline; use secret_env or secret_file`,
			`10:13: reporters.webhooks[1].name: duplicate webhook name "hook" (first at line 7)`,
			`11:7: reporters.webhooks[1].url: set only one of url, url_env and url_file`,
			`13:7: reporters.webhooks[2]: missing required field "url" (or url_env, url_file)`,
			`14:9: reporters.webhooks[2].headers["Bad Header"]: invalid HTTP header name`,
			`15:13: reporters.webhooks[3].name: "slack" is the Slack reporter's name; choose another`,
			`17:13: reporters.webhooks[4].name: "github" is the GitHub reporter's name; choose another`,
		},
		"workspaces_not_list": {
			`2:13: workspaces: expected a list, got "app"`,
		},
		"wrong_types": {
			`5:18: workspaces[0].parallelism: expected an integer, got "ten"`,
			`6:19: workspaces[0].refresh_only: expected true or false, got "yes"`,
			`7:24: workspaces[0].terraform_version: expected a string, got 1.5 (quote it to make it a string)`,
			`8:13: workspaces[0].owners: expected a list, got "alice"`,
			`10:10: workspaces[0].env.A: expected a string, got a list`,
		},
	}

	files, err := filepath.Glob("testdata/conf.*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "conf."), ".yml")
		if _, ok := tests[name]; !ok {
			t.Errorf("%s has no expected errors in the table", f)
		}
	}
	// Rows of the reliability table: errors that refuse an attack, counted
	// as the cases find them.
	attacks := []struct {
		msg string
		c   *reliability.Counter
	}{
		{"glob is 1025 bytes long", reliability.Times(t, "config", "ignore glob longer than 1024 bytes in a config file",
			"a config error naming file, line and field, never a panic")},
		{"the trigger token is shorter than 32 characters", reliability.Times(t, "HTTP server", "trigger token shorter than 32 characters",
			"a config error naming file, line and field: no daemon serves with it")},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := "testdata/conf." + name + ".yml"
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(file, data, testEnv)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors", err)
			}
			for i := range want {
				want[i] = file + ":" + want[i]
			}
			got := strings.ReplaceAll(err.Error(), abs, "testdata")
			if got != strings.Join(want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			if len(errs) != len(want) {
				t.Errorf("got %d errors, want %d", len(errs), len(want))
			}
			for _, e := range errs {
				for _, a := range attacks {
					if strings.Contains(e.Msg, a.msg) {
						a.c.Add(1)
					}
				}
			}
		})
	}
}

func TestErrorRendering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "w.yaml", Line: 3, Column: 5, Path: "defaults.timeout", Msg: "bad"}, "w.yaml:3:5: defaults.timeout: bad"},
		{Error{File: "w.yaml", Line: 4, Msg: "invalid YAML: x"}, "w.yaml:4: invalid YAML: x"},
		{Error{File: "w.yaml", Msg: "too many errors"}, "w.yaml: too many errors"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
