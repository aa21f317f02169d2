package gitsource

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

type transport int

const (
	transportLocal transport = iota // file:// or a path
	transportHTTP                   // http:// and https://
	transportSSH                    // ssh:// and scp-like user@host:path
	transportGit                    // git:// (no auth)
)

// remote is a parsed Source.URL.
type remote struct {
	url       string // what git fetches: the URL as given, a local path made absolute
	transport transport
	origin    string // scheme://host[:port]/ for HTTP, to scope the token to that host
}

// parseRemote accepts the URL forms git documents except transport helpers
// (<transport>::<address>, e.g. ext::), which run arbitrary commands.
func parseRemote(raw string) (remote, error) {
	red := newRedactor("")
	switch {
	case raw == "":
		return remote{}, errors.New("git source: url is empty")
	case strings.HasPrefix(raw, "-"), strings.ContainsAny(raw, "\x00\r\n"):
		return remote{}, fmt.Errorf("git source %q: invalid url", red.redact(raw))
	}
	if i := strings.Index(raw, "://"); i > 0 {
		u, err := url.Parse(raw)
		if err != nil {
			// url.Parse's error repeats the URL unredacted.
			return remote{}, fmt.Errorf("git source %s: invalid url", red.redact(raw))
		}
		r := remote{url: raw}
		switch strings.ToLower(u.Scheme) {
		case "https", "http":
			r.transport = transportHTTP
			r.origin = strings.ToLower(u.Scheme) + "://" + u.Host + "/"
		case "ssh", "git+ssh", "ssh+git":
			r.transport = transportSSH
		case "git":
			r.transport = transportGit
		case "file":
			r.transport = transportLocal
		default:
			return remote{}, fmt.Errorf("git source %s: unsupported scheme %q", red.redact(raw), u.Scheme)
		}
		return r, nil
	}
	if strings.Contains(raw, "::") {
		return remote{}, fmt.Errorf("git source %s: transport helpers (<transport>::<address>) are not supported", red.redact(raw))
	}
	// git's rule: a colon before any slash makes it scp-like ssh.
	if colon := strings.Index(raw, ":"); colon > 0 {
		if slash := strings.Index(raw, "/"); slash < 0 || colon < slash {
			return remote{url: raw, transport: transportSSH}, nil
		}
	}
	abs, err := filepath.Abs(raw)
	if err != nil {
		return remote{}, fmt.Errorf("git source %s: %w", raw, err)
	}
	return remote{url: abs, transport: transportLocal}, nil
}

// checkAuth refuses credentials the transport would silently ignore, so a
// misconfigured workspace fails clearly instead of fetching anonymously.
func (r remote) checkAuth(a Auth) error {
	if a.Token != "" && r.transport != transportHTTP {
		return errors.New("a token applies to http(s) URLs only")
	}
	if a.SSHKeyFile != "" {
		if r.transport != transportSSH {
			return errors.New("an ssh key file applies to ssh URLs only")
		}
		if _, err := os.Stat(a.SSHKeyFile); err != nil {
			return fmt.Errorf("ssh key file: %w", err)
		}
	}
	return nil
}

// env is the complete environment of a git command: nothing inherited but
// PATH, no system or user configuration, no prompts, and the credentials of
// this source alone. Configuration goes through GIT_CONFIG_* so that no
// secret is ever in argv or on disk.
func (m *Mirrors) env(r remote, a Auth) []string {
	env := []string{
		"PATH=" + m.path,
		"HOME=" + m.home,
		"XDG_CONFIG_HOME=" + filepath.Join(m.home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		"LANG=C",
		"GIT_SSH_COMMAND=" + m.sshCommand(a.SSHKeyFile),
	}
	cfg := [][2]string{
		{"credential.helper", ""},
		// A detached auto-gc would outlive the mirror lock.
		{"gc.autoDetach", "false"},
	}
	if a.Token != "" && r.origin != "" {
		// Scoped to the source's origin: a redirect to another host does not
		// get the header.
		cfg = append(cfg, [2]string{"http." + r.origin + ".extraHeader", authHeader(a.Token)})
	}
	env = append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(cfg)))
	for i, kv := range cfg {
		n := strconv.Itoa(i)
		env = append(env, "GIT_CONFIG_KEY_"+n+"="+kv[0], "GIT_CONFIG_VALUE_"+n+"="+kv[1])
	}
	return env
}

func authHeader(token string) string {
	return "Authorization: Basic " + basicCredentials(token)
}

func basicCredentials(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
}

// sshCommand never prompts (BatchMode), trusts a host on first contact and
// pins its key in driftd's own known_hosts afterwards.
func (m *Mirrors) sshCommand(keyFile string) string {
	var b strings.Builder
	b.WriteString("ssh")
	if keyFile != "" {
		b.WriteString(" -i " + shellQuote(keyFile) + " -o IdentitiesOnly=yes")
	}
	b.WriteString(" -o BatchMode=yes -o StrictHostKeyChecking=accept-new")
	b.WriteString(" -o UserKnownHostsFile=" + shellQuote(filepath.Join(m.dir, "ssh", "known_hosts")))
	return b.String()
}

// shellQuote quotes s for sh, which runs GIT_SSH_COMMAND.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// userinfo matches the user[:password]@ part of URLs in git's messages.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'"]*@`)

// redactor removes a source's secrets from text bound for errors and logs.
type redactor struct{ secrets []string }

func newRedactor(token string) *redactor {
	r := &redactor{}
	if token != "" {
		r.secrets = []string{basicCredentials(token), token}
	}
	return r
}

func (r *redactor) redact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return userinfo.ReplaceAllString(s, "${1}***@")
}
