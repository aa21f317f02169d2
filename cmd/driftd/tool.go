package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/driftd/driftd/drift/config"
)

// toolFlags are --tool and --binary of scan and check: what plans, over
// what the config says.
type toolFlags struct {
	tool, binary string
}

func (t *toolFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.tool, "tool", "", "plan with terraform or tofu (OpenTofu), over the config's tool (default terraform)")
	fs.StringVar(&t.binary, "binary", "", "the terraform or tofu executable to plan with (default: found on PATH or in the install cache)")
}

// apply sets the flags' tool and binary on wss and checks the result, as
// the config's own tool and binary are checked.
func (t *toolFlags) apply(wss []config.Workspace) error {
	if t.tool != "" {
		if err := config.CheckTool(t.tool, ""); err != nil {
			return fmt.Errorf("--tool: %w", err)
		}
	}
	binary := t.binary
	if binary != "" {
		abs, err := filepath.Abs(binary)
		if err != nil {
			return fmt.Errorf("--binary: %w", err)
		}
		if err := config.CheckBinary(abs); err != nil {
			return fmt.Errorf("--binary: %w", err)
		}
		binary = abs
	}
	for i := range wss {
		w := &wss[i]
		if t.tool != "" {
			w.Tool = t.tool
		}
		if binary != "" {
			w.Binary = binary
		}
		if err := config.CheckTool(w.Tool, w.TerraformVersion); err != nil {
			return fmt.Errorf("workspace %s: %w", w.Name, err)
		}
	}
	return nil
}
