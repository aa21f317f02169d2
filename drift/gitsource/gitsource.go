// Package gitsource checks out a workspace's code from a git repository. It
// keeps one bare mirror per repository URL, fetches it before every checkout,
// and writes the tree of the requested ref into the scan's own directory,
// without a .git directory.
//
// It drives the real git binary with an environment it builds itself: no
// system or user git configuration, no terminal prompts, no credential
// helpers, so neither the operator's settings nor driftd's environment leak
// into a fetch, and a fetch never waits for input.
package gitsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Source is a workspace's code in a git repository.
type Source struct {
	URL  string // https://, ssh://, git@host:path, file://, or a local path
	Ref  string // branch, tag or commit SHA; "" = the remote's HEAD
	Path string // subdirectory holding the Terraform root module; "" = repo root
	Auth Auth
}

// Auth holds the credentials of one Source. Neither value is ever written to
// argv, a URL, a file, a log line or an error.
type Auth struct {
	// Token authenticates HTTP(S) fetches, sent as the header
	// "Authorization: Basic base64(x-access-token:TOKEN)" (GitHub App and
	// personal access tokens both accept it) to the source's host only.
	Token string
	// SSHKeyFile is the private key for ssh URLs.
	SSHKeyFile string
}

// Errors a caller may want to tell apart with errors.Is.
var (
	// ErrUnreachable: the fetch failed (no such repository, host down,
	// network error).
	ErrUnreachable = errors.New("repository not found or not reachable")
	// ErrAuth: the remote refused the credentials, or asked for some.
	ErrAuth = errors.New("authentication failed")
	// ErrRefNotFound: the ref names no branch, tag or commit of the mirror.
	ErrRefNotFound = errors.New("ref not found")
)

// DefaultTimeout bounds every git command unless WithTimeout says otherwise.
const DefaultTimeout = 10 * time.Minute

// Mirrors keeps one bare mirror per repository URL under a directory.
// It is safe for concurrent use, and several processes may share the
// directory.
type Mirrors struct {
	dir     string
	home    string // HOME for git and ssh: keeps ~/.gitconfig out
	logger  *slog.Logger
	git     string // absolute path of the git binary
	path    string // PATH for git and the programs it runs (ssh)
	timeout time.Duration

	mu    sync.Mutex
	locks map[string]chan struct{} // per mirror, held with the flock
}

// Option configures Mirrors.
type Option func(*Mirrors)

// WithTimeout bounds each git command (fetch, checkout) to d.
func WithTimeout(d time.Duration) Option {
	return func(m *Mirrors) {
		if d > 0 {
			m.timeout = d
		}
	}
}

// New returns Mirrors keeping its mirrors, lock files, git HOME and ssh
// known_hosts under dir, which is created if needed.
func New(dir string, logger *slog.Logger, opts ...Option) (*Mirrors, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("git mirrors dir: %w", err)
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("git sources need the git binary: %w", err)
	}
	m := &Mirrors{
		dir:     abs,
		home:    filepath.Join(abs, "home"),
		logger:  logger,
		git:     gitBin,
		path:    os.Getenv("PATH"),
		timeout: DefaultTimeout,
		locks:   make(map[string]chan struct{}),
	}
	for _, o := range opts {
		o(m)
	}
	for _, d := range []string{abs, m.home, filepath.Join(abs, "ssh")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("git mirrors dir: %w", err)
		}
	}
	return m, nil
}

// Checkout fetches the mirror of src.URL (creating it the first time),
// resolves src.Ref to a commit and writes that commit's tree into dst, which
// must not exist or be empty, without a .git directory. It returns the full
// commit SHA and root, the directory holding src.Path (dst itself when Path
// is empty). Errors carry no secret. On error dst is left as it was found.
func (m *Mirrors) Checkout(ctx context.Context, src Source, dst string) (commit, root string, err error) {
	r, err := parseRemote(src.URL)
	if err != nil {
		return "", "", err
	}
	red := newRedactor(src.Auth.Token)
	prefix := func() string {
		ref := "ref " + src.Ref
		if src.Ref == "" {
			ref = "remote HEAD"
		}
		return fmt.Sprintf("git source %s (%s)", red.redact(r.url), ref)
	}
	if err := r.checkAuth(src.Auth); err != nil {
		return "", "", fmt.Errorf("%s: %w", prefix(), err)
	}
	ref := src.Ref
	if ref == "HEAD" {
		ref = ""
	}
	if strings.HasPrefix(src.Ref, "-") || strings.ContainsAny(src.Ref, " \t\n:") {
		return "", "", fmt.Errorf("%s: invalid ref %q", prefix(), src.Ref)
	}
	sub := filepath.Clean(filepath.FromSlash(src.Path))
	if src.Path != "" && !filepath.IsLocal(sub) {
		return "", "", fmt.Errorf("%s: path %q must be a relative path inside the repository", prefix(), src.Path)
	}
	dst, err = filepath.Abs(dst)
	if err != nil {
		return "", "", fmt.Errorf("%s: destination: %w", prefix(), err)
	}
	created, err := prepareDst(dst)
	if err != nil {
		return "", "", fmt.Errorf("%s: destination: %w", prefix(), err)
	}
	defer func() {
		if err != nil {
			cleanDst(dst, created)
		}
	}()

	name := mirrorName(r.url)
	unlock, err := m.lock(ctx, name)
	if err != nil {
		return "", "", fmt.Errorf("%s: wait for mirror lock: %w", prefix(), err)
	}
	// Held through the checkout too: a concurrent fetch's auto-gc must not
	// prune objects of a commit being written out.
	defer unlock()

	mirror := filepath.Join(m.dir, name)
	env := m.env(r, src.Auth)
	local := m.env(r, Auth{}) // commands that do not touch the network
	start := time.Now()
	if err := m.fetch(ctx, red, env, mirror, r, ref == ""); err != nil {
		return "", "", fmt.Errorf("%s: fetch: %w", prefix(), err)
	}
	commit, err = m.resolve(ctx, red, local, mirror, ref)
	if errors.Is(err, ErrRefNotFound) {
		return "", "", &refError{ref: src.Ref, url: red.redact(r.url)}
	}
	if err != nil {
		return "", "", fmt.Errorf("%s: resolve: %w", prefix(), err)
	}
	if err := m.writeTree(ctx, red, local, mirror, commit, dst); err != nil {
		return "", "", fmt.Errorf("%s: checkout %s: %w", prefix(), commit, err)
	}
	root, err = subdir(dst, sub)
	if err != nil {
		return "", "", fmt.Errorf("%s: commit %s: %w", prefix(), commit, err)
	}
	m.logger.InfoContext(ctx, "git checkout",
		"url", red.redact(r.url), "ref", src.Ref, "commit", commit,
		"path", src.Path, "duration", time.Since(start))
	return commit, root, nil
}

type refError struct{ ref, url string }

func (e *refError) Error() string        { return fmt.Sprintf("ref %q not found in %s", e.ref, e.url) }
func (e *refError) Is(target error) bool { return target == ErrRefNotFound }

// mirrorName is a hash of the URL, never the URL itself (it may hold
// credentials), after a short slug that helps an operator browsing the
// directory.
func mirrorName(url string) string {
	sum := sha256.Sum256([]byte(url))
	base := url
	if i := strings.LastIndexAny(base, "@"); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), ".git")
	if i := strings.LastIndexAny(base, "/:"); i >= 0 {
		base = base[i+1:]
	}
	var slug strings.Builder
	for _, c := range strings.ToLower(base) {
		if slug.Len() >= 32 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			slug.WriteRune(c)
		} else {
			slug.WriteByte('-')
		}
	}
	s := strings.Trim(slug.String(), "-.")
	if s == "" {
		s = "repo"
	}
	return s + "-" + hex.EncodeToString(sum[:8])
}

// prepareDst makes sure dst is an empty directory and says whether it
// created it.
func prepareDst(dst string) (created bool, err error) {
	entries, err := os.ReadDir(dst)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return false, err
		}
		return true, nil
	case err != nil:
		return false, err
	case len(entries) > 0:
		return false, fmt.Errorf("%s is not empty", dst)
	}
	return false, nil
}

// cleanDst restores dst to how prepareDst found it: absent or empty.
func cleanDst(dst string, created bool) {
	if created {
		_ = os.RemoveAll(dst)
		return
	}
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dst, e.Name()))
	}
}

// subdir returns dst/sub after checking that it is a directory which, with
// symlinks followed, stays inside dst: a repository must not point a scan
// at files outside its checkout.
func subdir(dst, sub string) (string, error) {
	root := filepath.Join(dst, sub)
	realDst, err := filepath.EvalSymlinks(dst)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("path %q does not exist in the repository", filepath.ToSlash(sub))
		}
		return "", fmt.Errorf("path %q: %w", filepath.ToSlash(sub), err)
	}
	rel, err := filepath.Rel(realDst, real)
	if err != nil || !(rel == "." || filepath.IsLocal(rel)) {
		return "", fmt.Errorf("path %q leads outside the repository", filepath.ToSlash(sub))
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", filepath.ToSlash(sub), err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("path %q is not a directory", filepath.ToSlash(sub))
	}
	return root, nil
}
