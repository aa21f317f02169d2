package runner

import (
	"fmt"
	"io/fs"
	"syscall"
)

// changeStamp: see fileid_linux.go.
func changeStamp(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d:%d %d.%d", st.Dev, st.Ino, st.Ctimespec.Sec, st.Ctimespec.Nsec)
}
