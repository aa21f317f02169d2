// Package atomicfile writes files that readers, concurrent writers and a
// crash see whole or not at all.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes b to path through a temporary file of its own in the same
// directory, renamed over path: a concurrent reader sees the old content or
// the new, and concurrent writers never share a temporary file.
func Write(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
