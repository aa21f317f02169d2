package workdir

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// skipDir reports whether a directory is left out of a scan's copy: local
// provider installs and module caches (the scan runs its own init) and git
// metadata.
func skipDir(name string) bool { return name == ".terraform" || name == ".git" }

// skipFile reports whether a file is left out of a scan's copy. State backups
// are never read by plan; the live state (terraform.tfstate,
// terraform.tfstate.d/) is kept because local-state workspaces need it.
func skipFile(name string) bool { return strings.HasSuffix(name, ".tfstate.backup") }

// copyTree copies src into dst (which must not exist), keeping permission
// bits and symlinks. A symlink must point inside src; its copy points to the
// same place in dst. Directories get owner rwx added so that Close can always
// remove them. Sockets, devices and pipes are skipped.
func copyTree(ctx context.Context, src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch t := d.Type(); {
		case t.IsDir():
			if p != src && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if err := os.Mkdir(target, fi.Mode().Perm()|0o700); err != nil {
				return err
			}
			// Mkdir is subject to the umask; the copy keeps the original bits.
			return os.Chmod(target, fi.Mode().Perm()|0o700)
		case t&fs.ModeSymlink != 0:
			return copySymlink(src, dst, p, target)
		case t.IsRegular():
			if skipFile(d.Name()) {
				return nil
			}
			return copyFile(p, target)
		default:
			return nil
		}
	})
}

func copySymlink(src, dst, p, target string) error {
	link, err := os.Readlink(p)
	if err != nil {
		return err
	}
	resolved := link
	if !filepath.IsAbs(link) {
		resolved = filepath.Join(filepath.Dir(p), link)
	}
	rel, err := filepath.Rel(src, filepath.Clean(resolved))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		relp, _ := filepath.Rel(src, p)
		return fmt.Errorf("symlink %s points outside the copied tree (%s); set the workspace root to a directory that contains both", relp, link)
	}
	if filepath.IsAbs(link) {
		// An absolute link into the tree is re-aimed at the copy.
		link = filepath.Join(dst, rel)
	}
	return os.Symlink(link, target)
}

func copyFile(from, to string) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	// OpenFile is subject to the umask; the copy keeps the original bits.
	return out.Chmod(fi.Mode().Perm())
}
