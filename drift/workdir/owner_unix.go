//go:build unix

package workdir

import (
	"io/fs"
	"syscall"
)

// noFollow makes OpenFile fail on a symlink in the last path element.
const noFollow = syscall.O_NOFOLLOW

// fileOwner returns the uid owning a file, and whether the platform says.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
