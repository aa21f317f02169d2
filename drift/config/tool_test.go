package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckTool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tool, constraint string
		want             string // "" for no error
	}{
		{tool: "terraform", constraint: "= 1.5.7"},
		{tool: "tofu"},
		{tool: "tofu", constraint: "= 1.6.0"},
		{tool: "tofu", constraint: "~> 1.5"},
		{tool: "tofu", constraint: "~> 1.6"},
		{tool: "tofu", constraint: "< 1.6.1"},
		{tool: "tofu", constraint: "!= 1.5.0"},
		{tool: "tofu", constraint: "> 1.99"},
		{tool: "tofu", constraint: ">= 1.3, < 1.6.1"},
		{tool: "tofu", constraint: "v1.9.0"},
		{tool: "tofu", constraint: "= 1.5.7", want: "no OpenTofu release satisfies"},
		{tool: "tofu", constraint: "1.5.7", want: "no OpenTofu release satisfies"},
		{tool: "tofu", constraint: "<= 1.5.99", want: "no OpenTofu release satisfies"},
		{tool: "tofu", constraint: "~> 1.5.0", want: "no OpenTofu release satisfies"},
		{tool: "tofu", constraint: "~> 0.15", want: "no OpenTofu release satisfies"},
		{tool: "tofu", constraint: "< 1.6", want: "no OpenTofu release satisfies"},
		{tool: "opentofu", want: `unknown tool "opentofu"`},
		{tool: "", want: `unknown tool ""`},
	}
	for _, tt := range tests {
		err := CheckTool(tt.tool, tt.constraint)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckTool(%q, %q) = %v, want nil", tt.tool, tt.constraint, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckTool(%q, %q) = %v, want %q", tt.tool, tt.constraint, err, tt.want)
		}
	}
}

func TestCheckBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe, plain := filepath.Join(dir, "tofu"), filepath.Join(dir, "notes")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755))
	must(os.WriteFile(plain, []byte("x"), 0o644))
	for path, want := range map[string]string{
		exe:                        "",
		plain:                      "is not executable",
		dir:                        "is not a regular file",
		filepath.Join(dir, "none"): "does not exist",
	} {
		err := CheckBinary(path)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("CheckBinary(%s) = %v, want %q", path, err, want)
		}
	}
}
