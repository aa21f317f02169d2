package store

import bolt "go.etcd.io/bbolt"

// defaultReleaseEvery is how many bytes of rows a Store reads between
// releases of its file's pages.
const defaultReleaseEvery = 8 << 20

// rowsRead counts n bytes of rows (scans, reports) read inside tx, and
// every releaseEvery bytes takes the file's pages out of the process (see
// releasePages). bbolt reads through a mapping of the whole file, and
// every page a reader touches stays in driftd's resident set while the
// kernel has memory to spare: a reader going through months of every
// workspace's history (the SLO tracker's first pass), or through the
// last reports of thousands of workspaces, would leave tens or hundreds
// of MB of the file resident, most of it never read again. The pages stay in the page cache, so reading them again costs a
// minor fault.
func (s *Store) rowsRead(tx *bolt.Tx, n int) {
	if s.readBytes.Add(int64(n)) < s.releaseEvery {
		return
	}
	s.readBytes.Store(0)
	releasePages(s.db, tx.Size())
}
