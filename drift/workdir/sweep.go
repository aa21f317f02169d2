package workdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// ownerFile, in each scan directory, names the driftd process that made it.
const ownerFile = "driftd.owner"

// owner identifies a process across PID reuse: Start is its start time as
// the OS reports it ("" where that is unknown).
type owner struct {
	PID   int    `json:"pid"`
	Start string `json:"start,omitempty"`
}

// scanDirRE matches scan directory names (newScanID); Sweep leaves anything
// else in the root alone.
var scanDirRE = regexp.MustCompile(`^[0-9a-f]{24}$`)

// unownedGrace is how old a scan directory without an owner file must be
// before it counts as stale: younger, it may be one another driftd has just
// created and is about to mark.
const unownedGrace = time.Minute

func writeOwner(base string) error {
	o := owner{PID: os.Getpid(), Start: procStart(os.Getpid())}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := createExcl(filepath.Join(base, ownerFile), b, 0o600); err != nil {
		return fmt.Errorf("mark scan dir: %w", err)
	}
	return nil
}

// Stale is a scan directory whose driftd is gone.
type Stale struct {
	ScanID string
	Path   string
	// PID is the driftd that made it; 0 when it left no owner file.
	PID int
}

// FindStale lists the scan directories under root whose owner is no longer
// running (dead, or its PID now belongs to another process), and empty
// unmarked ones older than a minute (a driftd killed between creating and
// marking one). A missing root holds nothing stale.
func FindStale(root string) ([]Stale, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read work root: %w", err)
	}
	var out []Stale
	for _, e := range entries {
		if !e.IsDir() || !scanDirRE.MatchString(e.Name()) {
			continue
		}
		p := filepath.Join(root, e.Name())
		b, err := os.ReadFile(filepath.Join(p, ownerFile))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return out, fmt.Errorf("scan dir %s: %w", e.Name(), err)
			}
			if unownedStale(p) {
				out = append(out, Stale{ScanID: e.Name(), Path: p})
			}
			continue
		}
		var o owner
		if err := json.Unmarshal(b, &o); err != nil || o.PID <= 0 {
			// Not written by this code: leave it to the operator.
			continue
		}
		if !alive(o) {
			out = append(out, Stale{ScanID: e.Name(), Path: p, PID: o.PID})
		}
	}
	return out, nil
}

// unownedStale reports whether an unmarked scan directory is old and empty:
// every scan directory is marked right after it is created, so anything else
// in an unmarked one is not ours to delete.
func unownedStale(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || time.Since(fi.ModTime()) < unownedGrace {
		return false
	}
	entries, err := os.ReadDir(p)
	return err == nil && len(entries) == 0
}

// alive reports whether o is a running process, the same one that wrote the
// owner file.
func alive(o owner) bool {
	if o.PID == os.Getpid() {
		return o.Start == procStart(o.PID)
	}
	if !pidExists(o.PID) {
		return false
	}
	// Without a recorded start time a live PID must be trusted.
	return o.Start == "" || o.Start == procStart(o.PID)
}
