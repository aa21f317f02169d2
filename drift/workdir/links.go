package workdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A workspace's tree may hold symlinks (a shared module, a common
// variables file), but none that leads out of the tree: terraform would
// read whatever it reaches (a credentials file as a *.auto.tfvars, a
// directory of another team as a module) and a plan can carry what it read
// into a report. A link is resolved the way the system resolves it, through
// every link on the way, relative or absolute, and refused when it ends
// outside the tree. Links inside are kept as links.

// LinkError is a symlink that resolves outside the workspace's tree.
type LinkError struct {
	// Link is the symlink's path relative to the tree, Target what it
	// holds, Resolved where it leads.
	Link, Target, Resolved string
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("symlink %s (-> %s) resolves to %s, outside the workspace's tree (its dir, or its git repository): "+
		"driftd reads nothing outside it", e.Link, e.Target, e.Resolved)
}

// realRoot is the tree's own path with every symlink in it resolved, what
// link targets are compared with.
func realRoot(tree string) (string, error) {
	real, err := filepath.EvalSymlinks(tree)
	if err != nil {
		return "", err
	}
	return filepath.Abs(real)
}

// linkTarget resolves the symlink at p, in the tree whose resolved path is
// root (p's own path may go through the tree's unresolved one, top), and
// returns its final target relative to root, or a *LinkError.
func linkTarget(top, root, p string) (string, error) {
	link, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	// Not filepath.Join: it would clean "x/../y" to "y" before x, maybe a
	// link itself, is resolved.
	target := link
	if !filepath.IsAbs(link) {
		target = filepath.Dir(p) + string(filepath.Separator) + link
	}
	resolved, err := resolveExisting(target)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, resolved)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		relp, _ := filepath.Rel(top, p)
		return "", &LinkError{Link: relp, Target: link, Resolved: resolved}
	}
	return rel, nil
}

// resolveExisting resolves every symlink of p as far as p exists; the
// missing rest (a dangling link's) is appended as written.
func resolveExisting(p string) (string, error) {
	var rest []string
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			abs, err := filepath.Abs(real)
			return filepath.Join(append([]string{abs}, rest...)...), err
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", err
		}
		// Not filepath.Dir, which would clean "l/.." away too.
		i := strings.LastIndexByte(p, filepath.Separator)
		if i <= 0 {
			return filepath.Join(append([]string{p}, rest...)...), nil
		}
		rest = append([]string{p[i+1:]}, rest...)
		p = p[:i]
	}
}

// checkLinks refuses a tree (a git checkout) holding a symlink that
// resolves outside it. .git is not looked into: terraform never reads it.
func checkLinks(tree string) error {
	root, err := realRoot(tree)
	if err != nil {
		return err
	}
	return filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == ".git" && p != tree:
			return filepath.SkipDir
		case d.Type()&fs.ModeSymlink != 0:
			_, err := linkTarget(tree, root, p)
			return err
		}
		return nil
	})
}
