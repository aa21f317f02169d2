package config

import (
	"fmt"
	"strings"
)

// reservedEnv are the variables a workspace's env and pass_env cannot set,
// because driftd sets them itself or drops them (terraform-exec refuses
// them), with why.
var reservedEnv = map[string]string{
	"TF_WORKSPACE":            "driftd does not pass TF_WORKSPACE to terraform; select a Terraform workspace with the workspace key",
	"TF_DATA_DIR":             "driftd sets TF_DATA_DIR itself (a data dir per workspace)",
	"TF_INPUT":                "driftd sets TF_INPUT itself (scans never ask for input)",
	"TF_IN_AUTOMATION":        "driftd sets TF_IN_AUTOMATION itself (scans never ask for input)",
	"TF_LOG":                  "driftd does not pass TF_LOG to terraform (its log would mix with the diagnostics driftd reads)",
	"TF_LOG_CORE":             "driftd does not pass TF_LOG_CORE to terraform (its log would mix with the diagnostics driftd reads)",
	"TF_LOG_PATH":             "driftd does not pass TF_LOG_PATH to terraform (its log would mix with the diagnostics driftd reads)",
	"TF_LOG_PROVIDER":         "driftd does not pass TF_LOG_PROVIDER to terraform (its log would mix with the diagnostics driftd reads)",
	"TF_REATTACH_PROVIDERS":   "driftd does not pass TF_REATTACH_PROVIDERS to terraform",
	"TF_APPEND_USER_AGENT":    "driftd does not pass TF_APPEND_USER_AGENT to terraform",
	"TF_SKIP_PROVIDER_VERIFY": "driftd does not pass TF_SKIP_PROVIDER_VERIFY to terraform",
	"TF_DISABLE_PLUGIN_TLS":   "driftd does not pass TF_DISABLE_PLUGIN_TLS to terraform; use the plugin_tls key",
	"TF_PLUGIN_CACHE_DIR":     "driftd sets TF_PLUGIN_CACHE_DIR itself (one plugin cache for every workspace, under --cache-dir)",
	"TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "driftd sets TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE itself (its plugin cache is shared)",
	"CHECKPOINT_DISABLE":                             "driftd sets CHECKPOINT_DISABLE=1 itself",
	"GITHUB_TOKEN":                                   "driftd never passes GITHUB_TOKEN to terraform (the name of its own token); give terraform the value under another name",
	"GH_TOKEN":                                       "driftd never passes GH_TOKEN to terraform (the name of its own token); give terraform the value under another name",
}

// reservedPrefixes are reservedEnv for whole families of names.
var reservedPrefixes = []struct{ prefix, msg string }{
	{"TF_CLI_ARGS", "driftd does not pass %s to terraform; use the workspace's keys (vars, var_files, backend_config, lock, parallelism, refresh_only)"},
	{"SLACK_", "driftd never passes %s to terraform (SLACK_* are the names of its own tokens); give terraform the value under another name"},
	{"DRIFTD_", "driftd never passes %s to terraform (DRIFTD_* are its own settings)"},
}

// ReservedEnv says why a workspace's env or pass_env cannot set the
// environment variable name: driftd sets it itself, or drops it, for
// every scan. It is "" for a name a workspace may set.
func ReservedEnv(name string) string {
	if msg, ok := reservedEnv[name]; ok {
		return msg
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return fmt.Sprintf(p.msg, name)
		}
	}
	return ""
}

// checkEnv reports, once secrets are read, what a workspace's env and
// pass_env would set that driftd drops: a variable a secret is read from,
// and a TF_VAR_ that vars overrides.
func (d *decoder) checkEnv(st *wsState, secret map[string]bool) {
	for name, f := range st.envKeys {
		if secret[name] {
			d.errorf(f.key, f.path, "driftd never passes %s to terraform: a secret of this file is read from it; give terraform the value under another name", name)
		}
		if v, ok := strings.CutPrefix(name, "TF_VAR_"); ok {
			if _, set := st.w.Vars[v]; set {
				d.errorf(f.key, f.path, "vars.%s sets the same Terraform variable, and wins; set it in one place", v)
			}
		}
	}
	for _, f := range st.passEnv {
		if name, _ := d.str(f, false); secret[name] {
			d.errorf(f.val, f.path, "driftd never passes %s to terraform: a secret of this file is read from it", name)
		}
	}
}
