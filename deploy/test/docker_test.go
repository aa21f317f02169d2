package deploytest

import (
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/driftd/driftd/drift/runner/releasetest"
)

// dockerfile is deploy/docker/Dockerfile parsed by buildkit.
type dockerfile struct {
	stages []instructions.Stage
	args   map[string]string // default of every ARG
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "deploy", "docker", "Dockerfile"))
	must(t, err)
	defer f.Close()
	res, err := parser.Parse(f)
	must(t, err)
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	stages, meta, err := instructions.Parse(res.AST, nil)
	must(t, err)
	d := dockerfile{stages: stages, args: map[string]string{}}
	addArgs := func(a *instructions.ArgCommand) {
		for _, kv := range a.Args {
			if kv.Value != nil {
				d.args[kv.Key] = *kv.Value
			}
		}
	}
	for i := range meta {
		addArgs(&meta[i])
	}
	for _, s := range stages {
		for _, c := range s.Commands {
			if a, ok := c.(*instructions.ArgCommand); ok {
				addArgs(a)
			}
		}
	}
	return d
}

// context copies the build context as Docker sends it: the repository less
// what .dockerignore leaves out.
func buildContext(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	must(t, err)
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	must(t, err)
	pm, err := patternmatcher.New(patterns)
	must(t, err)
	dst := t.TempDir()
	err = filepath.WalkDir(root, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "." {
			return nil
		}
		if e.IsDir() && (rel == ".git" || rel == "bin" || strings.HasPrefix(rel, ".demo")) {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		if skip, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); err != nil || skip {
			return err
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
	must(t, err)
	return dst
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestDockerfile: the image's shape (non-root user, the binary as
// entrypoint, health check on /healthz, a data volume), every COPY source
// present in the context .dockerignore leaves, and the build stage's own
// commands run outside Docker: the static driftd they build reports the
// version, commit and date given as build args, and `driftd
// install-terraform`, as the Dockerfile calls it, installs a verified
// terraform (from a mirror here: the releases site is unreachable).
func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t)
	if len(d.stages) != 2 || d.stages[0].Name != "build" {
		t.Fatalf("stages %d, first %q: want build, then the image", len(d.stages), d.stages[0].Name)
	}
	ctx := buildContext(t)
	build, final := d.stages[0], d.stages[1]

	var runs []*instructions.RunCommand
	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			checkCopySources(t, ctx, c)
		case *instructions.RunCommand:
			runs = append(runs, c)
		}
	}
	var (
		entrypoint, cmd []string
		user, health    string
		volumes         []string
		fromBuild       []string
	)
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From == "build" {
				fromBuild = append(fromBuild, c.SourcePaths...)
				if c.DestPath != "/usr/local/bin/" {
					t.Errorf("binaries copied to %s", c.DestPath)
				}
			} else {
				checkCopySources(t, ctx, c)
			}
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Error("ENTRYPOINT in shell form: signals would reach the shell, not driftd")
			}
			entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			cmd = c.CmdLine
		case *instructions.UserCommand:
			user = c.User
		case *instructions.HealthCheckCommand:
			health = strings.Join(c.Health.Test, " ")
		case *instructions.VolumeCommand:
			volumes = append(volumes, c.Volumes...)
		}
	}
	if !slices.Equal(entrypoint, []string{"/usr/local/bin/driftd"}) || !slices.Contains(fromBuild, "/out/driftd") || !slices.Contains(fromBuild, "/out/terraform") {
		t.Errorf("entrypoint %v, copied from build %v: want the built driftd (and terraform beside it)", entrypoint, fromBuild)
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("USER %q: want a non-root numeric user", user)
	}
	if !strings.Contains(health, "http://127.0.0.1:8080/healthz") || !slices.Contains(cmd, "0.0.0.0:8080") {
		t.Errorf("health check %q, command %v: want /healthz on the port serve listens on", health, cmd)
	}
	if !slices.Contains(volumes, "/var/lib/driftd") {
		t.Errorf("volumes %v: want /var/lib/driftd", volumes)
	}

	// The build stage's RUN lines, as a shell in the image runs them.
	if len(runs) != 3 {
		t.Fatalf("%d RUN lines in the build stage: want go mod download, go build, install-terraform", len(runs))
	}
	out := t.TempDir()
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform on PATH for the install step")
	}
	tfVersion := terraformVersion(t, tf)
	srv := releasetest.New(t, tf, tfVersion, false)
	key := filepath.Join(t.TempDir(), "key.asc")
	must(t, os.WriteFile(key, []byte(srv.PublicKey), 0o644))
	args := map[string]string{
		"VERSION": "v9.8.7", "COMMIT": "0123456789abcdef0123456789abcdef01234567", "DATE": "2026-11-25T10:00:00Z",
		"TERRAFORM_VERSION": tfVersion, "TERRAFORM_RELEASES_URL": srv.URL,
	}
	for i, r := range runs {
		line := strings.Join(r.CmdLine, " ")
		if !r.PrependShell {
			t.Fatalf("RUN %q: want shell form", line)
		}
		line = strings.ReplaceAll(line, "/out", out)
		if i == 2 {
			// The one change: the test mirror signs with its own key.
			line += " --releases-key " + key
		}
		sh := exec.Command("sh", "-c", line)
		sh.Dir = ctx
		sh.Env = os.Environ()
		for k, v := range d.args {
			if a, ok := args[k]; ok {
				v = a
			}
			sh.Env = append(sh.Env, k+"="+v)
		}
		if o, err := sh.CombinedOutput(); err != nil {
			t.Fatalf("RUN %s: %v\n%s", line, err, o)
		}
	}
	bin := filepath.Join(out, "driftd")
	checkStatic(t, bin)
	v, err := exec.Command(bin, "version").Output()
	must(t, err)
	for _, want := range []string{"driftd v9.8.7\n", "commit: " + args["COMMIT"] + "\n", "date:   2026-11-25T10:00:00Z\n"} {
		if !strings.Contains(string(v), want) {
			t.Errorf("driftd version lacks %q:\n%s", want, v)
		}
	}
	if got := terraformVersion(t, filepath.Join(out, "terraform")); got != tfVersion {
		t.Errorf("installed terraform %s, want %s", got, tfVersion)
	}
}

func checkCopySources(t *testing.T, ctx string, c *instructions.CopyCommand) {
	t.Helper()
	for _, src := range c.SourcePaths {
		if _, err := os.Stat(filepath.Join(ctx, src)); err != nil {
			t.Errorf("COPY %s: not in the build context .dockerignore leaves: %v", src, err)
		}
	}
}

func terraformVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	must(t, err)
	return strings.TrimPrefix(strings.Fields(string(out))[1], "v")
}

// checkStatic: no dynamic loader, no shared library.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	must(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: not static", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs %v: not static", bin, libs)
	}
}
