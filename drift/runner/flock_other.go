//go:build !unix

package runner

import (
	"errors"
	"os"
)

// tryLock is not implemented outside unix: the plugin cache lock relies on
// flock, so scans fail there rather than risk a corrupted cache.
func tryLock(f *os.File, shared bool) (bool, error) {
	return false, errors.New("plugin cache locking is only implemented on unix systems")
}

// unlock closes f; tryLock never locks anything here.
func unlock(f *os.File) error { return f.Close() }
