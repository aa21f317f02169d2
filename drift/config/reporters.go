package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	reporterFields = []string{"github", "slack", "webhooks"}
	githubFields   = []string{"repository", "base_url", "token_env", "token_file", "app", "labels", "assign_owners", "max_open_issues", "error_issues", "timeout"}
	appFields      = []string{"app_id", "installation_id", "private_key_env", "private_key_file"}
	slackFields    = []string{"webhook_url_env", "webhook_url_file", "token_env", "token_file", "channel", "api_url", "notify", "owners", "digest", "timeout"}
	webhookFields  = []string{"name", "url", "url_env", "url_file", "secret_env", "secret_file", "headers", "notify", "timeout"}
	notifyFields   = []string{"new", "changed", "resolved", "error"}

	repoRE        = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	webhookNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	headerNameRE  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

	// Slack owner targets: a user or user group mention, or a channel by
	// name or ID (reporters/slack.Target reads the same forms).
	slackMentionRE = regexp.MustCompile(`^(<@[UW][A-Z0-9]+>|<!subteam\^S[A-Z0-9]+>)$`)
	slackChannelRE = regexp.MustCompile(`^(#[a-z0-9][a-z0-9._-]*|[CG][A-Z0-9]+)$`)
)

func inline(base string) string {
	return fmt.Sprintf("secrets cannot be written inline; use %s_env or %s_file", base, base)
}

func (d *decoder) reporters(f field, wss []Workspace) Reporters {
	var r Reporters
	fs, ok := d.mapping(f.val, f.path, reporterFields, nil)
	if !ok {
		return r
	}
	if g, ok := fs["github"]; ok {
		r.GitHub = d.github(g)
	}
	if g, ok := fs["slack"]; ok {
		r.Slack = d.slack(g, wss)
	}
	if g, ok := fs["webhooks"]; ok {
		r.Webhooks = d.webhooks(g)
	}
	return r
}

func (d *decoder) github(f field) *GitHub {
	fs, ok := d.mapping(f.val, f.path, githubFields, map[string]string{"token": inline("token")})
	if !ok {
		return nil
	}
	g := &GitHub{Labels: []string{"drift"}, AssignOwners: true, MaxOpenIssues: DefaultMaxOpenIssues, Timeout: DefaultReporterTimeout}
	if r, ok := fs["repository"]; !ok {
		d.errorf(d.resolve(f.val), f.path, `missing required field "repository"`)
	} else if s, ok := d.str(r, false); ok {
		if !repoRE.MatchString(s) {
			d.errorf(r.val, r.path, `expected "owner/repo", got %q`, s)
		}
		g.Repository = s
	}
	if r, ok := fs["base_url"]; ok {
		if s, ok := d.str(r, true); ok {
			if !isHTTPURL(s) {
				d.errorf(r.val, r.path, "expected an http(s) URL, got %q", s)
			}
			g.BaseURL = s
		}
	}
	tok, hasToken := d.secret(fs, "token")
	g.Token = tok
	if a, ok := fs["app"]; ok {
		g.App = d.githubApp(a)
		if hasToken {
			d.errorf(a.key, a.path, "set either a token (token_env or token_file) or app, not both")
		}
	} else if !hasToken {
		d.errorf(d.resolve(f.val), f.path, "missing credentials: set token_env, token_file or app")
	}
	if r, ok := fs["labels"]; ok {
		if labels, _, ok := d.strList(r, false); ok {
			if len(labels) == 0 {
				d.errorf(r.val, r.path, "must not be empty: driftd finds its issues by label")
			}
			g.Labels = labels
		}
	}
	if r, ok := fs["assign_owners"]; ok {
		g.AssignOwners, _ = d.boolean(r)
	}
	if r, ok := fs["max_open_issues"]; ok {
		if v, ok := d.integer(r); ok {
			if v < 0 || v > 1<<31-1 {
				d.errorf(r.val, r.path, "must be 0 (unlimited) or more, got %d", v)
			}
			g.MaxOpenIssues = int(v)
		}
	}
	if r, ok := fs["error_issues"]; ok {
		g.ErrorIssues, _ = d.boolean(r)
	}
	g.Timeout = d.timeout(fs, g.Timeout)
	return g
}

func (d *decoder) githubApp(f field) *GitHubApp {
	fs, ok := d.mapping(f.val, f.path, appFields, map[string]string{"private_key": inline("private_key")})
	if !ok {
		return nil
	}
	a := &GitHubApp{}
	for _, id := range []struct {
		key string
		dst *int64
	}{{"app_id", &a.AppID}, {"installation_id", &a.InstallationID}} {
		r, ok := fs[id.key]
		if !ok {
			d.errorf(d.resolve(f.val), f.path, "missing required field %q", id.key)
			continue
		}
		if v, ok := d.integer(r); ok {
			if v <= 0 {
				d.errorf(r.val, r.path, "must be a positive integer, got %d", v)
			}
			*id.dst = v
		}
	}
	key, set := d.secret(fs, "private_key")
	if !set {
		d.errorf(d.resolve(f.val), f.path, "missing private key: set private_key_file or private_key_env")
	} else if key != "" {
		// Loose check: catches a wrong file (a certificate, a public key)
		// here rather than at the first delivery.
		s := key.Reveal()
		if !strings.Contains(s, "-----BEGIN") || !strings.Contains(s, "PRIVATE KEY-----") {
			r, ok := fs["private_key_file"]
			if !ok {
				r = fs["private_key_env"]
			}
			d.errorf(r.val, r.path, "does not look like a PEM private key")
		}
	}
	a.PrivateKey = key
	return a
}

func (d *decoder) slack(f field, wss []Workspace) *Slack {
	fs, ok := d.mapping(f.val, f.path, slackFields, map[string]string{
		"webhook_url": inline("webhook_url"),
		"token":       inline("token"),
	})
	if !ok {
		return nil
	}
	s := &Slack{Notify: defaultNotify(), Timeout: DefaultReporterTimeout}
	hook, hasHook := d.secret(fs, "webhook_url")
	if hook != "" && !isHTTPURL(hook.Reveal()) {
		r, ok := fs["webhook_url_file"]
		if !ok {
			r = fs["webhook_url_env"]
		}
		d.errorf(r.val, r.path, "the value is not an http(s) URL")
	}
	s.WebhookURL = hook
	tok, hasToken := d.secret(fs, "token")
	s.Token = tok
	switch {
	case hasHook && hasToken:
		d.errorf(d.resolve(f.val), f.path, "set either webhook_url_env/webhook_url_file or token_env/token_file, not both")
	case !hasHook && !hasToken:
		d.errorf(d.resolve(f.val), f.path, "missing credentials: set webhook_url_env, webhook_url_file, token_env or token_file")
	}
	c, hasChannel := fs["channel"]
	channelOK := false
	if hasChannel {
		s.Channel, channelOK = d.str(c, true)
		if hasHook && !hasToken {
			d.errorf(c.key, c.path, "has no effect with a webhook URL (the webhook posts to its own channel); remove it or use a bot token")
		}
	} else if hasToken && !hasHook {
		d.errorf(d.resolve(f.val), f.path, `missing required field "channel" (a bot token needs a channel)`)
	}
	if channelOK && s.Channel == "" {
		d.errorf(c.val, c.path, "must not be empty")
	}
	if r, ok := fs["api_url"]; ok {
		if u, ok := d.str(r, true); ok {
			if !isHTTPURL(u) {
				d.errorf(r.val, r.path, "expected an http(s) URL, got %q", u)
			}
			s.APIURL = u
		}
	}
	if r, ok := fs["notify"]; ok {
		s.Notify = d.notify(r)
	}
	if r, ok := fs["digest"]; ok {
		s.Digest, _ = d.boolean(r)
	}
	if r, ok := fs["owners"]; ok {
		s.Owners = d.slackOwners(r, s, wss)
	}
	s.Timeout = d.timeout(fs, s.Timeout)
	return s
}

// slackOwners reads slack.owners: owner -> mention or channel. An entry
// that cannot take effect is an error: an owner no workspace has (a typo
// would silently mention nobody), a channel where messages cannot be
// routed (webhook, digest), or owners of one workspace mapped to different
// channels (its messages go to one).
func (d *decoder) slackOwners(f field, s *Slack, wss []Workspace) map[string]string {
	pairs, ok := d.pairs(f.val, f.path)
	if !ok {
		return nil
	}
	owned := map[string]bool{}
	for _, w := range wss {
		for _, o := range w.Owners {
			owned[o] = true
		}
	}
	out := make(map[string]string, len(pairs))
	nodes := map[string]field{}
	for _, p := range pairs {
		owner := strings.TrimPrefix(p.key.Value, "@")
		v, ok := d.str(p, false)
		switch {
		case !ok:
			continue
		case !owned[owner]:
			d.errorf(p.key, p.path, "no workspace has owner %q; list it in a workspace's owners or remove it", owner)
			continue
		case slackMentionRE.MatchString(v):
		case !slackChannelRE.MatchString(v):
			d.errorf(d.resolve(p.val), p.path, `expected a Slack mention ("<@U…>", "<!subteam^S…>") or channel ("#name", "C…"), got %q`, v)
			continue
		case s.WebhookURL != "":
			d.errorf(d.resolve(p.val), p.path, "a channel has no effect with a webhook URL (it posts to its own channel); use a bot token or map %q to a mention", owner)
			continue
		case s.Digest:
			d.errorf(d.resolve(p.val), p.path, "a channel has no effect with digest (one message per run, in channel); map %q to a mention", owner)
			continue
		}
		out[owner] = v
		nodes[owner] = p
	}
	for _, w := range wss {
		var first string
		for _, o := range w.Owners {
			v := out[o]
			if !slackChannelRE.MatchString(v) {
				continue
			}
			if first == "" {
				first = o
				continue
			}
			if v != out[first] {
				p := nodes[o]
				d.errorf(d.resolve(p.val), p.path, "workspace %q is owned by %s and %s, whose channels differ (%s, %s); a workspace's messages go to one channel", w.Name, first, o, out[first], v)
			}
		}
	}
	return out
}

// reservedReporterNames are the names of the reporters that are not
// webhooks, with what the error calls them.
var reservedReporterNames = map[string]string{"github": "GitHub", "slack": "Slack"}

func (d *decoder) webhooks(f field) []Webhook {
	items, ok := d.seq(f)
	if !ok {
		return nil
	}
	var out []Webhook
	firstName := map[string]int{}
	for i, it := range items {
		fs, ok := d.mapping(it.val, it.path, webhookFields, map[string]string{"secret": inline("secret")})
		if !ok {
			continue
		}
		w := Webhook{Name: fmt.Sprintf("webhook[%d]", i), Notify: defaultNotify(), Timeout: DefaultReporterTimeout}
		if r, ok := fs["name"]; ok {
			if s, ok := d.str(r, false); ok {
				if !webhookNameRE.MatchString(s) {
					d.errorf(r.val, r.path, `invalid name %q: use letters, digits, ".", "_" and "-"`, s)
				} else if other, ok := reservedReporterNames[s]; ok {
					// A reporter's name keys its bookkeeping and metrics.
					d.errorf(r.val, r.path, "%q is the %s reporter's name; choose another", s, other)
				} else if line, dup := firstName[s]; dup {
					d.errorf(r.val, r.path, "duplicate webhook name %q (first at line %d)", s, line)
				} else {
					firstName[s] = r.val.Line
				}
				w.Name = s
			}
		}
		w.URL = d.webhookURL(it, fs)
		w.Secret, _ = d.secret(fs, "secret")
		if r, ok := fs["headers"]; ok {
			w.Headers = d.stringMap(r, nil, nil, func(k string) string {
				if !headerNameRE.MatchString(k) {
					return "invalid HTTP header name"
				}
				return ""
			})
			for k, v := range w.Headers {
				if strings.ContainsAny(v, "\r\n") {
					d.errorf(d.resolve(r.val), join(r.path, k), "header values must not contain line breaks")
				}
			}
		}
		if r, ok := fs["notify"]; ok {
			w.Notify = d.notify(r)
		}
		w.Timeout = d.timeout(fs, w.Timeout)
		out = append(out, w)
	}
	return out
}

// webhookURL reads url, url_env or url_file; exactly one must be set. The
// URL is never shown: it often embeds a token.
func (d *decoder) webhookURL(it field, fs map[string]field) Secret {
	var v Secret
	r, hasInline := fs["url"]
	if hasInline {
		if n := d.resolve(r.val); n != nil {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
				d.errorf(n, r.path, "expected a string, got %s", kind(n))
			} else if s, ok := d.expand(n, r.path, n.Value); ok {
				v = Secret(s)
				// The URL is a secret, so are the variables it is made of.
				d.secretEnv = append(d.secretEnv, envRefs(n.Value)...)
			}
		}
	}
	sv, hasOther := d.secret(fs, "url")
	switch {
	case hasInline && hasOther:
		d.errorf(r.key, r.path, "set only one of url, url_env and url_file")
		return ""
	case !hasInline && !hasOther:
		d.errorf(d.resolve(it.val), it.path, `missing required field "url" (or url_env, url_file)`)
		return ""
	case hasOther:
		v = sv
		var ok bool
		if r, ok = fs["url_file"]; !ok {
			r = fs["url_env"]
		}
	}
	if v != "" && !isHTTPURL(v.Reveal()) {
		d.errorf(r.val, r.path, "the value is not an http(s) URL")
	}
	return v
}

func (d *decoder) notify(f field) Notify {
	n := defaultNotify()
	fs, ok := d.mapping(f.val, f.path, notifyFields, nil)
	if !ok {
		return n
	}
	for key, dst := range map[string]*bool{"new": &n.New, "changed": &n.Changed, "resolved": &n.Resolved, "error": &n.Error} {
		if r, ok := fs[key]; ok {
			if b, ok := d.boolean(r); ok {
				*dst = b
			}
		}
	}
	return n
}

func (d *decoder) timeout(fs map[string]field, def time.Duration) time.Duration {
	r, ok := fs["timeout"]
	if !ok {
		return def
	}
	v, ok := d.duration(r)
	if !ok {
		return def
	}
	if v <= 0 {
		d.errorf(r.val, r.path, "must be positive, got %s", describe(r.val))
	}
	return v
}

// secret reads the secret base from base_env (an environment variable's
// name) or base_file (a path relative to the config file). set says whether
// either was given. Errors name the field, the variable or the file, never
// the value.
func (d *decoder) secret(fs map[string]field, base string) (Secret, bool) {
	fe, hasEnv := fs[base+"_env"]
	ff, hasFile := fs[base+"_file"]
	if f, ok := fs[base]; ok && f.rejected {
		return "", true // written inline: reported, and counts as given
	}
	switch {
	case hasEnv && hasFile:
		d.errorf(ff.key, ff.path, "set only one of %s_env and %s_file", base, base)
		return "", true
	case hasEnv:
		name, ok := d.str(fe, false)
		if !ok {
			return "", true
		}
		if !envNameRE.MatchString(name) {
			d.errorf(fe.val, fe.path, "invalid environment variable name %q", name)
			return "", true
		}
		d.secretEnv = append(d.secretEnv, name)
		v, ok := d.env(name)
		switch v = strings.TrimSpace(v); {
		case d.offline && v == "":
			return "", true
		case !ok:
			d.errorf(fe.val, fe.path, "environment variable %s is not set", name)
			return "", true
		case v == "":
			d.errorf(fe.val, fe.path, "environment variable %s is empty", name)
			return "", true
		}
		return Secret(v), true
	case hasFile:
		p, ok := d.str(ff, false)
		if !ok {
			return "", true
		}
		if p == "" {
			d.errorf(ff.val, ff.path, "must not be empty")
			return "", true
		}
		if d.offline {
			return "", true
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(d.baseDir, p)
		}
		b, err := readSecretFile(p)
		if err != nil {
			d.errorf(ff.val, ff.path, "cannot read secret file: %v", err)
			return "", true
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			d.errorf(ff.val, ff.path, "secret file %s is empty", p)
			return "", true
		}
		return Secret(v), true
	}
	return "", false
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// maxSecretFile bounds what a *_file key reads; PEM keys are a few KiB.
const maxSecretFile = 64 << 10

// readSecretFile reads a secret file of at most maxSecretFile bytes.
func readSecretFile(p string) ([]byte, error) {
	b, err := readFile(p, maxSecretFile)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("%s is larger than %d KiB", p, maxSecretFile>>10)
	}
	return b, err
}

var errTooLarge = errors.New("file too large")

// readFile reads a regular file (symlinks followed, as Kubernetes mounts
// secrets and config maps) of at most max bytes, so that a mistaken
// /dev/stdin, FIFO or /dev/zero cannot hang or exhaust driftd.
func readFile(p string, max int64) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading waits for a writer, with no
	// way for a signal to stop it; non-blocking, the open returns at once
	// and the file is refused below. Regular files ignore the flag.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	if fi.Size() > max {
		return nil, errTooLarge
	}
	// The file may grow after Stat.
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		return nil, errTooLarge
	}
	return b, err
}
