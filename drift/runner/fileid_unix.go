//go:build linux || darwin

package runner

import (
	"fmt"
	"io/fs"
	"syscall"
)

// changeStamp is what size and mtime miss of a file's identity: its inode
// (a binary replaced by rename) and ctime, which no one can set back (a
// binary overwritten in place, mtime restored by `cp -p`).
func changeStamp(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	sec, nsec := ctime(st)
	return fmt.Sprintf("%d:%d %d.%d", st.Dev, st.Ino, sec, nsec)
}
