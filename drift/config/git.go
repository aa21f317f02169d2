package config

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

var gitFields = []string{"url", "ref", "path", "token_env", "token_file", "ssh_key_file"}

// GitSource is a workspace's code in a git repository. It maps one to one
// onto gitsource.Source: Token and SSHKeyFile are its Auth.
type GitSource struct {
	// URL is https://, http://, ssh://, file:// or scp-like git@host:path.
	// It never embeds a password.
	URL string
	// Ref is a branch, tag or commit; "" means the remote's HEAD.
	Ref string
	// Path is the Terraform root module's directory inside the repository,
	// slash-separated and cleaned; "" means the repository root.
	Path string
	// Token authenticates http(s) URLs.
	Token Secret
	// SSHKeyFile is an absolute path to the private key for ssh URLs.
	SSHKeyFile string
}

// gitKind is the transport a git URL uses, as far as credentials care.
type gitKind int

const (
	gitInvalid gitKind = iota
	gitHTTP
	gitSSH
	gitFile
)

func (d *decoder) gitSource(f field) *GitSource {
	fs, ok := d.mapping(f.val, f.path, gitFields, map[string]string{"token": inline("token")})
	if !ok {
		return nil
	}
	g := &GitSource{}
	kind := gitInvalid
	u, hasURL := fs["url"]
	if !hasURL {
		d.errorf(d.resolve(f.val), f.path, `missing required field "url"`)
	} else if s, ok := d.str(u, true); ok {
		var msg string
		kind, msg = gitURL(s)
		if msg != "" {
			d.errorf(u.val, u.path, "%s", msg)
		}
		g.URL = s
	}
	if r, ok := fs["ref"]; ok {
		if s, ok := d.str(r, true); ok {
			switch {
			case s == "":
				d.errorf(r.val, r.path, "must not be empty; leave ref out to scan the remote's default branch")
			case strings.HasPrefix(s, "-") || strings.ContainsAny(s, " \t\r\n:\x00"):
				// gitsource refuses these too: they would read as options
				// or refspecs.
				d.errorf(r.val, r.path, "invalid ref %q: want a branch, tag or commit", s)
			}
			g.Ref = s
		}
	}
	if r, ok := fs["path"]; ok {
		if s, ok := d.str(r, true); ok {
			g.Path = d.repoPath(r, s)
		}
	}
	tok, hasToken := d.secret(fs, "token")
	g.Token = tok
	if hasToken && hasURL && kind != gitHTTP && kind != gitInvalid {
		for _, key := range []string{"token_env", "token_file", "token"} {
			if k, ok := fs[key]; ok {
				d.errorf(k.key, k.path, "a token applies to http(s) URLs only")
				break
			}
		}
	}
	if r, ok := fs["ssh_key_file"]; ok {
		if s, ok := d.str(r, true); ok {
			g.SSHKeyFile = d.sshKeyFile(r, s)
			if hasURL && kind != gitSSH && kind != gitInvalid {
				d.errorf(r.key, r.path, "an ssh key applies to ssh:// and git@host:path URLs only")
			}
		}
	}
	return g
}

// gitURL classifies a git URL and says what is wrong with it. Messages never
// repeat the URL: a mistaken one may carry a credential.
func gitURL(s string) (gitKind, string) {
	const want = "use https://, http://, ssh://, file:// or git@host:path"
	switch {
	case s == "":
		return gitInvalid, "must not be empty"
	case strings.HasPrefix(s, "-") || strings.ContainsAny(s, " \t\r\n\x00"):
		return gitInvalid, "invalid URL: it starts with \"-\" or contains white space"
	}
	if i := strings.Index(s, "://"); i > 0 {
		u, err := url.Parse(s)
		if err != nil {
			return gitInvalid, "invalid URL: cannot parse it"
		}
		if _, hasPass := u.User.Password(); hasPass {
			return gitInvalid, "the URL embeds a password; remove it and use token_env or token_file"
		}
		switch scheme := strings.ToLower(u.Scheme); scheme {
		case "https", "http", "ssh":
			if u.Host == "" {
				return gitInvalid, "invalid URL: no host"
			}
			if scheme == "ssh" {
				return gitSSH, ""
			}
			if u.User != nil {
				// git would send the user with no password; tokens go
				// through token_env.
				return gitInvalid, "the URL embeds a user name; remove it and use token_env or token_file"
			}
			return gitHTTP, ""
		case "file":
			if u.Path == "" {
				return gitInvalid, "invalid URL: no path"
			}
			return gitFile, ""
		default:
			return gitInvalid, "unsupported scheme " + strconv.Quote(u.Scheme) + ": " + want
		}
	}
	if strings.Contains(s, "::") {
		return gitInvalid, "transport helpers (<transport>::<address>) are not supported: " + want
	}
	// git's rule for scp-like syntax: a colon before any slash.
	colon := strings.Index(s, ":")
	if slash := strings.Index(s, "/"); colon > 0 && (slash < 0 || colon < slash) {
		host := s[strings.LastIndex(s[:colon], "@")+1 : colon]
		if host == "" || colon == len(s)-1 {
			return gitInvalid, "invalid URL: want git@host:path"
		}
		return gitSSH, ""
	}
	return gitInvalid, "unsupported URL: " + want + " (a local repository is file:///path/to/repo)"
}

// repoPath checks a path inside the repository: relative, not leaving it.
func (d *decoder) repoPath(f field, s string) string {
	switch {
	case s == "":
		d.errorf(f.val, f.path, "must not be empty; leave path out for the repository root")
		return ""
	case path.IsAbs(s) || filepath.IsAbs(s) || strings.Contains(s, `\`):
		d.errorf(f.val, f.path, "%q must be a relative, slash-separated path inside the repository", s)
		return s
	}
	c := path.Clean(s)
	if !filepath.IsLocal(filepath.FromSlash(c)) {
		d.errorf(f.val, f.path, "%q leads outside the repository", s)
		return s
	}
	if c == "." {
		return ""
	}
	return c
}

// sshKeyFile resolves a key path (see localFile) and checks that a file
// is there. It does not read the key: only git's ssh does.
func (d *decoder) sshKeyFile(f field, s string) string {
	return d.localFile(f, s, func(p string) error {
		fi, err := os.Stat(p)
		switch {
		case os.IsNotExist(err):
			return fmt.Errorf("ssh key file %s does not exist", p)
		case err != nil:
			return err
		case !fi.Mode().IsRegular():
			return fmt.Errorf("ssh key file %s is not a regular file", p)
		}
		return nil
	})
}

// localFile resolves the path of a file on the machine driftd runs on (~/
// is $HOME; relative paths are against the config file's directory) and,
// unless offline, reports what check says is wrong with it.
func (d *decoder) localFile(f field, s string, check func(path string) error) string {
	if s == "" {
		d.errorf(f.val, f.path, "must not be empty")
		return ""
	}
	p, ok := d.localPath(f, s)
	if !ok || d.offline {
		return p
	}
	if err := check(p); err != nil {
		d.errorf(f.val, f.path, "%v", err)
	}
	return p
}

// localPath makes a path from the file absolute: "~/" is the HOME variable
// of the environment Parse was given, relative paths are against the
// config file's directory.
func (d *decoder) localPath(f field, s string) (string, bool) {
	if s == "~" || strings.HasPrefix(s, "~/") {
		home, ok := d.env("HOME")
		if !ok || !filepath.IsAbs(home) {
			d.errorf(f.val, f.path, "cannot expand ~: HOME is not set to an absolute path")
			return s, false
		}
		s = filepath.Join(home, s[1:])
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(d.baseDir, s)
	}
	return filepath.Clean(s), true
}
