package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-version"
)

// The tools a workspace may be planned with: Terraform, and OpenTofu, whose
// CLI and JSON driftd relies on are the same (docs/opentofu.md).
const (
	ToolTerraform = "terraform"
	ToolTofu      = "tofu"
)

// tofuFirst is OpenTofu's first release.
var tofuFirst = version.Must(version.NewVersion("1.6.0"))

// CheckTool says what is wrong with planning with tool under a version
// constraint ("" for any version): a tool driftd does not know, or for
// OpenTofu a constraint no OpenTofu release can satisfy. driftd never
// downloads OpenTofu; the constraint picks among the tofu binaries found.
func CheckTool(tool, constraint string) error {
	switch tool {
	case ToolTerraform:
		return nil
	case ToolTofu:
	default:
		return fmt.Errorf("unknown tool %q: want %q or %q (OpenTofu)", tool, ToolTerraform, ToolTofu)
	}
	if constraint == "" {
		return nil
	}
	cons, err := version.NewConstraint(constraint)
	if err != nil {
		return nil // the constraint's own error, reported where it is read
	}
	for _, c := range cons {
		if !admitsTofu(c) {
			return fmt.Errorf("no OpenTofu release satisfies %q: OpenTofu's releases start at %s", constraint, tofuFirst)
		}
	}
	return nil
}

// admitsTofu reports whether some release of 1.6.0 or later satisfies c.
// Each operator is an interval: the lowest release past 1.6.0 and the
// constraint's own version that could satisfy it is one of a few
// candidates. When in doubt it says yes: the constraint is checked against
// `tofu version` at scan time anyway.
func admitsTofu(c *version.Constraint) bool {
	v, err := version.NewVersion(strings.TrimLeft(c.String(), "=!<>~ \t"))
	if err != nil {
		return true
	}
	s := v.Segments()
	candidates := []string{
		tofuFirst.String(),
		v.String(),
		fmt.Sprintf("%d.%d.%d", s[0], s[1], s[2]+1),
		fmt.Sprintf("%d.%d.0", s[0], s[1]+1),
		fmt.Sprintf("%d.0.0", s[0]+1),
		"999999.0.0",
	}
	for _, cs := range candidates {
		cand, err := version.NewVersion(cs)
		if err == nil && cand.GreaterThanOrEqual(tofuFirst) && c.Check(cand) {
			return true
		}
	}
	return false
}

// CheckBinary says what is wrong with path, an absolute path, as the
// executable to plan with.
func CheckBinary(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}
