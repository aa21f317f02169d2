//go:build unix

package workdir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/gitsource"
	"github.com/driftd/driftd/internal/reliability"
)

// linkCase is a tree with symlinks (link name -> target) that the scan
// refuses (refused names the link) or keeps.
type linkCase struct {
	name    string
	links   func(outside string) [][2]string
	refused string
}

// linkCases: links are resolved as the system does, through every link on
// the way; lexically, "l/l/l/../../secret.tfvars" stays inside.
var linkCases = []linkCase{
	{name: "absolute, outside", links: func(o string) [][2]string {
		return [][2]string{{"creds.auto.tfvars", filepath.Join(o, "secret.tfvars")}}
	}, refused: "creds.auto.tfvars"},
	{name: "relative, climbing out", links: func(string) [][2]string {
		return [][2]string{{"modules/shared", "../../outside"}}
	}, refused: "modules/shared"},
	{name: "through a link to the tree itself", links: func(string) [][2]string {
		return [][2]string{{"l", "."}, {"x.auto.tfvars", "l/l/l/../../secret.tfvars"}}
	}, refused: "x.auto.tfvars"},
	{name: "through a link in a skipped dir", links: func(o string) [][2]string {
		return [][2]string{{".terraform/out", filepath.Join(o, "sub")}, {"y.auto.tfvars", ".terraform/out/../secret.tfvars"}}
	}, refused: "y.auto.tfvars"},
	{name: "inside, kept", links: func(string) [][2]string {
		return [][2]string{{"mod", "modules/m"}, {"l", "."}, {"vars.tfvars", "l/modules/../modules/m/main.tf"}}
	}},
}

func makeLinks(t *testing.T, dir string, links [][2]string) {
	t.Helper()
	for _, l := range links {
		p := filepath.Join(dir, l[0])
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.Symlink(l[1], p))
	}
}

// outsideTree makes a directory beside the trees with a secret in it.
func outsideTree(t *testing.T) string {
	o := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(o, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(o, "secret.tfvars"), []byte(`password = "hunter2"`), 0o600))
	return o
}

// checkLinkErr checks Prepare's answer and counts a refusal in refused.
func checkLinkErr(t *testing.T, tc linkCase, d *Dir, err error, refused *reliability.Counter) {
	t.Helper()
	if tc.refused == "" {
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		d.Close()
		return
	}
	lerr, ok := errors.AsType[*LinkError](err)
	if !ok || lerr.Link != tc.refused || !strings.Contains(err.Error(), "symlink "+tc.refused) {
		t.Fatalf("Prepare = %v, want a *LinkError naming %s", err, tc.refused)
	}
	refused.Add(1)
}

// linksRefused counts, for the reliability table, the workspaces of a
// source (dir, git) refused for a link leading outside.
func linksRefused(t *testing.T, source string) *reliability.Counter {
	return reliability.Times(t, "work dir", "symlink in a "+source+" workspace that resolves outside it (absolute, climbing out, through other links)",
		"scan refused, naming the link; nothing copied or left in the work root")
}

func TestPrepareRefusesLinksOutside(t *testing.T) {
	t.Parallel()
	refused := linksRefused(t, "dir")
	for _, tc := range linkCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			outside := outsideTree(t)
			// The tree is a subdirectory, so that "../outside" and
			// "l/l/l/../.." leave it for a directory of the test's.
			src := filepath.Join(outside, "ws")
			writeTree(t, src, map[string]string{"main.tf": "", "modules/m/main.tf": ""}, nil)
			makeLinks(t, src, tc.links(outside))
			root := t.TempDir()
			d, err := Prepare(context.Background(), Spec{Name: "ws", Dir: src}, Options{Root: root, Environ: []string{}})
			checkLinkErr(t, tc, d, err, refused)
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

func TestPrepareGitRefusesLinksOutside(t *testing.T) {
	t.Parallel()
	m, err := gitsource.New(t.TempDir(), nil)
	must(t, err)
	refused := linksRefused(t, "git")
	for _, tc := range linkCases {
		if strings.Contains(tc.name, "skipped dir") {
			continue // git does not check .terraform out as the copy skips it
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			outside := outsideTree(t)
			repo := filepath.Join(outside, "ws")
			commit := gitRepo(t, repo)
			makeLinks(t, repo, tc.links(outside))
			commit(map[string]string{"main.tf": "", "modules/m/main.tf": ""})
			root := t.TempDir()
			spec := Spec{Name: "ws", Git: &gitsource.Source{URL: "file://" + repo, Ref: "main"}}
			d, err := Prepare(context.Background(), spec, Options{Root: root, Mirrors: m, Environ: []string{}})
			checkLinkErr(t, tc, d, err, refused)
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}
