package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestTerraformWorkspace: the workspace key scans that Terraform
// workspace's state: drift made in staging only is found with
// workspace: staging and not in the default workspace.
func TestTerraformWorkspace(t *testing.T) {
	f := newFleet(t)
	ws := f.add(t, "tfws", fmt.Sprintf(webTF, "tfws-${terraform.workspace}"), true)
	for _, args := range [][]string{{"workspace", "new", "-no-color", "staging"}, {"apply", "-auto-approve", "-input=false", "-no-color"}, {"workspace", "select", "-no-color", "default"}} {
		if _, err := ws.Run(t.Context(), args...); err != nil {
			t.Fatal(err)
		}
	}
	must(t, f.env.SetAttribute("tfws-staging-web", "tags.env", "changed-in-staging"))
	env := append(cliEnv(t), f.env.Environ()...)

	res := runCLI(t, env, "scan", "--config", f.writeConfig(t))
	if res.code != exitClean {
		t.Errorf("default workspace: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	f.extra["tfws"] = "    workspace: staging\n"
	res = runCLI(t, env, "scan", "--config", f.writeConfig(t))
	if res.code != exitDrift || !strings.Contains(res.stdout, "changed-in-staging") {
		t.Errorf("workspace staging: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	f.extra["tfws"] = "    workspace: nope\n"
	res = runCLI(t, env, "scan", "--config", f.writeConfig(t))
	if res.code != exitError || !strings.Contains(res.stdout, `Workspace "nope" doesn't exist`) {
		t.Errorf("workspace nope: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}
