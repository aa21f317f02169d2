//go:build !unix

package workdir

import "io/fs"

// noFollow has no equivalent here; O_EXCL alone refuses an existing name.
const noFollow = 0

// fileOwner is unknown here: only the file type is checked.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
