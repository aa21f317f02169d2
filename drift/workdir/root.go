package workdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultRoot is the default Options.Root for an environment (driftd's own,
// as KEY=value entries) and a cache directory (may be empty), in order of
// preference: $XDG_RUNTIME_DIR/driftd (private to the user by that
// directory's contract, and emptied at logout and reboot), cacheDir/work,
// and last $TMPDIR/driftd-<uid> (a shared directory, where another user may
// have made the name first: EnsureRoot refuses it then).
func DefaultRoot(environ []string, cacheDir string) string {
	var runtimeDir, tmp string
	for _, kv := range environ {
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "XDG_RUNTIME_DIR":
			runtimeDir = v
		case "TMPDIR":
			tmp = v
		}
	}
	if filepath.IsAbs(runtimeDir) {
		if fi, err := os.Stat(runtimeDir); err == nil && fi.IsDir() {
			return filepath.Join(runtimeDir, "driftd")
		}
	}
	if cacheDir != "" {
		return filepath.Join(cacheDir, "work")
	}
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, fmt.Sprintf("driftd-%d", os.Getuid()))
}

// RootError is a work root that driftd refuses: another user could read
// the scans' credentials in it or change the code Terraform runs.
type RootError struct {
	Path string
	// Found says what is there: "a symlink", "mode 0777, owner uid 1000".
	Found string
}

func (e *RootError) Error() string {
	return fmt.Sprintf("work root %s: found %s, want a directory (not a symlink) owned by uid %d (driftd's user), not writable by all (driftd makes it 0700); "+
		"another user may have made it: remove it or choose another with --work-dir", e.Path, e.Found, os.Geteuid())
}

// EnsureRoot makes dir, the work root, if it is missing (its parents too,
// 0700), and checks that it is safe to keep scans in: a directory, not a
// symlink, owned by this process's user, not writable by all. Its mode is
// then set to 0700: a directory of the user's made 0755 by hand, or given
// group rwx by Kubernetes' fsGroup on a volume, is one that no stranger
// can have written into. Anything else is a *RootError: driftd never uses
// a root that another user made or that anyone could write to.
func EnsureRoot(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("create work root: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create work root: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("work root: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &RootError{Path: dir, Found: "a symlink"}
	case !fi.IsDir():
		return &RootError{Path: dir, Found: "a " + fileKind(fi.Mode())}
	}
	uid, known := fileOwner(fi)
	if !known {
		// No owner and no meaningful mode bits (Windows): the type check
		// is all there is.
		return nil
	}
	perm := fi.Mode().Perm()
	if uid != os.Geteuid() || perm&0o002 != 0 {
		return &RootError{Path: dir, Found: fmt.Sprintf("mode %04o, owner uid %d", perm, uid)}
	}
	if perm != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("work root: %w", err)
		}
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file of mode " + m.String()
}

// createExcl writes a new file at path, mode perm, failing if anything
// (a symlink included) is already there: files driftd writes into a scan
// directory never follow or replace what another process put in their
// place.
func createExcl(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = f.Write(data)
	return err
}

// WriteFile writes a new file into the scan's directory (name relative to
// Base), mode 0600, refusing to replace or follow anything already there:
// for the backend config and var files driftd writes for Terraform.
func (d *Dir) WriteFile(name string, data []byte) error {
	if !filepath.IsLocal(name) {
		return fmt.Errorf("scan file %q: not inside the scan directory", name)
	}
	return createExcl(filepath.Join(d.base, name), data, 0o600)
}
