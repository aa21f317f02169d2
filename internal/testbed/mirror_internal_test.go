package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Concurrent callers must end up with one complete mirror, built once,
// whatever the interleaving.
func TestSharedMirrorConcurrent(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	const callers = 4
	mirrors := make([]*Mirror, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { mirrors[i], errs[i] = sharedMirrorIn(t.Context(), base) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if *mirrors[i] != *mirrors[0] {
			t.Errorf("caller %d got %+v, caller 0 got %+v", i, *mirrors[i], *mirrors[0])
		}
	}
	m := mirrors[0]
	bins, err := filepath.Glob(filepath.Join(m.Dir, "driftd.test", "driftd", "testbed", ProviderVersion, "*", "terraform-provider-testbed_v"+ProviderVersion+"*"))
	if err != nil || len(bins) != 1 {
		t.Fatalf("provider binaries in mirror = %v (%v), want exactly one", bins, err)
	}
	rc, err := os.ReadFile(m.CLIConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"filesystem_mirror", `"` + m.Dir + `"`, `"driftd.test/*/*"`} {
		if !strings.Contains(string(rc), want) {
			t.Errorf("CLI config lacks %s:\n%s", want, rc)
		}
	}
	if strings.Contains(string(rc), "direct") {
		t.Errorf("CLI config allows direct installation:\n%s", rc)
	}

	// A finished mirror is reused, not rebuilt.
	info, err := os.Stat(bins[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sharedMirrorIn(t.Context(), base); err != nil {
		t.Fatal(err)
	}
	if again, err := os.Stat(bins[0]); err != nil || !again.ModTime().Equal(info.ModTime()) {
		t.Errorf("second call rebuilt the provider (mtime %v -> %v, %v)", info.ModTime(), again.ModTime(), err)
	}
}
