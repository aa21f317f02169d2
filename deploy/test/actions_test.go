package deploytest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
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
