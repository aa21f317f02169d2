package store

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// releasePages drops the first size bytes of db's mapping from the
// process's page tables (MADV_DONTNEED). bbolt maps the file read-only and
// shared, so nothing is lost: the next read of a page maps it again from
// the page cache or the file. The caller holds a read transaction, which
// keeps bbolt from replacing the mapping meanwhile. A failure only leaves
// the pages resident, so it is ignored.
func releasePages(db *bolt.DB, size int64) {
	if size <= 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, uintptr(size), syscall.MADV_DONTNEED)
}
