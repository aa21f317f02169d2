package deploytest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"sigs.k8s.io/yaml"
)

// TestActionlint lints the example workflow as users copy it, and the same
// workflow calling this repository's action.yml as a local action, so that
// actionlint also reads the action's metadata and checks every input the
// workflow passes and every output it reads.
func TestActionlint(t *testing.T) {
	example := filepath.Join(root, "deploy", "github", "drift.yml")
	data, err := os.ReadFile(example)
	must(t, err)
	if !bytes.Contains(data, []byte("uses: driftd/driftd@v1")) {
		t.Fatal("the example no longer uses driftd/driftd@v1: update this test")
	}

	// A project of its own: the repository's action at its root, the
	// workflow in .github/workflows.
	proj := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(proj, ".github", "workflows"), 0o755))
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(proj, "action.yml"), action, 0o644))
	local := filepath.Join(proj, ".github", "workflows", "drift.yml")
	must(t, os.WriteFile(local, bytes.ReplaceAll(data, []byte("uses: driftd/driftd@v1"), []byte("uses: ./")), 0o644))
	// Reads of an output the action does not declare must fail: the check
	// that proves actionlint read action.yml.
	bad := filepath.Join(proj, ".github", "workflows", "bad.yml")
	must(t, os.WriteFile(bad, bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("uses: driftd/driftd@v1"), []byte("uses: ./")),
		[]byte("steps.driftd.outputs.report"), []byte("steps.driftd.outputs.reportt")), 0o644))

	p, err := actionlint.NewProject(proj)
	must(t, err)
	for _, tt := range []struct {
		path    string
		project *actionlint.Project
		want    string // "" for clean
	}{
		{example, nil, ""},
		{local, p, ""},
		{bad, p, "reportt"},
	} {
		var out bytes.Buffer
		l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{WorkingDir: proj})
		must(t, err)
		errs, err := l.LintFile(tt.path, tt.project)
		must(t, err)
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		got := strings.Join(msgs, "\n")
		switch {
		case tt.want == "" && len(errs) > 0:
			t.Errorf("actionlint %s:\n%s", tt.path, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("actionlint %s: want an error about %q, got:\n%s", tt.path, tt.want, got)
		}
	}
}

// TestWorkflowKeepsNotifyRecords checks that the example workflow keeps what
// reporters have told between nights. A GitHub Actions cache entry is written
// once per key: the records (which change every run) need a key that changes
// every run, per shard, restored by prefix, and must stay out of the plugin
// cache's entry, whose key changes only with lock files.
func TestWorkflowKeepsNotifyRecords(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "deploy", "github", "drift.yml"))
	must(t, err)
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `json:"uses"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	must(t, yaml.Unmarshal(data, &wf))
	const notify = "~/.cache/driftd/notify"
	var records, plugins int
	for _, step := range wf.Jobs["scan"].Steps {
		if !strings.HasPrefix(step.Uses, "actions/cache@") {
			continue
		}
		paths := strings.Fields(step.With["path"])
		switch {
		case len(paths) == 1 && paths[0] == notify:
			records++
			key, restore := step.With["key"], step.With["restore-keys"]
			if !strings.Contains(key, "github.run_id") || !strings.Contains(key, "matrix.shard") {
				t.Errorf("notify records cached under %q: want a key per run and per shard", key)
			}
			if restore == "" || !strings.HasPrefix(key, restore) {
				t.Errorf("notify records restored by %q: want a prefix of the key %q", restore, key)
			}
		case len(paths) > 0 && paths[0] == "~/.cache/driftd":
			plugins++
			if !slices.Contains(paths, "!"+notify) {
				t.Errorf("the plugin cache entry %v also saves %s under a key that rarely changes", paths, notify)
			}
		}
	}
	if records != 1 || plugins != 1 {
		t.Errorf("want one cache step for the notify records and one for the rest of the cache, got %d and %d", records, plugins)
	}
}
