//go:build !unix

package filestate

import (
	"errors"
	"os"
)

// tryLock is not implemented outside unix, where driftd scans do not run
// either (see drift/runner).
func tryLock(*os.File) (bool, error) {
	return false, errors.New("locking reporter bookkeeping is only implemented on unix systems")
}
