// Package config reads driftd's workspaces file: which Terraform workspaces
// to scan, how and when, and where to report drift.
//
// Decoding walks yaml.v3 nodes by hand rather than unmarshalling into
// structs: that keeps unknown keys and wrong types errors at every depth and
// gives each error a line, a column and a field path. All errors are
// collected and returned together as Errors.
package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/driftd/driftd/drift"
)

// Defaults applied when neither the workspace nor the defaults section sets
// a value.
const (
	DefaultTimeout         = 15 * time.Minute
	DefaultParallelism     = 10
	DefaultSchedule        = "@daily"
	DefaultReporterTimeout = 30 * time.Second
	DefaultMaxOpenIssues   = 50
)

// Config is a parsed, validated workspaces file.
type Config struct {
	// Path is the file name the configuration was read from, as given.
	Path string
	// Workspaces have the defaults section merged in, in file order.
	Workspaces []Workspace
	Reporters  Reporters
	// Server holds the daemon's settings, defaults filled in.
	Server Server
	// Warnings are things allowed but most likely not meant, such as an
	// ignore rule that can never match; in file order.
	Warnings Errors

	secretEnv []string
}

// Workspace is one Terraform root module to scan.
type Workspace struct {
	// Name matches [a-z0-9][a-z0-9._-]* and is unique in the file.
	Name string
	// Dir is absolute; relative paths in the file are resolved against the
	// config file's directory. It is "" when Git is set.
	Dir string
	// Git, when set, is where the code comes from instead of Dir.
	Git *GitSource
	// Tool is the CLI that plans: ToolTerraform (the default) or ToolTofu.
	Tool string
	// Binary is the executable to run, an absolute path; "" looks for Tool
	// on PATH and in the install cache.
	Binary string
	// TerraformVersion is a version constraint ("~> 1.5") on Tool's
	// version; "" means any found.
	TerraformVersion string
	// TerraformWorkspace is the Terraform workspace to plan (`terraform
	// workspace select`); "" is the default workspace.
	TerraformWorkspace string
	// VarFiles are relative to Dir (or to Git.Path in the checkout), as
	// terraform takes them. With Git they are not checked at load time.
	VarFiles []string
	// Vars are -var values. Non-string YAML values (lists, maps, numbers,
	// bools) are JSON-encoded, which Terraform parses as HCL.
	Vars map[string]string
	// BackendConfig becomes -backend-config=key=value.
	BackendConfig map[string]string
	// Env is extra environment for terraform.
	Env map[string]string
	// PassEnv lists names or globs (AWS_*) of driftd's own environment
	// passed through to terraform.
	PassEnv []string
	Timeout time.Duration
	// RefreshOnly plans with -refresh-only.
	RefreshOnly bool
	// Lock takes the state lock; by default driftd plans with -lock=false.
	Lock bool
	// LockTimeout is only meaningful with Lock.
	LockTimeout time.Duration
	Parallelism int
	// PluginTLS keeps Terraform's mutual TLS to its providers, which driftd
	// otherwise turns off where the plugin socket is private to its user.
	PluginTLS bool
	Ignore    []drift.IgnoreRule
	// Owners are GitHub logins or org/team slugs, without a leading "@".
	Owners []string
	// Schedule is a cron expression (5 fields, @daily-style descriptors,
	// optional CRON_TZ=Zone prefix).
	Schedule string
	// SLO is the workspace's drift objectives; nil for none.
	SLO *SLO
}

// Reporters says where reports go. Absent reporters are nil or empty.
type Reporters struct {
	GitHub   *GitHub
	Slack    *Slack
	Webhooks []Webhook
}

// GitHub reports drift as issues in one repository.
type GitHub struct {
	// Repository is "owner/repo".
	Repository string
	// BaseURL is a GitHub Enterprise API URL; "" means github.com.
	BaseURL string
	// Exactly one of Token and App is set.
	Token         Secret
	App           *GitHubApp
	Labels        []string
	AssignOwners  bool
	MaxOpenIssues int // 0 means unlimited
	// ErrorIssues opens an issue for a workspace whose scan fails.
	ErrorIssues bool
	Timeout     time.Duration
}

// GitHubApp authenticates as a GitHub App installation.
type GitHubApp struct {
	AppID          int64
	InstallationID int64
	// PrivateKey is PEM-encoded.
	PrivateKey Secret
}

// Slack posts reports to a channel, either through an incoming webhook or
// with a bot token.
type Slack struct {
	// Exactly one of WebhookURL and Token is set.
	WebhookURL Secret
	Token      Secret
	// Channel is required with Token and not allowed with WebhookURL (an
	// incoming webhook posts to the channel it was made for).
	Channel string
	// APIURL overrides https://slack.com/api/ (tests, proxies).
	APIURL string
	Notify Notify
	// Owners maps workspace owners to a Slack mention ("<@U123>",
	// "<!subteam^S123>") or, with a token and without digest, a channel
	// ("#team-drift", "C0123") for their workspaces' messages.
	Owners map[string]string
	// Digest sends one message per scan run instead of one per workspace.
	Digest  bool
	Timeout time.Duration
}

// Notify selects the transitions a reporter is told about.
type Notify struct {
	New, Changed, Resolved, Error bool
}

// Webhook POSTs reports as JSON to a URL.
type Webhook struct {
	// Name defaults to "webhook[i]".
	Name string
	// URL is a Secret because URLs often embed tokens.
	URL Secret
	// Secret, when set, is the HMAC key for signing deliveries.
	Secret  Secret
	Headers map[string]string
	Notify  Notify
	Timeout time.Duration
}

// Options say how to read a configuration file.
type Options struct {
	// Env looks up environment variables for ${NAME} references and *_env
	// secrets; nil means an empty environment.
	Env func(string) (string, bool)
	// Offline checks a file away from where it runs (a pull request's CI):
	// an unset environment variable is not an error, secret files are not
	// read and ssh key files not looked for; everything else is checked as
	// usual, secret references included. The Config is for checking only:
	// its secrets, and values made from unset variables, are empty.
	Offline bool
}

// Load reads and parses the configuration file at path, taking ${VAR} and
// *_env values from the process environment.
func Load(path string) (*Config, error) {
	return LoadContext(context.Background(), path, Options{Env: os.LookupEnv})
}

// LoadContext reads and parses the configuration file at path. It stops
// early, with ctx's error, when ctx is done. A file larger than
// MaxFileSize is an error.
func LoadContext(ctx context.Context, path string, opts Options) (*Config, error) {
	data, err := readFile(path, MaxFileSize)
	if errors.Is(err, errTooLarge) {
		return nil, Errors{tooLarge(path)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseContext(ctx, path, data, opts)
}

func tooLarge(file string) *Error {
	return &Error{File: file, Msg: fmt.Sprintf("the file is larger than %d MiB, the most a configuration may be", MaxFileSize>>20)}
}

// Parse parses a configuration file's content. filename is used in error
// messages and to resolve relative paths; env looks up environment
// variables (nil means an empty environment). On failure the error is
// Errors.
func Parse(filename string, data []byte, env func(string) (string, bool)) (*Config, error) {
	return ParseContext(context.Background(), filename, data, Options{Env: env})
}

// ParseContext is Parse with options, stopping early when ctx is done: the
// error is then ctx's, not Errors.
func ParseContext(ctx context.Context, filename string, data []byte, opts Options) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{tooLarge(filename)}
	}
	base, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, fmt.Errorf("resolving config directory: %w", err)
	}
	d := newDecoder(ctx, filename, base, data, opts)
	cfg := d.parse(data)
	if err := d.interrupted(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filename, err)
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	cfg.Path = filename
	d.warns.sort()
	cfg.Warnings = d.warns
	return cfg, nil
}

// SecretEnv returns the names of the environment variables the
// configuration read secrets from (every *_env key, and ${VAR} references in
// webhook URLs), sorted. Terraform must never see them.
func (c *Config) SecretEnv() []string {
	return slices.Clone(c.secretEnv)
}

// Select returns the named workspaces in file order, or all of them when
// names is empty. Unknown names are an error that lists the known ones.
func (c *Config) Select(names []string) ([]Workspace, error) {
	if len(names) == 0 {
		return slices.Clone(c.Workspaces), nil
	}
	known := make(map[string]bool, len(c.Workspaces))
	for _, w := range c.Workspaces {
		known[w.Name] = true
	}
	want := make(map[string]bool, len(names))
	var unknown []string
	for _, n := range names {
		if !known[n] {
			unknown = append(unknown, fmt.Sprintf("%q", n))
			continue
		}
		want[n] = true
	}
	if len(unknown) > 0 {
		all := make([]string, 0, len(c.Workspaces))
		for _, w := range c.Workspaces {
			all = append(all, w.Name)
		}
		noun := "workspace"
		if len(unknown) > 1 {
			noun = "workspaces"
		}
		return nil, fmt.Errorf("unknown %s %s (known: %s)", noun, strings.Join(unknown, ", "), strings.Join(all, ", "))
	}
	var out []Workspace
	for _, w := range c.Workspaces {
		if want[w.Name] {
			out = append(out, w)
		}
	}
	return out, nil
}

// Check returns a Workspace for `driftd check DIR`: dir with every default,
// named after its base name made valid (see CheckName). It does not look
// at the file system.
func Check(dir string) Workspace {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	w := builtinDefaults()
	w.Name = CheckName(filepath.Base(dir))
	w.Dir = dir
	return w
}

// CheckName makes a valid workspace name of s: lowercase, each run of
// characters a name cannot hold replaced by "-", trimmed of what a name
// cannot start or end with, at most 128 bytes; "workspace" when nothing is
// left.
func CheckName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name := b.String()
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	name = strings.TrimRight(strings.TrimLeft(name, "._-"), "._-")
	if name == "" {
		return "workspace"
	}
	return name
}

func builtinDefaults() Workspace {
	return Workspace{
		Tool:        ToolTerraform,
		Timeout:     DefaultTimeout,
		Parallelism: DefaultParallelism,
		Schedule:    DefaultSchedule,
	}
}

func defaultNotify() Notify { return Notify{New: true, Changed: true, Resolved: true, Error: true} }
