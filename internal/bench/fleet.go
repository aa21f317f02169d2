package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/driftd/driftd/internal/testbed"
)

// FleetOptions size a fleet of testbed workspaces.
type FleetOptions struct {
	Workspaces int
	// Resources is the number of testbed_object instances per workspace.
	Resources int
	// Drifted is the fraction of workspaces changed outside Terraform.
	Drifted float64
	// Prefix names the workspaces (<prefix>000, ...); objects are
	// <workspace>-r<i>.
	Prefix string
	// ApplyConcurrency is how many workspaces are applied at once.
	ApplyConcurrency int
}

// Fleet is a set of applied testbed workspaces, some of them drifted.
type Fleet struct {
	Env        *testbed.Env
	Workspaces []*testbed.Workspace
	// Resources is the number of objects in each workspace.
	Resources int
	// Drifted names the workspaces whose objects were changed outside
	// Terraform: exactly the ones a correct scan reports as drifted.
	Drifted map[string]bool
}

// workspaceTF is one workspace: count objects with a sensitive attribute,
// as real ones have, so that redaction is part of what is measured.
const workspaceTF = `resource "testbed_object" "r" {
  count   = %d
  name    = "%s-r${count.index}"
  content = "v1"
  secret  = "not-a-real-secret-${count.index}"
  tags    = { env = "prod", team = "core", index = tostring(count.index) }
  ports   = [80, 443]
}
`

// BuildFleet creates and applies the workspaces under env for real, then
// drifts an evenly spread fraction of them. The env's read latency must be
// zero while applying (it is set back by the caller for the scans).
func BuildFleet(ctx context.Context, env *testbed.Env, opts FleetOptions) (*Fleet, error) {
	if opts.Workspaces < 1 || opts.Resources < 1 {
		return nil, fmt.Errorf("bench: a fleet needs at least one workspace and one resource, got %d and %d", opts.Workspaces, opts.Resources)
	}
	if opts.Drifted < 0 || opts.Drifted > 1 {
		return nil, fmt.Errorf("bench: drifted fraction %v outside [0, 1]", opts.Drifted)
	}
	f := &Fleet{Env: env, Resources: opts.Resources, Drifted: map[string]bool{}}
	for i := range opts.Workspaces {
		name := fmt.Sprintf("%s%03d", opts.Prefix, i)
		ws, err := env.NewWorkspace(name, fmt.Sprintf(workspaceTF, opts.Resources, name))
		if err != nil {
			return nil, err
		}
		f.Workspaces = append(f.Workspaces, ws)
		// Spread the drifted ones: workspace i is drifted when the running
		// count floor((i+1)*fraction) steps up at i.
		if int(float64(i+1)*opts.Drifted) > int(float64(i)*opts.Drifted) {
			f.Drifted[name] = true
		}
	}
	if err := applyAll(ctx, f.Workspaces, max(1, opts.ApplyConcurrency)); err != nil {
		return nil, err
	}
	for name := range f.Drifted {
		if err := env.SetAttribute(name+"-r0", "tags.env", "changed-by-hand"); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func applyAll(ctx context.Context, wss []*testbed.Workspace, concurrency int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, concurrency)
	)
	for _, ws := range wss {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := ws.Apply(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// DriftedNames lists the drifted workspaces, sorted.
func (f *Fleet) DriftedNames() []string {
	out := make([]string, 0, len(f.Drifted))
	for n := range f.Drifted {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TerraformEnv is the environment a CI job would give terraform for these
// workspaces, with the given provider read latency.
func (f *Fleet) TerraformEnv(latency time.Duration) []string {
	return terraformEnv(f.Env, latency)
}

func terraformEnv(env *testbed.Env, latency time.Duration) []string {
	e := append([]string(nil), env.Environ()...)
	if latency > 0 {
		e = append(e, "TESTBED_READ_LATENCY="+latency.String())
	}
	return e
}

// WriteConfig writes a driftd config listing every workspace of the fleet,
// each with the environment terraform needs and extraEnv, and returns its
// path. schedule may be empty (driftd's default).
func WriteConfig(path string, env *testbed.Env, names []string, dir func(name string) string, latency time.Duration, schedule string, extraEnv map[string]string) error {
	var b strings.Builder
	b.WriteString("version: 1\ndefaults:\n  timeout: 15m\n")
	if schedule != "" {
		fmt.Fprintf(&b, "  schedule: %q\n", schedule)
	}
	fmt.Fprintf(&b, "  env:\n    TESTBED_ROOT: %q\n    TF_CLI_CONFIG_FILE: %q\n", env.Root, env.Mirror.CLIConfigFile)
	if latency > 0 {
		fmt.Fprintf(&b, "    TESTBED_READ_LATENCY: %q\n", latency.String())
	}
	for _, k := range slices.Sorted(maps.Keys(extraEnv)) {
		fmt.Fprintf(&b, "    %s: %q\n", k, extraEnv[k])
	}
	b.WriteString("workspaces:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    dir: %q\n", n, dir(n))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// baselineScript is what a CI job does for one workspace: a fresh
// checkout (the code, the lock file and, with the local backend, the
// state), then init, plan and show, with no plugin cache. With "inplace" it
// works in the directory itself, keeping .terraform between runs, as a
// person re-running terraform by hand would.
const baselineScript = `#!/usr/bin/env bash
# Written by driftd's benchmark (internal/bench): bare terraform, one workspace.
# Each step's wall, user and system seconds go to $BENCH_PLANS/<name>.times.
set -euo pipefail
src=$1
name=$(basename "$src")
times="$BENCH_PLANS/$name.times"
if [ "${2:-fresh}" = inplace ]; then
  w=$src
else
  w=$(mktemp -d "$BENCH_SCRATCH/$name.XXXXXX")
  cp "$src/main.tf" "$src/.terraform.lock.hcl" "$src/terraform.tfstate" "$w/"
fi
cd "$w"
exec 3>&2
TIMEFORMAT="init %R %U %S"
{ time terraform init -input=false -no-color >/dev/null 2>&3; } 2>>"$times"
TIMEFORMAT="plan %R %U %S"
{ time terraform plan -input=false -no-color -lock=false -out=tfplan >/dev/null 2>&3; } 2>>"$times"
TIMEFORMAT="show %R %U %S"
{ time terraform show -json tfplan >"$BENCH_PLANS/$name.json" 2>&3; } 2>>"$times"
`

// peersScript is what drift-detection jobs built on bare terraform run
// for each workspace: a fresh checkout, then `terraform init && terraform
// plan -detailed-exitcode`, exit code 2 taken for drift. The code goes to
// $BENCH_PLANS/<name>.exit; a failed init or plan fails the script.
const peersScript = `#!/usr/bin/env bash
# Written by driftd's benchmark (internal/bench): init && plan -detailed-exitcode, one workspace.
set -euo pipefail
src=$1
name=$(basename "$src")
w=$(mktemp -d "$BENCH_SCRATCH/$name.XXXXXX")
cp "$src/main.tf" "$src/.terraform.lock.hcl" "$src/terraform.tfstate" "$w/"
cd "$w"
terraform init -input=false -no-color >/dev/null
code=0
terraform plan -input=false -no-color -detailed-exitcode >/dev/null || code=$?
echo "$code" >"$BENCH_PLANS/$name.exit"
[ "$code" != 1 ]
`

// Phase is the total cost of one terraform step over a fleet.
type Phase struct {
	Name string        `json:"name"`
	Wall time.Duration `json:"wall_ns"`
	CPU  time.Duration `json:"cpu_ns"`
}

// readPhases sums the step times the baseline script wrote into dir.
func readPhases(dir string) ([]Phase, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.times"))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var phases []Phase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var (
				name           string
				real, usr, sys float64
			)
			if _, err := fmt.Sscanf(line, "%s %f %f %f", &name, &real, &usr, &sys); err != nil {
				return nil, fmt.Errorf("bench: %s: %q: %w", f, line, err)
			}
			i := slices.IndexFunc(phases, func(p Phase) bool { return p.Name == name })
			if i < 0 {
				phases = append(phases, Phase{Name: name})
				i = len(phases) - 1
			}
			phases[i].Wall += seconds(real)
			phases[i].CPU += seconds(usr + sys)
		}
	}
	return phases, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// writeScript writes a per-workspace shell script into dir.
func writeScript(dir, name, script string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return p, nil
}
