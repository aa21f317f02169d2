package workdir

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// allowEnv lists (as globs) what a scan inherits from driftd's environment
// without asking: what Terraform and its providers need to find binaries,
// certificates, proxies, the operator's CLI configuration and registry
// credentials (TF_TOKEN_*), and nothing else.
var allowEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_*", "TZ", "TMPDIR",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"TF_CLI_CONFIG_FILE", "TF_TOKEN_*",
}

// defaultDenyEnv is always denied, on top of Options.DenyEnv: common names
// for the tokens driftd itself uses, and driftd's own settings.
var defaultDenyEnv = []string{"GITHUB_TOKEN", "GH_TOKEN", "SLACK_*", "DRIFTD_*"}

var (
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
)

// buildEnv returns the scan's environment, sorted. Order of precedence, last
// wins: the allow-list and PassEnv (from opts.Environ), spec.Env, spec.Vars
// as TF_VAR_*; then the deny list removes names whatever their source; then
// driftd's own settings are added.
func buildEnv(spec Spec, opts Options, d *Dir) ([]string, error) {
	for _, g := range spec.PassEnv {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("pass_env %q: %w", g, err)
		}
	}
	deny := append(append([]string(nil), defaultDenyEnv...), opts.DenyEnv...)
	for _, g := range deny {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("deny env %q: %w", g, err)
		}
	}

	env := map[string]string{}
	for _, kv := range opts.environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if matchAny(allowEnv, k) || matchAny(spec.PassEnv, k) {
			env[k] = v
		}
	}
	if f := env["TF_CLI_CONFIG_FILE"]; f != "" && !filepath.IsAbs(f) {
		// The scan runs in another directory; keep pointing at the same file.
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, fmt.Errorf("TF_CLI_CONFIG_FILE: %w", err)
		}
		env["TF_CLI_CONFIG_FILE"] = abs
	}
	for k, v := range spec.Env {
		if !envNameRE.MatchString(k) {
			return nil, fmt.Errorf("env: invalid variable name %q", k)
		}
		env[k] = v
	}
	for k, v := range spec.Vars {
		if !varNameRE.MatchString(k) {
			return nil, fmt.Errorf("vars: invalid variable name %q", k)
		}
		env["TF_VAR_"+k] = v
	}
	for k := range env {
		if matchAny(deny, k) {
			delete(env, k)
		}
	}

	env["TF_DATA_DIR"] = d.DataDir
	env["TF_IN_AUTOMATION"] = "1"
	env["TF_INPUT"] = "0"
	env["CHECKPOINT_DISABLE"] = "1"
	if opts.PluginCacheDir != "" {
		env["TF_PLUGIN_CACHE_DIR"] = opts.PluginCacheDir
	}
	env[ScanIDEnv] = d.ScanID

	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// matchAny reports whether name matches one of the globs. Patterns were
// validated before use.
func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
