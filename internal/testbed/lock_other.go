//go:build !unix

package testbed

import (
	"context"
	"fmt"
	"runtime"
)

// lockFile is unix-only (flock); elsewhere SharedMirror reports it rather
// than risk two builds writing the same directory.
func lockFile(context.Context, string) (func(), error) {
	return nil, fmt.Errorf("file locking is not implemented on %s; use BuildMirror", runtime.GOOS)
}
