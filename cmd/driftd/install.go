package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/driftd/driftd/drift/runner"
)

// installTerraform downloads a terraform release into a directory, as a
// container image's build does (deploy/docker/Dockerfile).
func (a *app) installTerraform(ctx context.Context, args []string) (int, error) {
	fs := a.newFlagSet("install-terraform", "install-terraform --version VERSION [--dir DIR]")
	ver := fs.String("version", "", "terraform version, or a constraint such as \"~> 1.11\" (its newest match); required")
	dir := fs.String("dir", ".", "directory the terraform binary is written to")
	releasesURL := fs.String("releases-url", "", "a mirror with the HashiCorp releases site's layout (default: the site itself)")
	keyFile := fs.String("releases-key", "", "file with the armored PGP public key that signs the mirror's SHA256SUMS (default: HashiCorp's)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up on the download after this long")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitError, err
	}
	if len(pos) > 0 {
		return exitError, fmt.Errorf("unexpected arguments %s", strings.Join(pos, " "))
	}
	if *ver == "" {
		fs.Usage()
		return exitError, errors.New("--version is required: an image should name the terraform it carries")
	}
	rel := runner.Releases{URL: *releasesURL}
	if *keyFile != "" {
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			return exitError, fmt.Errorf("--releases-key: %w", err)
		}
		rel.PublicKey = string(key)
	}
	v, err := runner.Install(ctx, runner.InstallOptions{Version: *ver, Dir: *dir, Releases: rel, Timeout: *timeout, Environ: a.environ})
	if err != nil {
		return exitError, err
	}
	fmt.Fprintf(a.stdout, "terraform %s installed as %s\n", v, filepath.Join(*dir, "terraform"))
	return exitClean, nil
}
