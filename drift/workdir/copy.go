package workdir

import (
	"context"
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
// bits and symlinks. A symlink must resolve inside src (linkTarget); its
// copy points to the same place in dst. Directories get owner rwx added so
// that Close can always remove them. Sockets, devices and pipes are
// skipped.
func copyTree(ctx context.Context, src, dst string) error {
	root, err := realRoot(src)
	if err != nil {
		return err
	}
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
			return copySymlink(src, root, dst, p, target)
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

// copySymlink copies the link at p of the tree src (root once resolved) to
// target in dst. An absolute link is re-aimed at its target's copy.
func copySymlink(src, root, dst, p, target string) error {
	to, err := linkTarget(src, root, p)
	if err != nil {
		return err
	}
	link, err := os.Readlink(p)
	if err != nil {
		return err
	}
	if filepath.IsAbs(link) {
		link = filepath.Join(dst, to)
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
