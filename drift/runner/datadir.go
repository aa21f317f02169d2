package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/driftd/driftd/internal/cachefile"
)

// dataDirs keeps one Terraform data directory (TF_DATA_DIR) per workspace
// between scans, under CacheDir/data/<workspace id>/, so that a scan whose
// init inputs have not changed skips init: init is the one step of a scan
// whose result is the same every time.
//
// Each entry holds
//
//	lock          flock'd exclusively for a whole scan (init, plan, show)
//	tf/           the TF_DATA_DIR
//	plugins/      a private plugin cache, used only when the shared one is bad
//	lock.hcl      the dependency lock file as init left it
//	backend.json  init's backend record without backend_config's values
//	key           the init key, written last, only after init succeeded
//
// The key (initKey) covers everything init's result depends on. A scan
// reuses tf/ only when key holds the same key; any other scan removes key
// before it touches tf/, so a failed or interrupted init never leaves a
// reusable-looking entry. Nothing of the workspace's state lives in tf/: with
// a local backend it holds the backend's configuration, not its state, which
// stays in the scan's copy of the code. The backend's configuration
// (credentials included) is in tf/ only while a scan holds the entry (see
// saveBackend).
type dataDirs struct {
	root string
}

func newDataDirs(cacheDir string) (*dataDirs, error) {
	d := &dataDirs{root: filepath.Join(cacheDir, "data")}
	// Backend configuration (credentials included) lands in tf/ during a
	// scan. Chmod: MkdirAll leaves an existing directory as it is.
	if err := os.MkdirAll(d.root, 0o700); err != nil {
		return nil, fmt.Errorf("data dirs: %w", err)
	}
	if err := os.Chmod(d.root, 0o700); err != nil {
		return nil, fmt.Errorf("data dirs: %w", err)
	}
	return d, nil
}

// dataDir is one workspace's entry, locked for one scan.
type dataDir struct {
	dir      string
	key      string
	backend  map[string]string // the workspace's backend_config
	reusable bool              // key matches: skip init
	lock     *os.File
}

func (d *dataDir) path() string        { return filepath.Join(d.dir, "tf") }
func (d *dataDir) pluginDir() string   { return filepath.Join(d.dir, "plugins") }
func (d *dataDir) keyFile() string     { return filepath.Join(d.dir, "key") }
func (d *dataDir) savedLock() string   { return filepath.Join(d.dir, "lock.hcl") }
func (d *dataDir) invalidate() error   { return removeIfExists(d.keyFile()) }
func workspaceID(spec Spec) string     { return shortHash(workspaceIdentity(spec)...) }
func shortHash(parts ...string) string { return hashParts(parts...)[:32] }

// workspaceIdentity names where a workspace's code comes from, so that two
// workspaces of one name (two `driftd check` of different directories) keep
// separate entries.
func workspaceIdentity(spec Spec) []string {
	id := []string{spec.Name, spec.Dir, spec.Root}
	if spec.Git != nil {
		id = append(id, spec.Git.URL, spec.Git.Path)
	}
	return id
}

// acquire locks the entry of spec's workspace and tells whether it may be
// reused with key. It returns nil, nil when another scan holds the entry
// (two CLIs scanning one workspace): the caller then runs a private init.
func (dd *dataDirs) acquire(spec Spec, key string) (*dataDir, error) {
	d := &dataDir{dir: filepath.Join(dd.root, workspaceID(spec)), key: key, backend: spec.BackendConfig}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(d.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	ok, err := tryLock(f, false)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("data dir lock: %w", err)
		}
		return nil, nil
	}
	d.lock = f
	// The lock file's mtime records the last use, for prune.
	now := time.Now()
	if err := os.Chtimes(f.Name(), now, now); err != nil {
		unlock(f)
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	old, err := os.ReadFile(d.keyFile())
	if err == nil && string(old) == key {
		if fi, err := os.Stat(d.path()); err == nil && fi.IsDir() && d.restoreBackend() == nil {
			d.reusable = true
			return d, nil
		}
	}
	if err := d.reset(); err != nil {
		unlock(f)
		return nil, err
	}
	return d, nil
}

// dataDirMaxAge is how long an entry may go unused before prune removes
// it: a workspace removed from the configuration would otherwise keep its
// providers and its backend configuration (credentials included) forever.
const dataDirMaxAge = 30 * 24 * time.Hour

// prune removes the entries no scan has used since before cutoff, skipping
// any that a scan holds, and the backend record a killed scan left in the
// others. It returns how many it removed.
func (dd *dataDirs) prune(cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(dd.root)
	if err != nil {
		return 0, fmt.Errorf("data dirs: %w", err)
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(dd.root, e.Name())
		ok, err := pruneEntry(dir, cutoff)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

func pruneEntry(dir string, cutoff time.Time) (bool, error) {
	lockPath := filepath.Join(dir, "lock")
	f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Not an entry acquire made; leave it.
		return false, nil
	case err != nil:
		return false, fmt.Errorf("data dir: %w", err)
	}
	if ok, err := tryLock(f, false); err != nil || !ok {
		f.Close()
		return false, err
	}
	defer unlock(f)
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("data dir: %w", err)
	}
	if !fi.ModTime().Before(cutoff) {
		if err := scrubBackend(dir); err != nil {
			return false, fmt.Errorf("data dir: %w", err)
		}
		return false, nil
	}
	// The key goes first, so that a half-removed entry is never reused.
	if err := removeIfExists(filepath.Join(dir, "key")); err != nil {
		return false, fmt.Errorf("data dir: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("data dir: %w", err)
	}
	return true, nil
}

// release ends the scan's hold on the entry: the backend record, with its
// credentials, goes first (saveBackend kept it without them).
func (d *dataDir) release() error {
	err := removeIfExists(d.backendState())
	return errors.Join(err, unlock(d.lock))
}

// reset empties the entry for a fresh init: the key goes first.
func (d *dataDir) reset() error {
	d.reusable = false
	if err := d.invalidate(); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	for _, p := range []string{d.path(), d.pluginDir(), d.savedLock(), d.backendSaved()} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	if err := os.Mkdir(d.path(), 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}

// commit records a successful init in workDir: the lock file init left
// (Terraform writes one when the workspace has none, and a plan without it
// fails), then the key.
func (d *dataDir) commit(workDir string) error {
	b, err := os.ReadFile(filepath.Join(workDir, ".terraform.lock.hcl"))
	switch {
	case err == nil:
		if err := cachefile.Write(d.savedLock(), b); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	case errors.Is(err, fs.ErrNotExist):
		// A configuration without providers has no lock file.
	default:
		return fmt.Errorf("data dir: %w", err)
	}
	if err := d.saveBackend(); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := cachefile.Write(d.keyFile(), []byte(d.key)); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}

// restore puts the lock file of the init being reused into workDir.
func (d *dataDir) restore(workDir string) error {
	b, err := os.ReadFile(d.savedLock())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(workDir, ".terraform.lock.hcl"), b, 0o644); err != nil {
		return fmt.Errorf("data dir: restore lock file: %w", err)
	}
	return nil
}

// initKey hashes what init's outcome depends on: the tool (Terraform or
// OpenTofu, whose version numbers overlap) and its version, the platform,
// the dependency lock file, the backend configuration, and the text of
// every configuration file (isConfigFile) of the copied tree (module
// sources, required_providers and backend blocks are in there; hashing all
// of them is the conservative choice). Remote modules with a version range are
// resolved once and kept until one of these changes.
func initKey(tool, tfVersion, tree, workDir string, backend map[string]string) (string, error) {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s\x00", len(s), s) }
	// v2: entries keep their backend record without credentials.
	field("driftd-init-v2")
	field(tool)
	field(tfVersion)
	field(runtime.GOOS + "_" + runtime.GOARCH)
	keys := make([]string, 0, len(backend))
	for k := range backend {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field("backend:" + k)
		field(backend[k])
	}
	lock, err := os.ReadFile(filepath.Join(workDir, ".terraform.lock.hcl"))
	switch {
	case err == nil:
		field("lock")
		field(string(lock))
	case errors.Is(err, fs.ErrNotExist):
		field("no lock")
	default:
		return "", fmt.Errorf("read dependency lock file: %w", err)
	}
	rel, err := filepath.Rel(tree, workDir)
	if err != nil {
		return "", err
	}
	field("dir:" + filepath.ToSlash(rel))
	err = filepath.WalkDir(tree, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != tree && (e.Name() == ".terraform" || e.Name() == ".git") {
				return filepath.SkipDir
			}
			return nil
		}
		if !isConfigFile(e.Name()) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(tree, p)
		field("file:" + filepath.ToSlash(r))
		field(string(b))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("init key: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isConfigFile reports whether a file of that name is configuration:
// *.tf and *.tf.json, and OpenTofu's *.tofu and *.tofu.json (which
// OpenTofu reads instead of a .tf file of the same base name, and
// Terraform ignores). Every caller is on the safe side with both.
func isConfigFile(name string) bool {
	for _, ext := range []string{".tf", ".tf.json", ".tofu", ".tofu.json"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func hashParts(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// needsInit reports whether plan failed because the reused data dir no
// longer matches what is installed (a plugin cache emptied by hand, a
// module directory removed): a fresh init fixes that.
func needsInit(stderr string) bool {
	for _, s := range []string{
		"Required plugins are not installed",
		"Inconsistent dependency lock file",
		"Module not installed",
		"Backend initialization required",
		"Could not load plugin",
	} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}
