package runner

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeTofu stands in for OpenTofu 1.99.0 around the fake terraform at
// inner: `tofu version` says OpenTofu, everything else is the fake's (whose
// `version -json` prints the same fields for both tools).
func fakeTofu(t *testing.T, path, inner, says string) {
	t.Helper()
	script := "#!/bin/sh\nif [ \"$1\" = version ] && [ \"$2\" != -json ]; then echo '" + says + " v1.99.0'; echo 'on linux_amd64'; exit 0; fi\nexec " + inner + " \"$@\"\n"
	writeFile(t, path, script)
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestTofuResolution: tofu is found in the install cache (or PATH) or
// named, must say it is OpenTofu, must satisfy the constraint, and is
// never downloaded.
func TestTofuResolution(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{AllowInstall: true})
	inner := filepath.Join(r.opts.CacheDir, "terraform", "1.99.0", "terraform")
	elsewhere := t.TempDir()
	named, impostor := filepath.Join(elsewhere, "my-tofu"), filepath.Join(elsewhere, "terraform-as-tofu")
	fakeTofu(t, named, inner, "OpenTofu")
	fakeTofu(t, impostor, inner, "Terraform")

	tests := []struct {
		name    string
		spec    Spec
		wantErr string
		wantBin string
	}{
		{name: "not installed", spec: Spec{Tool: Tofu},
			wantErr: "no tofu matching \"(any version)\" on PATH or in " + filepath.Join(r.opts.CacheDir, "tofu") + " (driftd does not download OpenTofu"},
		{name: "named", spec: Spec{Tool: Tofu, Binary: named, TerraformVersion: "~> 1.99"}, wantBin: named},
		{name: "named, another version", spec: Spec{Tool: Tofu, Binary: named, TerraformVersion: "~> 1.10.0"},
			wantErr: named + " is OpenTofu 1.99.0, which does not satisfy \"~> 1.10.0\""},
		{name: "named, not OpenTofu", spec: Spec{Tool: Tofu, Binary: impostor}, wantErr: impostor + " is Terraform v1.99.0, not OpenTofu (tool: tofu)"},
		{name: "named tofu as terraform", spec: Spec{Tool: Terraform, Binary: named}, wantErr: named + " is OpenTofu v1.99.0, not Terraform (tool: terraform)"},
	}
	for _, tt := range tests {
		spec := fakeSpec(t)
		spec.Tool, spec.Binary, spec.TerraformVersion = tt.spec.Tool, tt.spec.Binary, tt.spec.TerraformVersion
		res, _, err := fakeScan(t, r, spec, nil)
		switch {
		case tt.wantErr != "":
			rerr, ok := errors.AsType[*Error](err)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !ok || rerr.Stage != StageInstall {
				t.Errorf("%s: err %v, want %q at %s", tt.name, err, tt.wantErr, StageInstall)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case res.TerraformVersion != "1.99.0":
			t.Errorf("%s: version %q", tt.name, res.TerraformVersion)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(r.opts.CacheDir, "tofu")); len(entries) != 0 {
		t.Errorf("something was installed for tofu: %v", entries)
	}

	// In the install cache, as an operator or an image puts it there.
	fakeTofu(t, filepath.Join(r.opts.CacheDir, "tofu", "1.99.0", "tofu"), inner, "OpenTofu")
	spec := fakeSpec(t)
	spec.Tool, spec.TerraformVersion = Tofu, ">= 1.6"
	if _, calls, err := fakeScan(t, r, spec, nil); err != nil || !slices.Equal(calls, []string{"init", "plan", "show"}) {
		t.Errorf("tofu from the cache: calls %v, %v", calls, err)
	}
}

// TestToolKeysInit: a workspace planned with terraform, then with tofu of
// the same version number, is initialised again, and its init set is not
// the other tool's.
func TestToolKeysInit(t *testing.T) {
	t.Parallel()
	r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
	inner := filepath.Join(r.opts.CacheDir, "terraform", "1.99.0", "terraform")
	fakeTofu(t, filepath.Join(r.opts.CacheDir, "tofu", "1.99.0", "tofu"), inner, "OpenTofu")
	spec := fakeSpec(t)
	scanInits(t, r, spec, true, false)
	spec.Tool = Tofu
	scanInits(t, r, spec, true, false)
	spec.Tool = Terraform
	scanInits(t, r, spec, true)

	// Another workspace with the same lock file, planned with tofu, records
	// an init set of its own instead of using terraform's.
	other := fakeSpec(t)
	for _, s := range []Spec{spec, other} {
		writeFile(t, filepath.Join(s.Dir, ".terraform.lock.hcl"), "# the same providers\n")
	}
	scanInits(t, r, spec, true)
	other.Tool = Tofu
	scanInits(t, r, other, true)
	if sets, _ := filepath.Glob(filepath.Join(r.opts.CacheDir, "init-sets", "*.json")); len(sets) != 2 {
		t.Errorf("init sets %v, want one per tool", sets)
	}
}
