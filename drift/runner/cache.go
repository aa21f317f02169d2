package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// pluginCache coordinates terraform init runs that share one provider plugin
// cache (TF_PLUGIN_CACHE_DIR), which Terraform does not make safe for
// concurrent use (hashicorp/terraform#31964, #32028).
//
// What Terraform 1.11 does with a cache (checked against a filesystem
// mirror):
//   - with a .terraform.lock.hcl whose checksums match the cached package,
//     init links the cached package and writes nothing to the cache;
//   - with a lock file and the package missing (or not matching), init
//     installs into the cache;
//   - without a lock file, init installs the package into the cache again on
//     every run, even when it is already there, unless
//     TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE is set. That reinstall
//     removes the package directory for a moment, and a plan of another
//     workspace starting its provider from the cache then fails with "could
//     not read package directory" (seen in TestPluginCacheConcurrency).
//
// So every scan sets TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=1: an
// init never rewrites a package that is already cached, and plans, which
// only read the cache, need no lock. What the variable "breaks" is the lock
// file init writes for a workspace that has none (it records only the
// cached package's checksum); driftd throws that file away with the scan's
// copy. A package is still verified against its origin's checksums when it
// first enters the cache.
//
// Inits that may write (a provider set not known to be cached, or no lock
// file to tell) take the cache lock exclusively. An init of a lock file
// whose provider set is known to be cached (a marker named after the lock
// file's hash, written after such an init succeeded while holding the lock
// exclusively) takes it shared, so cached inits run in parallel.
type pluginCache struct {
	dir     string // TF_PLUGIN_CACHE_DIR
	markers string // one empty file per provider set known to be cached
}

func newPluginCache(cacheDir string) (*pluginCache, error) {
	c := &pluginCache{
		dir:     filepath.Join(cacheDir, "plugins"),
		markers: filepath.Join(cacheDir, "plugin-sets"),
	}
	for _, d := range []string{c.dir, c.markers} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("plugin cache: %w", err)
		}
	}
	return c, nil
}

// lockPollInterval is how often a blocked init retries the cache lock; the
// lock is polled rather than waited on so that a canceled scan stops waiting.
const lockPollInterval = 50 * time.Millisecond

// acquire takes the cache lock for an init in workDir, shared or exclusive
// as described on pluginCache. done must be called after the init with its
// outcome; it records the provider set on success and releases the lock.
func (c *pluginCache) acquire(ctx context.Context, workDir string) (shared bool, done func(ok bool), err error) {
	key, err := lockFileKey(workDir)
	if err != nil {
		return false, nil, err
	}
	marker := ""
	if key != "" {
		marker = filepath.Join(c.markers, key)
		if _, err := os.Stat(marker); err == nil {
			shared = true
		}
	}
	f, err := os.OpenFile(filepath.Join(c.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, nil, fmt.Errorf("plugin cache lock: %w", err)
	}
	for {
		ok, err := tryLock(f, shared)
		if err != nil {
			f.Close()
			return false, nil, fmt.Errorf("plugin cache lock: %w", err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			f.Close()
			return false, nil, ctx.Err()
		case <-time.After(lockPollInterval):
		}
	}
	return shared, func(ok bool) {
		if ok && !shared && marker != "" {
			// Best effort: without the marker the next init is exclusive.
			_ = os.WriteFile(marker, nil, 0o644)
		}
		unlock(f)
	}, nil
}

// lockFileKey identifies the provider set of the module in dir: a hash of
// its dependency lock file and the platform, or "" without a lock file.
func lockFileKey(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read dependency lock file: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(runtime.GOOS + "_" + runtime.GOARCH + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}
