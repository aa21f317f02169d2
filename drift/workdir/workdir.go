// Package workdir prepares an isolated directory for one scan of one
// workspace: a private copy of the code, its own TF_DATA_DIR, and an
// environment built from an allow-list, so that no scan sees another
// workspace's files or credentials and no Terraform process sees driftd's own
// secrets.
package workdir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/driftd/driftd/drift/gitsource"
)

// Spec describes the workspace to copy and the environment it asks for. The
// caller fills it from the workspace's configuration.
type Spec struct {
	// Name identifies the workspace in errors.
	Name string
	// Dir is the absolute path of the workspace's root module. It is empty
	// when Git is set.
	Dir string
	// Git, when set, is where the code comes from instead of Dir: the
	// source is checked out into the scan's directory, the whole repository
	// being the copied tree (so relative module paths work) and Git.Path the
	// root module inside it.
	Git *gitsource.Source
	// Root is the absolute path of the tree to copy; Dir must lie inside it.
	// Empty means Dir. Set it (e.g. to the repository root) when the
	// workspace uses modules or symlinks outside Dir by relative path.
	Root string
	// PassEnv lists names or globs (path.Match syntax) of driftd's own
	// environment variables the workspace may see.
	PassEnv []string
	// Env sets variables explicitly; it overrides the allow-list and PassEnv.
	Env map[string]string
	// Vars become TF_VAR_<name> entries of Dir.Env.
	Vars map[string]string
	// ScanID, when set, is the scan's id (24 hex digits), so that the
	// caller's log lines and Terraform's processes share it; empty means a
	// new one.
	ScanID string
}

// Options hold driftd-wide settings for Prepare.
type Options struct {
	// Root is where per-scan directories are created; Sweep treats every
	// scan directory in it as driftd's. It must be private to driftd's user
	// (EnsureRoot). Default: DefaultRoot(Environ, "").
	Root string
	// Mirrors fetch git sources; required when Spec.Git is set.
	Mirrors *gitsource.Mirrors
	// Environ is driftd's own environment, the only source of inherited
	// variables. Default: os.Environ().
	Environ []string
	// DenyEnv names (or globs) variables that never reach Terraform, whatever
	// the allow-list, PassEnv or Env say: the variables driftd reads its
	// GitHub, Slack and webhook secrets from. DefaultDenyEnv is always added.
	DenyEnv []string
	// PluginCacheDir becomes TF_PLUGIN_CACHE_DIR when set.
	PluginCacheDir string
}

// Dir is one scan's private directory. Close removes it.
type Dir struct {
	// Path is the copy of Spec.Dir (or Git.Path in the checkout), where
	// Terraform runs.
	Path string
	// Tree is the root of the scan's copy of the code (or of the git
	// checkout); Path lies inside it.
	Tree string
	// DataDir is this scan's TF_DATA_DIR.
	DataDir string
	// PlanFile is where the saved plan goes.
	PlanFile string
	// ScanID is unique per scan and set as DRIFTD_SCAN_ID in Env, so the
	// scan's processes can be found by their environment.
	ScanID string
	// Env is the complete environment for Terraform, as KEY=value entries.
	Env []string
	// Commit is the git commit checked out, for git sources.
	Commit string

	base      string
	closeOnce sync.Once
	closeErr  error
}

// ScanIDEnv is the variable holding a scan's id in its processes'
// environment.
const ScanIDEnv = "DRIFTD_SCAN_ID"

// GitError is a Prepare failure to check a git source out. Its text names
// the URL (credentials redacted) and the ref.
type GitError struct{ Err error }

func (e *GitError) Error() string { return e.Err.Error() }
func (e *GitError) Unwrap() error { return e.Err }

// Prepare copies spec's tree (or checks its git source out) into a new
// directory under opts.Root and builds the scan's environment. On error
// nothing is left behind.
func Prepare(ctx context.Context, spec Spec, opts Options) (*Dir, error) {
	var src, rel string
	if spec.Git != nil {
		if spec.Dir != "" || spec.Root != "" {
			return nil, fmt.Errorf("workspace %q: a git source excludes dir and root", spec.Name)
		}
		if opts.Mirrors == nil {
			return nil, fmt.Errorf("workspace %q: git source given but no git mirrors configured", spec.Name)
		}
	} else {
		var err error
		if src, rel, err = localTree(spec); err != nil {
			return nil, err
		}
	}

	root := opts.Root
	if root == "" {
		root = DefaultRoot(opts.environ(), "")
	}
	// Checked on every scan, not once: a root removed meanwhile (a tmp
	// cleaner) must not be re-made by another user first unnoticed.
	if err := EnsureRoot(root); err != nil {
		return nil, err
	}
	id := spec.ScanID
	if id == "" {
		var err error
		if id, err = newScanID(); err != nil {
			return nil, err
		}
	} else if !scanDirRE.MatchString(id) {
		return nil, fmt.Errorf("scan id %q: want 24 hex digits", id)
	}
	base := filepath.Join(root, id)
	if err := os.Mkdir(base, 0o700); err != nil {
		return nil, fmt.Errorf("create scan dir: %w", err)
	}
	d := &Dir{
		DataDir:  filepath.Join(base, "data"),
		PlanFile: filepath.Join(base, "driftd.tfplan"),
		ScanID:   id,
		base:     base,
	}
	// First of all, so that a driftd killed at any later point leaves a
	// directory Sweep recognises.
	if err := writeOwner(base); err != nil {
		return nil, errors.Join(err, d.Close())
	}
	if err := d.fill(ctx, src, rel, spec, opts); err != nil {
		return nil, errors.Join(err, d.Close())
	}
	return d, nil
}

// localTree checks a local Spec and returns the tree to copy and Dir's path
// inside it.
func localTree(spec Spec) (src, rel string, err error) {
	if !filepath.IsAbs(spec.Dir) {
		return "", "", fmt.Errorf("workspace %q: dir %q is not absolute", spec.Name, spec.Dir)
	}
	src = filepath.Clean(spec.Root)
	if spec.Root == "" {
		src = filepath.Clean(spec.Dir)
	}
	if !filepath.IsAbs(src) {
		return "", "", fmt.Errorf("workspace %q: root %q is not absolute", spec.Name, spec.Root)
	}
	rel, err = filepath.Rel(src, filepath.Clean(spec.Dir))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("workspace %q: dir %q is not inside root %q", spec.Name, spec.Dir, src)
	}
	if fi, err := os.Stat(spec.Dir); err != nil {
		return "", "", fmt.Errorf("workspace %q: %w", spec.Name, err)
	} else if !fi.IsDir() {
		return "", "", fmt.Errorf("workspace %q: %s is not a directory", spec.Name, spec.Dir)
	}
	return src, rel, nil
}

func (d *Dir) fill(ctx context.Context, src, rel string, spec Spec, opts Options) error {
	tree := filepath.Join(d.base, "src")
	d.Tree = tree
	if spec.Git != nil {
		commit, path, err := opts.Mirrors.Checkout(ctx, *spec.Git, tree)
		if err != nil {
			return &GitError{Err: err}
		}
		d.Path, d.Commit = path, commit
		if err := checkLinks(tree); err != nil {
			return fmt.Errorf("workspace %q: commit %s: %w", spec.Name, commit, err)
		}
	} else {
		if err := copyTree(ctx, src, tree); err != nil {
			return fmt.Errorf("workspace %q: copy: %w", spec.Name, err)
		}
		d.Path = filepath.Join(tree, rel)
	}
	if err := os.Mkdir(d.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	env, err := buildEnv(spec, opts, d)
	if err != nil {
		return fmt.Errorf("workspace %q: %w", spec.Name, err)
	}
	d.Env = env
	return nil
}

// Base is the scan's top directory, holding Path's tree, DataDir and
// PlanFile; callers may put other per-scan files here.
func (d *Dir) Base() string { return d.base }

// Close removes the scan's directory. It is safe to call more than once.
func (d *Dir) Close() error {
	d.closeOnce.Do(func() {
		if err := os.RemoveAll(d.base); err != nil {
			d.closeErr = fmt.Errorf("remove scan dir: %w", err)
		}
	})
	return d.closeErr
}

func (o Options) environ() []string {
	if o.Environ == nil {
		return os.Environ()
	}
	return o.Environ
}

func newScanID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("scan id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
