package runner

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/driftd/driftd/internal/cachefile"
)

// initSets let a workspace skip init when another workspace with the same
// dependency lock file has been initialised: in a fleet, many workspaces
// share one provider set, and init costs a terraform start each (the
// largest part of a cold scan after plan, docs/performance.md).
//
// A data dir that init left holding nothing but links from providers/ into
// the shared plugin cache (no modules/, no backend state, no selected
// workspace) depends only on the lock file, Terraform's version and the
// platform. After such an init, the links and the lock file as init left it
// are recorded in CacheDir/init-sets/<key>.json. A workspace without backend
// config whose own data dir is not reusable and whose lock file gives the
// same key gets the links and the lock file instead of an init.
//
// What init would have done besides is checked by plan, which refuses to
// run on a data dir that lacks it: a module call without an installed
// module ("Module not installed"), a backend or cloud block without backend
// state ("Backend initialization required"), a provider that the lock file
// lacks or whose locked version the configuration no longer accepts. So a
// plan that fails, for any reason, on a data dir made from a set is run
// again after a real init: a set can cost a failing workspace a second plan,
// never a wrong result.
type initSets struct {
	dir   string // CacheDir/init-sets
	cache string // the shared plugin cache; links must point into it
}

// initSet is one recorded init.
type initSet struct {
	Lock  string     `json:"lock"` // the dependency lock file init left
	Links []initLink `json:"links"`
}

// initLink is one symlink of a data dir.
type initLink struct {
	Path   string `json:"path"`   // slash-separated, relative to TF_DATA_DIR
	Target string `json:"target"` // inside the shared plugin cache
}

func newInitSets(cacheDir, pluginCache string) (*initSets, error) {
	s := &initSets{dir: filepath.Join(cacheDir, "init-sets"), cache: pluginCache}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("init sets: %w", err)
	}
	return s, nil
}

// initSetKey names the set a workspace in workDir may use, or "" when it may
// use none: backend config is init's alone to apply, and without a lock
// file init chooses the providers. The set is the lock file's provider set
// (lockFileKey) under one version of one tool.
func initSetKey(tool, tfVersion, workDir string, backend map[string]string) (string, error) {
	if len(backend) > 0 {
		return "", nil
	}
	providers, err := lockFileKey(workDir)
	if err != nil || providers == "" {
		return "", err
	}
	return hashParts("driftd-init-set-v2", tool, tfVersion, providers), nil
}

func (s *initSets) path(key string) string { return filepath.Join(s.dir, key+".json") }

// load returns the set recorded under key, or nil when there is none.
func (s *initSets) load(key string) (*initSet, error) {
	var set initSet
	found, err := cachefile.Load(s.path(key), &set)
	if err != nil {
		return nil, fmt.Errorf("init set: %w", err)
	}
	if !found {
		return nil, nil
	}
	for _, l := range set.Links {
		if !filepath.IsLocal(filepath.FromSlash(l.Path)) || !s.inCache(l.Target) {
			return nil, fmt.Errorf("init set %s: link %q -> %q is not a provider in the plugin cache", s.path(key), l.Path, l.Target)
		}
	}
	return &set, nil
}

// record keeps what an init left in dataDir and workDir under key, when
// dataDir holds nothing but links into the shared plugin cache. It reports
// whether it recorded.
func (s *initSets) record(key, dataDir, workDir string) (bool, error) {
	set := initSet{Links: []initLink{}}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return false, fmt.Errorf("init set: %w", err)
	}
	for _, e := range entries {
		if e.Name() != "providers" || !e.IsDir() {
			return false, nil
		}
	}
	eligible := true
	err = filepath.WalkDir(dataDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		target, err := os.Readlink(p)
		if err != nil || !s.inCache(target) {
			// A file of its own (a private plugin cache's copy) or a link
			// elsewhere: not something a link can reproduce.
			eligible = false
			return fs.SkipAll
		}
		rel, _ := filepath.Rel(dataDir, p)
		set.Links = append(set.Links, initLink{Path: filepath.ToSlash(rel), Target: target})
		return nil
	})
	if err != nil || !eligible {
		return false, err
	}
	lock, err := os.ReadFile(filepath.Join(workDir, ".terraform.lock.hcl"))
	if err != nil {
		return false, fmt.Errorf("init set: %w", err)
	}
	set.Lock = string(lock)
	b, err := json.Marshal(set)
	if err != nil {
		return false, err
	}
	if err := cachefile.Write(s.path(key), b); err != nil {
		return false, fmt.Errorf("init set: %w", err)
	}
	return true, nil
}

// used records that the set of key was used, for prune.
func (s *initSets) used(key string) {
	now := time.Now()
	_ = os.Chtimes(s.path(key), now, now) // best effort: at worst pruned early
}

// prune removes the sets no scan has recorded or used since before cutoff
// (and temporary files a killed driftd left). It returns how many sets it
// removed. A scan that loses its set to prune runs a real init.
func (s *initSets) prune(cutoff time.Time) (int, error) {
	n, err := cachefile.Prune(s.dir, cutoff)
	if err != nil {
		return n, fmt.Errorf("init sets: %w", err)
	}
	return n, nil
}

// apply makes the links of set in dataDir, which must be empty, and writes
// its lock file into workDir.
func (set *initSet) apply(dataDir, workDir string) error {
	for _, l := range set.Links {
		p := filepath.Join(dataDir, filepath.FromSlash(l.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("init set: %w", err)
		}
		if err := os.Symlink(l.Target, p); err != nil {
			return fmt.Errorf("init set: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(workDir, ".terraform.lock.hcl"), []byte(set.Lock), 0o644); err != nil {
		return fmt.Errorf("init set: write lock file: %w", err)
	}
	return nil
}

func (s *initSets) inCache(target string) bool {
	rel, err := filepath.Rel(s.cache, target)
	return err == nil && filepath.IsAbs(target) && rel != "." && filepath.IsLocal(rel)
}
