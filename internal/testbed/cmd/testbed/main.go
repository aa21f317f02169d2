// Command testbed sets up driftd's demo: real Terraform workspaces on the
// testbed provider, applied, then changed outside Terraform.
//
//	go run ./internal/testbed/cmd/testbed demo --dir .demo
//
// prints the path of a driftd configuration listing the workspaces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"

	"github.com/driftd/driftd/internal/testbed"
	"github.com/driftd/driftd/internal/testbed/provider"
)

const usage = `usage: testbed demo [--dir DIR] [--examples DIR]

demo builds the testbed provider, copies the example workspaces to
DIR/workspaces, applies them, changes some of their objects outside
Terraform, and writes DIR/workspaces.yaml for driftd. DIR is wiped first.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "testbed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "demo" {
		fmt.Fprint(stderr, usage)
		return errors.New("unknown or missing command")
	}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".demo", "directory to (re)create")
	examples := fs.String("examples", "examples", "directory holding the example workspaces")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := demo(ctx, logger, *dir, *examples)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, cfg)
	return nil
}

// marker marks a directory this command created, the only kind it wipes.
const marker = ".driftd-demo"

// demoWorkspaces are applied in this order; see examples/*/main.tf.
var demoWorkspaces = []string{"network", "app", "storage"}

func demo(ctx context.Context, logger *slog.Logger, dir, examples string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := wipe(dir); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, marker), nil, 0o644); err != nil {
		return "", err
	}

	logger.Info("building the testbed provider mirror", "dir", dir)
	m, err := testbed.BuildMirror(ctx, dir)
	if err != nil {
		return "", err
	}
	env, err := testbed.NewEnvWithMirror(dir, m)
	if err != nil {
		return "", err
	}

	wss := map[string]*testbed.Workspace{}
	for _, name := range demoWorkspaces {
		wsDir := filepath.Join(dir, "workspaces", name)
		if err := copyTF(filepath.Join(examples, name), wsDir); err != nil {
			return "", err
		}
		ws := env.OpenWorkspace(name, wsDir)
		logger.Info("applying", "workspace", name)
		if err := ws.Apply(ctx); err != nil {
			return "", err
		}
		wss[name] = ws
	}

	logger.Info("changing objects outside Terraform")
	// network: in-place drift on a tag, a nested block and a sensitive value.
	for attr, v := range map[string]any{
		"tags.tier":   "changed-by-hand",
		"rule.1.port": 2222,
		"secret":      "rotated-by-hand",
	} {
		if err := env.SetAttribute("network-firewall", attr, v); err != nil {
			return "", err
		}
	}
	// app: an object deleted outside Terraform, and code merged but not
	// applied.
	if err := env.DeleteObject("app-queue"); err != nil {
		return "", err
	}
	if err := editFile(filepath.Join(wss["app"].Dir, "main.tf"), `content = "release-41"`, `content = "release-42"`); err != nil {
		return "", err
	}
	// storage stays clean.

	cfg := filepath.Join(dir, "workspaces.yaml")
	if err := writeConfig(cfg, env, wss); err != nil {
		return "", err
	}
	return cfg, nil
}

// wipe empties dir, refusing to touch a non-empty directory that this
// command did not create.
func wipe(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("%s is not empty and was not made by this command (no %s); refusing to wipe it", dir, marker)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return os.MkdirAll(dir, 0o755)
}

// copyTF copies the .tf files of an example: nothing else belongs in a
// fresh workspace.
func copyTF(src, dst string) error {
	files, err := filepath.Glob(filepath.Join(src, "*.tf"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no .tf files in %s (run from the repository root or pass --examples)", src)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func editFile(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), old) {
		return fmt.Errorf("%s: %q not found; examples and demo are out of step", path, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

type demoConfig struct {
	Version    int             `yaml:"version"`
	Workspaces []demoWorkspace `yaml:"workspaces"`
}

type demoWorkspace struct {
	Name string            `yaml:"name"`
	Dir  string            `yaml:"dir"`
	Env  map[string]string `yaml:"env"`
}

func writeConfig(path string, env *testbed.Env, wss map[string]*testbed.Workspace) error {
	c := demoConfig{Version: 1}
	for _, name := range demoWorkspaces {
		c.Workspaces = append(c.Workspaces, demoWorkspace{
			Name: name,
			Dir:  wss[name].Dir,
			Env: map[string]string{
				provider.EnvRoot:     env.Root,
				"TF_CLI_CONFIG_FILE": env.Mirror.CLIConfigFile,
			},
		})
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	header := "# Written by `go run ./internal/testbed/cmd/testbed demo`; rewritten on every run.\n"
	return os.WriteFile(path, append([]byte(header), b...), 0o644)
}
