package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/driftd/driftd/internal/testbed/provider"
)

// ErrNoTerraform means no terraform binary is on PATH.
var ErrNoTerraform = errors.New("testbed: no terraform binary on PATH")

// Env is one test environment: a provider mirror, a directory of objects
// (the provider's "cloud") and workspaces under a base directory.
type Env struct {
	// Dir is the base directory; workspaces live in Dir/workspaces.
	Dir string
	// Root is the object store, passed to the provider as TESTBED_ROOT.
	Root   string
	Mirror *Mirror
	// Terraform is the terraform binary to run.
	Terraform string
	// ReadLatency and Fail, when set, are passed to the provider as
	// TESTBED_READ_LATENCY and TESTBED_FAIL.
	ReadLatency time.Duration
	Fail        string
	// Now, when set, is the provider's clock (TESTBED_NOW): testbed_rotating
	// objects created with a Now in the past expire before their time.
	Now time.Time
}

// NewEnv returns an Env under baseDir using the SharedMirror and the
// terraform binary on PATH.
func NewEnv(ctx context.Context, baseDir string) (*Env, error) {
	m, err := SharedMirror(ctx)
	if err != nil {
		return nil, err
	}
	return NewEnvWithMirror(baseDir, m)
}

// NewEnvWithMirror is NewEnv with a given mirror, for an Env that must
// outlive os.TempDir() (the demo builds its own with BuildMirror).
func NewEnvWithMirror(baseDir string, m *Mirror) (*Env, error) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoTerraform, err)
	}
	base, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	e := &Env{Dir: base, Root: filepath.Join(base, "objects"), Mirror: m, Terraform: tf}
	if err := os.MkdirAll(e.Root, 0o755); err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	return e, nil
}

// Environ is the complete environment for Terraform in this Env: the CLI
// configuration (always set: a TF_CLI_CONFIG_FILE inherited from the caller
// may point anywhere), the object root, and what Terraform needs to run.
func (e *Env) Environ() []string {
	home := os.Getenv("HOME")
	if home == "" {
		home = e.Dir
	}
	env := []string{
		"TF_CLI_CONFIG_FILE=" + e.Mirror.CLIConfigFile,
		provider.EnvRoot + "=" + e.Root,
		"TF_IN_AUTOMATION=1",
		"CHECKPOINT_DISABLE=1",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
	}
	if e.ReadLatency > 0 {
		env = append(env, provider.EnvReadLatency+"="+e.ReadLatency.String())
	}
	if e.Fail != "" {
		env = append(env, provider.EnvFail+"="+e.Fail)
	}
	if !e.Now.IsZero() {
		env = append(env, provider.EnvNow+"="+e.Now.UTC().Format(time.RFC3339))
	}
	return env
}

// Workspace is a Terraform root module directory in an Env.
type Workspace struct {
	Name string
	Dir  string
	env  *Env
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// NewWorkspace writes Dir/workspaces/<name>/main.tf, adding the
// required_providers block and an empty provider "testbed" block when
// mainTF has none.
func (e *Env) NewWorkspace(name, mainTF string) (*Workspace, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("testbed: invalid workspace name %q", name)
	}
	w := &Workspace{Name: name, Dir: filepath.Join(e.Dir, "workspaces", name), env: e}
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	if err := w.SetMainTF(mainTF); err != nil {
		return nil, err
	}
	return w, nil
}

// OpenWorkspace returns the workspace for an existing directory, such as a
// copied example.
func (e *Env) OpenWorkspace(name, dir string) *Workspace {
	return &Workspace{Name: name, Dir: dir, env: e}
}

var (
	hasRequiredProviders = regexp.MustCompile(`(?m)^\s*required_providers\s*\{`)
	hasProviderBlock     = regexp.MustCompile(`(?m)^\s*provider\s+"testbed"\s*\{`)
)

// SetMainTF replaces main.tf, with the same boilerplate as NewWorkspace:
// how a test makes a pending (unapplied) code change.
func (w *Workspace) SetMainTF(mainTF string) error {
	var b strings.Builder
	if !hasRequiredProviders.MatchString(mainTF) {
		fmt.Fprintf(&b, "terraform {\n  required_providers {\n    testbed = {\n      source = %q\n    }\n  }\n}\n\n", provider.Address)
	}
	if !hasProviderBlock.MatchString(mainTF) {
		b.WriteString("provider \"testbed\" {}\n\n")
	}
	b.WriteString(mainTF)
	if err := os.WriteFile(filepath.Join(w.Dir, "main.tf"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	return nil
}

// StatePath is the workspace's local state file.
func (w *Workspace) StatePath() string { return filepath.Join(w.Dir, "terraform.tfstate") }

// Apply runs `terraform init` and `terraform apply -auto-approve` for real.
// (Tests may apply; driftd never does.)
func (w *Workspace) Apply(ctx context.Context) error {
	if _, err := w.Run(ctx, "init", "-input=false", "-no-color"); err != nil {
		return err
	}
	_, err := w.Run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	return err
}

// Run runs terraform with args in the workspace, with the Env's environment
// and nothing else, and returns its stdout. The error carries stderr.
func (w *Workspace) Run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, w.env.Terraform, args...)
	// On cancellation let Terraform stop its providers and release the state
	// lock, as it does on Ctrl-C, before it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = w.Dir
	cmd.Env = w.env.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("terraform %s in %s: %w\n%s", args[0], w.Name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// Object returns the stored object as JSON values (numbers as json.Number).
func (e *Env) Object(objectID string) (map[string]any, error) {
	p, err := e.objectPath(objectID)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("testbed: object %q: %w", objectID, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var o map[string]any
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("testbed: object %q: %w", objectID, err)
	}
	return o, nil
}

// SetAttribute changes one attribute of a stored object outside Terraform.
// attr is a dotted path through maps and lists: "secret", "tags.env",
// "rule.0.port", "settings.tier". A missing map key is added; a list index
// must exist.
func (e *Env) SetAttribute(objectID, attr string, value any) error {
	o, err := e.Object(objectID)
	if err != nil {
		return err
	}
	if err := setPath(o, strings.Split(attr, "."), value); err != nil {
		return fmt.Errorf("testbed: set %s on %q: %w", attr, objectID, err)
	}
	return e.writeObject(objectID, o)
}

// PutObject writes an object that no workspace manages, as someone outside
// Terraform would: its id and name are objectID, its generation 1, and attrs
// set the rest ("content", "tags", ...). A testbed_object data source reads
// it; PutObject again changes what it reads.
func (e *Env) PutObject(objectID string, attrs map[string]any) error {
	o := map[string]any{"id": objectID, "name": objectID, "generation": 1}
	for k, v := range attrs {
		o[k] = v
	}
	return e.writeObject(objectID, o)
}

// DeleteObject deletes a stored object outside Terraform.
func (e *Env) DeleteObject(objectID string) error {
	p, err := e.objectPath(objectID)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("testbed: delete %q: %w", objectID, err)
	}
	return nil
}

// Recreate models deleting and recreating the object outside Terraform: the
// same values under a new generation, which the provider reads as the
// original object gone.
func (e *Env) Recreate(objectID string) error {
	o, err := e.Object(objectID)
	if err != nil {
		return err
	}
	n, ok := o["generation"].(json.Number)
	if !ok {
		return fmt.Errorf("testbed: recreate %q: no generation", objectID)
	}
	g, err := n.Int64()
	if err != nil {
		return fmt.Errorf("testbed: recreate %q: %w", objectID, err)
	}
	o["generation"] = g + 1
	return e.writeObject(objectID, o)
}

func (e *Env) objectPath(objectID string) (string, error) {
	if !provider.ValidID(objectID) {
		return "", fmt.Errorf("testbed: invalid object id %q", objectID)
	}
	return filepath.Join(e.Root, objectID+".json"), nil
}

func (e *Env) writeObject(objectID string, o map[string]any) error {
	p, err := e.objectPath(objectID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("testbed: write %q: %w", objectID, err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("testbed: write %q: %w", objectID, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("testbed: write %q: %w", objectID, err)
	}
	return nil
}

// setPath sets v at path inside the JSON value root.
func setPath(root map[string]any, path []string, v any) error {
	var cur any = root
	for i, key := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[key] = v
				return nil
			}
			next, ok := c[key]
			if !ok || next == nil {
				return fmt.Errorf("%s is null or absent", strings.Join(path[:i+1], "."))
			}
			cur = next
		case []any:
			idx, err := strconv.Atoi(key)
			if err != nil || idx < 0 || idx >= len(c) {
				return fmt.Errorf("%s: no index %q in a list of %d", strings.Join(path[:i], "."), key, len(c))
			}
			if last {
				c[idx] = v
				return nil
			}
			cur = c[idx]
		default:
			return fmt.Errorf("%s is not a map or list", strings.Join(path[:i], "."))
		}
	}
	return errors.New("empty attribute path")
}
