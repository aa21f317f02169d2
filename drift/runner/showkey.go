package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
)

// showKey identifies what `terraform show -json` prints for a plan file of
// content planKey (planfile.Summary.Key): that key, the tool, and the
// binaries that turn the plan into JSON, terraform and every provider in the data dir,
// each by path, size, modification time and, where the platform has them,
// inode and change time (providers give the schemas, and with them which
// attributes are sensitive). A caller that kept the report of a plan with
// the same key may skip show (Spec.KnownPlan).
func showKey(planKey, tool, terraformPath, dataDir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "driftd show key 1\nplan %s\ntool %s\n", planKey, tool)
	if err := stampFile(h, "terraform", terraformPath); err != nil {
		return "", err
	}
	if err := stampTree(h, filepath.Join(dataDir, "providers"), "", 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// stampTree stamps every file under dir, following the links into the
// plugin cache that reused and shared data dirs hold. The provider tree is
// host/namespace/type/version/platform/files, so depth is bounded.
func stampTree(h hash.Hash, dir, rel string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("show key: %s: too deep", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("show key: %w", err)
	}
	for _, e := range entries { // sorted by name
		p, r := filepath.Join(dir, e.Name()), filepath.Join(rel, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("show key: %w", err)
		}
		if fi.IsDir() {
			if err := stampTree(h, p, r, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := stampFile(h, r, p); err != nil {
			return err
		}
	}
	return nil
}

func stampFile(h hash.Hash, name, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("show key: %w", err)
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("show key: %w", err)
	}
	fmt.Fprintf(h, "%q %q %d %d %s\n", name, target, fi.Size(), fi.ModTime().UnixNano(), changeStamp(fi))
	return nil
}
