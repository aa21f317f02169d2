package runner

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestShowKeyBinaries: the key changes when terraform or a provider the
// data dir links to is replaced, and not otherwise.
func TestShowKeyBinaries(t *testing.T) {
	dir := t.TempDir()
	const plan = "0123abcd" // a planfile.Summary.Key
	terraform := filepath.Join(dir, "terraform")
	cached := filepath.Join(dir, "cache", "registry.terraform.io", "hashicorp", "null", "3.2.0", "linux_amd64")
	dataDir := filepath.Join(dir, "data")
	link := filepath.Join(dataDir, "providers", "registry.terraform.io", "hashicorp", "null", "3.2.0", "linux_amd64")
	for _, d := range []string{cached, filepath.Dir(link)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	provider := filepath.Join(cached, "terraform-provider-null_v3.2.0")
	for _, p := range []string{terraform, provider} {
		if err := os.WriteFile(p, []byte("binary"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(cached, link); err != nil {
		t.Fatal(err)
	}
	key := func() string {
		t.Helper()
		k, err := showKey(plan, Terraform, terraform, dataDir)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key()
	if again := key(); again != base {
		t.Fatalf("key not stable: %s, then %s", base, again)
	}
	later := time.Now().Add(time.Hour)
	for _, p := range []string{terraform, provider} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
		if k := key(); k == base {
			t.Errorf("%s replaced: key unchanged", filepath.Base(p))
		}
		base = key()
	}
	// Overwritten in place with its mtime put back, as `cp -p` of another
	// build of the same size does: only the change time tells.
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		fi, err := os.Stat(provider)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(provider, []byte("BINARY"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(provider, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		if k := key(); k == base {
			t.Error("provider overwritten, same size and mtime: key unchanged")
		}
		base = key()
	}
	if k, err := showKey(plan, Terraform, terraform, filepath.Join(dir, "no-providers")); err != nil || k == base {
		t.Errorf("data dir without providers: key %s (with: %s), err %v", k, base, err)
	}
	// A report made with one tool is never reused for the other, whatever
	// the binary's path.
	if k, err := showKey(plan, Tofu, terraform, dataDir); err != nil || k == base {
		t.Errorf("tofu: key %s (terraform: %s), err %v", k, base, err)
	}
}
