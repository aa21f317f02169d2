package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	install "github.com/hashicorp/hc-install"
	hcfs "github.com/hashicorp/hc-install/fs"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
	"github.com/hashicorp/hc-install/src"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// binaryFile identifies an executable's content cheaply: a binary replaced
// in place (an upgrade) gets another size or modification time.
type binaryFile struct {
	path  string
	size  int64
	mtime time.Time
}

// version returns bin's version. Each start of terraform costs about 0.1 s
// of CPU, so the answer is kept per binary file: a scan that reuses its
// data dir then starts only `terraform plan`, whose options need no version
// check in terraform-exec. When the Runner has not asked yet, it asks
// through tf, whose memo then serves terraform-exec's own check in init.
func (r *Runner) version(ctx context.Context, bin binary, tf *tfexec.Terraform) (string, error) {
	if bin.version != "" {
		return bin.version, nil
	}
	fi, err := os.Stat(bin.path)
	if err != nil {
		return "", fmt.Errorf("terraform binary: %w", err)
	}
	key := binaryFile{path: bin.path, size: fi.Size(), mtime: fi.ModTime()}
	r.binMu.Lock()
	v, ok := r.versions[key]
	r.binMu.Unlock()
	if ok {
		return v, nil
	}
	tv, _, err := tf.Version(ctx, false)
	if err != nil {
		return "", err
	}
	r.binMu.Lock()
	r.versions[key] = tv.String()
	r.binMu.Unlock()
	return tv.String(), nil
}

// binary is a resolved terraform or tofu executable.
type binary struct {
	path string
	// tool is Terraform or Tofu.
	tool string
	// version is known when a constraint or the tool made driftd ask;
	// otherwise "".
	version string
}

// binaryKey is what a binary is resolved from.
type binaryKey struct {
	tool, path, constraint string
}

// binary returns the executable a spec plans with, from the Runner's memo,
// spec.Binary, PATH, or the install cache (CacheDir/terraform/<version>/,
// CacheDir/tofu/<version>/), installing terraform there when allowed.
func (r *Runner) binary(ctx context.Context, spec Spec) (binary, error) {
	key := binaryKey{tool: spec.tool(), path: spec.Binary, constraint: spec.TerraformVersion}
	r.binMu.Lock()
	defer r.binMu.Unlock()
	if b, ok := r.bins[key]; ok {
		return b, nil
	}
	var (
		b   binary
		err error
	)
	switch {
	case key.path != "":
		b, err = r.named(ctx, key)
	case key.tool == Tofu:
		b, err = r.findTofu(ctx, key.constraint)
	default:
		b, err = r.resolve(ctx, key.constraint)
	}
	if err != nil {
		return binary{}, err
	}
	r.bins[key] = b
	return b, nil
}

// named checks the executable a spec names: that it is the tool it says,
// of a version its constraint accepts.
func (r *Runner) named(ctx context.Context, key binaryKey) (binary, error) {
	cons, err := constraints(key.constraint)
	if err != nil {
		return binary{}, err
	}
	v, err := identify(ctx, key.path, key.tool, r.opts.Environ)
	if err != nil {
		return binary{}, err
	}
	if cons != nil && !cons.Check(v) {
		return binary{}, fmt.Errorf("%s is %s %s, which does not satisfy %q", key.path, productNames[key.tool], v, key.constraint)
	}
	return binary{path: key.path, tool: key.tool, version: v.String()}, nil
}

// findTofu finds tofu on PATH or in CacheDir/tofu/<version>/. driftd never
// downloads OpenTofu (its releases are not HashiCorp's, which driftd
// verifies): it is installed beside driftd, as terraform may be.
func (r *Runner) findTofu(ctx context.Context, constraint string) (binary, error) {
	cons, err := constraints(constraint)
	if err != nil {
		return binary{}, err
	}
	prod := r.tofuProduct()
	path, installRoot, err := r.find(ctx, prod, cons)
	if err != nil {
		return binary{}, fmt.Errorf("no tofu matching %q on PATH or in %s (driftd does not download OpenTofu: install it there, or name it with binary)", constraintText(constraint), installRoot)
	}
	// Asked even without a constraint: a tofu that is not OpenTofu is an
	// error, not a scan planned with something else.
	v, err := prod.GetVersion(ctx, path)
	if err != nil {
		return binary{}, err
	}
	return binary{path: path, tool: Tofu, version: v.String()}, nil
}

// tofuProduct is hc-install's description of OpenTofu's binary, for
// finding it.
func (r *Runner) tofuProduct() product.Product {
	return product.Product{
		Name:       Tofu,
		BinaryName: func() string { return Tofu },
		GetVersion: func(ctx context.Context, path string) (*version.Version, error) {
			return identify(ctx, path, Tofu, r.opts.Environ)
		},
	}
}

func constraints(constraint string) (version.Constraints, error) {
	if constraint == "" {
		return nil, nil
	}
	cons, err := version.NewConstraint(constraint)
	if err != nil {
		return nil, fmt.Errorf("version constraint %q: %w", constraint, err)
	}
	return cons, nil
}

// productNames are what `version` prints first for each tool.
var productNames = map[string]string{Terraform: "Terraform", Tofu: "OpenTofu"}

// versionLineRE is the first line of `terraform version` or `tofu version`.
var versionLineRE = regexp.MustCompile(`^(Terraform|OpenTofu) v(\S+)`)

// identify runs `path version` and returns the version of the tool it
// says it is, or an error when it says it is another: `version -json`
// prints the same fields for both. It runs with the minimal environment of
// terraformProduct's probe.
func identify(ctx context.Context, path, tool string, environ []string) (*version.Version, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version")
	cmd.Env = probeEnv(environ)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s version: %w", path, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	m := versionLineRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return nil, fmt.Errorf("%s version: unexpected output %q", path, truncate(line, 120))
	}
	if m[1] != productNames[tool] {
		return nil, fmt.Errorf("%s is %s v%s, not %s (tool: %s)", path, m[1], m[2], productNames[tool], tool)
	}
	v, err := version.NewVersion(m[2])
	if err != nil {
		return nil, fmt.Errorf("%s version: %w", path, err)
	}
	return v, nil
}

// find looks for prod's binary of a version cons accepts (any when nil)
// in the install cache, CacheDir/<binary name>/<version>/, and on PATH.
// It returns the install cache's root too, for messages and installs.
func (r *Runner) find(ctx context.Context, prod product.Product, cons version.Constraints) (path, installRoot string, err error) {
	installRoot = filepath.Join(r.opts.CacheDir, prod.BinaryName())
	cached, err := filepath.Glob(filepath.Join(installRoot, "*"))
	if err != nil {
		return "", installRoot, err
	}
	var found src.Findable = &hcfs.AnyVersion{Product: &prod, ExtraPaths: cached}
	if cons != nil {
		found = &hcfs.Version{Product: prod, Constraints: cons, ExtraPaths: cached}
	}
	path, err = install.NewInstaller().Ensure(ctx, []src.Source{found})
	return path, installRoot, err
}

// resolve finds terraform for a version constraint ("" = any) on PATH or in
// the install cache, installing it there when allowed.
func (r *Runner) resolve(ctx context.Context, constraint string) (binary, error) {
	prod := r.product()
	cons, err := constraints(constraint)
	if err != nil {
		return binary{}, err
	}
	path, installRoot, ferr := r.find(ctx, prod, cons)
	if ferr != nil {
		if !r.opts.AllowInstall {
			return binary{}, fmt.Errorf("no terraform matching %q on PATH or in %s, and installing is not allowed", constraintText(constraint), installRoot)
		}
		if path, err = r.install(ctx, prod, constraint, cons, installRoot); err != nil {
			return binary{}, err
		}
	}
	if cons == nil {
		// Any version will do: Runner.version asks once, through
		// terraform-exec, whose own check in init then reuses the answer.
		return binary{path: path, tool: Terraform}, nil
	}
	v, err := prod.GetVersion(ctx, path)
	if err != nil {
		return binary{}, fmt.Errorf("terraform version of %s: %w", path, err)
	}
	return binary{path: path, tool: Terraform, version: v.String()}, nil
}

// install downloads a matching release into a fresh directory under
// installRoot, then renames it to installRoot/<version> so that each version
// has its own directory and a half-finished download is never found.
func (r *Runner) install(ctx context.Context, prod product.Product, constraint string, cons version.Constraints, installRoot string) (string, error) {
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("download terraform %s: %w", constraintText(constraint), err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.InstallTimeout)
	defer cancel()
	if err := os.MkdirAll(installRoot, 0o755); err != nil {
		return fail(err)
	}
	r.opts.Logger.InfoContext(ctx, "installing terraform", "constraint", constraintText(constraint), "dir", installRoot)
	tmp, _, v, err := download(ctx, prod, Releases{}, constraint, cons, installRoot, r.opts.InstallTimeout)
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	final := filepath.Join(installRoot, v.String())
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, prod.BinaryName())); serr != nil {
			return fail(err)
		}
		// Another driftd installed the same version meanwhile.
	}
	return filepath.Join(final, prod.BinaryName()), nil
}

// Releases says where terraform releases are downloaded from.
type Releases struct {
	// URL is a mirror with the HashiCorp releases site's layout, index.json
	// files included; "" is the site itself.
	URL string
	// PublicKey is the armored PGP public key that signs the releases'
	// SHA256SUMS; "" is HashiCorp's.
	PublicKey string
}

// download fetches the release matching constraint (an exact version, or
// the newest match of cons) into a fresh directory under parent, verifying
// its checksum against the signed SHA256SUMS, and returns that directory,
// the binary in it and its version. A failed download leaves nothing.
func download(ctx context.Context, prod product.Product, rel Releases, constraint string, cons version.Constraints, parent string, timeout time.Duration) (dir, path string, v *version.Version, err error) {
	tmp, err := os.MkdirTemp(parent, ".install-")
	if err != nil {
		return "", "", nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	// A plain client: hc-install's default retries with backoff, which turns
	// a closed network into minutes of waiting.
	client := &http.Client{Timeout: timeout}
	var inst src.Installable
	if ev, verr := version.NewVersion(constraint); verr == nil {
		inst = &releases.ExactVersion{Product: prod, Version: ev, InstallDir: tmp, Timeout: timeout, HTTPClient: client,
			ApiBaseURL: rel.URL, ArmoredPublicKey: rel.PublicKey}
	} else {
		inst = &releases.LatestVersion{Product: prod, Constraints: cons, InstallDir: tmp, Timeout: timeout, HTTPClient: client,
			ApiBaseURL: rel.URL, ArmoredPublicKey: rel.PublicKey}
	}
	path, err = install.NewInstaller().Install(ctx, []src.Installable{inst})
	if err != nil {
		// hc-install (v0.10) loses a checksum or size mismatch found while
		// unpacking and fails later on the missing binary.
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("the release did not unpack (its checksum or size did not match, or the archive has no terraform): %w", err)
		}
		if ctx.Err() != nil {
			err = errors.Join(err, fmt.Errorf("gave up after %s", timeout))
		}
		return "", "", nil, err
	}
	if v, err = prod.GetVersion(ctx, path); err != nil {
		return "", "", nil, err
	}
	return tmp, path, v, nil
}

// InstallOptions configure Install.
type InstallOptions struct {
	// Version is an exact version or a constraint ("~> 1.11": the newest
	// match).
	Version string
	// Dir receives the binary, as Dir/terraform.
	Dir      string
	Releases Releases
	// Timeout bounds the download. Default: 5m.
	Timeout time.Duration
	// Environ provides PATH and HOME to the version check of the download.
	Environ []string
}

// Install downloads a terraform release into opts.Dir, its checksum
// verified against the signed SHA256SUMS, and returns its version. It is
// `driftd install-terraform`, for images that carry terraform.
func Install(ctx context.Context, opts InstallOptions) (string, error) {
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("install terraform %s: %w", opts.Version, err)
	}
	cons, err := version.NewConstraint(opts.Version)
	if err != nil {
		return fail(err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fail(err)
	}
	prod := terraformProduct(opts.Environ)
	tmp, path, v, err := download(ctx, prod, opts.Releases, opts.Version, cons, opts.Dir, opts.Timeout)
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	// hc-install leaves the binary 0700; an image runs it as another user.
	if err := os.Chmod(path, 0o755); err != nil {
		return fail(err)
	}
	if err := os.Rename(path, filepath.Join(opts.Dir, prod.BinaryName())); err != nil {
		return fail(err)
	}
	return v.String(), nil
}

// probeEnv is the environment of a version probe: what it needs of
// environ and nothing else (hc-install's own probe passes driftd's whole
// environment).
func probeEnv(environ []string) []string {
	env := []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"}
	for _, kv := range environ {
		if k, _, _ := cutEnv(kv); k == "PATH" || k == "HOME" || k == "TF_CLI_CONFIG_FILE" {
			env = append(env, kv)
		}
	}
	return env
}

func constraintText(c string) string {
	if c == "" {
		return "(any version)"
	}
	return c
}

func (r *Runner) product() product.Product { return terraformProduct(r.opts.Environ) }

// terraformProduct is hc-install's Terraform product with a version probe
// that runs with a minimal environment: hc-install's own passes driftd's
// whole environment to `terraform version`.
func terraformProduct(environ []string) product.Product {
	p := product.Terraform
	env := probeEnv(environ)
	p.GetVersion = func(ctx context.Context, path string) (*version.Version, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, "version", "-json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s version -json: %w", path, err)
		}
		var v struct {
			Version *version.Version `json:"terraform_version"`
		}
		if err := json.Unmarshal(out, &v); err != nil || v.Version == nil {
			return nil, fmt.Errorf("%s version -json: unexpected output", path)
		}
		return v.Version, nil
	}
	return p
}
