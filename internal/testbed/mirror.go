// Package testbed sets up real Terraform workspaces against the testbed
// provider (package provider), installed from a local filesystem mirror
// because no provider registry is reachable from tests.
//
// The core functions take a context and return errors so that the demo CLI
// can use them too; New and the methods taking a testing.TB wrap them for
// tests.
package testbed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/driftd/driftd/internal/testbed/provider"
)

// ProviderVersion is the version the mirror offers. Workspaces need no
// version constraint: it is the only one.
const ProviderVersion = "0.1.0"

const providerPkg = "github.com/driftd/driftd/internal/testbed/cmd/terraform-provider-testbed"

// Mirror is a provider filesystem mirror holding the testbed provider, and a
// Terraform CLI configuration that installs providers from it alone.
type Mirror struct {
	// Dir is the mirror directory (the filesystem_mirror path), in the
	// unpacked layout HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/.
	Dir string
	// CLIConfigFile is the CLI configuration to use as TF_CLI_CONFIG_FILE.
	CLIConfigFile string
}

// BuildMirror compiles the provider with `go build` into
// <dir>/mirror/driftd.test/driftd/testbed/0.1.0/<GOOS>_<GOARCH>/ and writes
// <dir>/terraformrc pointing at it. It needs the Go toolchain and this
// module's source, so it only works from a checkout.
func BuildMirror(ctx context.Context, dir string) (*Mirror, error) {
	src, err := sourceDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build mirror: %w", err)
	}
	m := &Mirror{Dir: filepath.Join(dir, "mirror"), CLIConfigFile: filepath.Join(dir, "terraformrc")}
	bin := filepath.Join(m.Dir, filepath.FromSlash(provider.Address), ProviderVersion,
		runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-testbed_v"+ProviderVersion)
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return nil, fmt.Errorf("build mirror: %w", err)
	}
	// -trimpath keeps the binary identical across checkouts, so lock files
	// recorded against one build stay valid for the next.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, providerPkg)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build mirror: go build %s: %w\n%s", providerPkg, err, bytes.TrimSpace(out))
	}
	rc := fmt.Sprintf(`# Written by driftd's testbed: the testbed provider from a local mirror, nothing from the network.
provider_installation {
  filesystem_mirror {
    path    = %s
    include = ["%s/*/*"]
  }
}
`, strconv.Quote(m.Dir), strings.SplitN(provider.Address, "/", 2)[0])
	if err := os.WriteFile(m.CLIConfigFile, []byte(rc), 0o644); err != nil {
		return nil, fmt.Errorf("build mirror: %w", err)
	}
	return m, nil
}

// SharedMirror returns a mirror built once per version of the provider's
// source, under os.TempDir(), shared by every test process on the machine.
// A file lock makes concurrent callers (parallel `go test` packages) wait
// for one build instead of racing.
func SharedMirror(ctx context.Context) (*Mirror, error) {
	return sharedMirrorIn(ctx, os.TempDir())
}

func sharedMirrorIn(ctx context.Context, base string) (*Mirror, error) {
	key, err := sourceHash()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(base, "driftd-testbed-"+key)
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return nil, fmt.Errorf("shared mirror: %w", err)
	}
	defer unlock()
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return &Mirror{Dir: filepath.Join(dir, "mirror"), CLIConfigFile: filepath.Join(dir, "terraformrc")}, nil
	}
	// A previous build died half-way: start over.
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("shared mirror: %w", err)
	}
	m, err := BuildMirror(ctx, dir)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return nil, fmt.Errorf("shared mirror: %w", err)
	}
	return m, nil
}

// sourceDir is this package's directory in the checkout it was compiled
// from.
func sourceDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", errors.New("testbed: cannot locate the provider's source (built with -trimpath?); run from a driftd checkout")
	}
	return filepath.Dir(file), nil
}

// sourceHash identifies a provider build: the provider's Go files, the
// plugin library versions in go.mod, the Go version and the platform.
func sourceHash() (string, error) {
	src, err := sourceDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, d := range []string{"provider", filepath.Join("cmd", "terraform-provider-testbed")} {
		files, err := filepath.Glob(filepath.Join(src, d, "*.go"))
		if err != nil {
			return "", err
		}
		slices.Sort(files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("testbed: hash provider source: %w", err)
			}
			fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
			h.Write(b)
		}
	}
	// Only the plugin libraries: other engineers' go.mod edits must not force
	// a rebuild.
	gomod, err := os.ReadFile(filepath.Join(src, "..", "..", "go.mod"))
	if err != nil {
		return "", fmt.Errorf("testbed: hash provider source: %w", err)
	}
	for line := range strings.Lines(string(gomod)) {
		if strings.Contains(line, "terraform-plugin-") {
			h.Write([]byte(line))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
