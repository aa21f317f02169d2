package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/config"
)

func TestDemo(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("no terraform binary on PATH")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	path, err := demo(t.Context(), logger, dir, filepath.Join("..", "..", "..", "..", "examples"))
	if err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("driftd cannot load the demo config: %v", err)
	}
	var names []string
	for _, w := range cfg.Workspaces {
		names = append(names, w.Name)
	}
	if !slices.Equal(names, demoWorkspaces) {
		t.Errorf("workspaces = %v, want %v", names, demoWorkspaces)
	}

	// The drift each workspace promises, read from a real plan.
	want := map[string][]string{
		"network": {"drift testbed_object.firewall update", "change testbed_object.firewall update"},
		"app":     {"drift testbed_object.queue delete", "change testbed_object.config update", "change testbed_object.queue create"},
		"storage": nil,
	}
	for _, w := range cfg.Workspaces {
		got := planSummary(t, w.Dir, w.Env)
		if !slices.Equal(got, want[w.Name]) {
			t.Errorf("%s: plan = %q, want %q", w.Name, got, want[w.Name])
		}
	}
}

func TestWipe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string
		wantErr bool
	}{
		{"absent", nil, false},
		{"empty", []string{}, false},
		{"previous demo", []string{marker, "objects/x.json"}, false},
		{"foreign", []string{"precious"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "demo")
			if tt.files != nil {
				if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o755); err != nil {
					t.Fatal(err)
				}
				if len(tt.files) == 0 {
					if err := os.Remove(filepath.Join(dir, "objects")); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, f := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := wipe(dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("wipe: err = %v, want error %v", err, tt.wantErr)
			}
			entries, _ := os.ReadDir(dir)
			if !tt.wantErr && len(entries) != 0 {
				t.Errorf("after wipe %s holds %d entries, want none", dir, len(entries))
			}
			for _, f := range tt.files {
				if _, err := os.Stat(filepath.Join(dir, f)); tt.wantErr && err != nil {
					t.Errorf("refused wipe still removed %s: %v", f, err)
				}
			}
		})
	}
}

// planSummary runs plan and show -json, and lists drift and non-no-op
// changes as "drift|change ADDRESS ACTIONS".
func planSummary(t *testing.T, dir string, wsEnv map[string]string) []string {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
	for k, v := range wsEnv {
		env = append(env, k+"="+v)
	}
	tf := func(args ...string) []byte {
		cmd := exec.CommandContext(t.Context(), "terraform", args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("terraform %v in %s: %v\n%s", args, dir, err, stderr.Bytes())
		}
		return out
	}
	planFile := filepath.Join(t.TempDir(), "tfplan")
	tf("plan", "-input=false", "-no-color", "-lock=false", "-out="+planFile)
	var p struct {
		Drift   []change `json:"resource_drift"`
		Changes []change `json:"resource_changes"`
	}
	if err := json.Unmarshal(tf("show", "-json", planFile), &p); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Drift {
		got = append(got, "drift "+c.Address+" "+strings.Join(c.Change.Actions, ","))
	}
	for _, c := range p.Changes {
		if a := strings.Join(c.Change.Actions, ","); a != "no-op" {
			got = append(got, "change "+c.Address+" "+a)
		}
	}
	return got
}

type change struct {
	Address string `json:"address"`
	Change  struct {
		Actions []string `json:"actions"`
	} `json:"change"`
}
