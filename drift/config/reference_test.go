package config

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fieldLists are the decoder's field lists by name.
var fieldLists = map[string][]string{
	"topFields": topFields, "workspaceFields": workspaceFields, "gitFields": gitFields, "ignoreFields": ignoreFields,
	"reporterFields": reporterFields, "githubFields": githubFields, "appFields": appFields, "slackFields": slackFields,
	"notifyFields": notifyFields, "webhookFields": webhookFields, "serverFields": serverFields, "retentionFields": retentionFields,
	"sloFields": sloFields,
}

// schema lists every mapping the decoder reads, by its path in a file, with
// the name of the field list it accepts there. A list of mappings is
// written "[]". defaults takes the workspace keys but name, dir and git
// (the reference says so in prose).
var schema = []struct{ path, fields string }{
	{"", "topFields"},
	{"workspaces[]", "workspaceFields"},
	{"workspaces[].git", "gitFields"},
	{"workspaces[].ignore[]", "ignoreFields"},
	{"workspaces[].slo", "sloFields"},
	{"reporters", "reporterFields"},
	{"reporters.github", "githubFields"},
	{"reporters.github.app", "appFields"},
	{"reporters.slack", "slackFields"},
	{"reporters.slack.notify", "notifyFields"},
	{"reporters.webhooks[]", "webhookFields"},
	{"reporters.webhooks[].notify", "notifyFields"},
	{"server", "serverFields"},
	{"server.retention", "retentionFields"},
}

// referenceSections maps each heading of docs/configuration.md whose
// tables document keys to the mappings those keys belong to. A key cell
// may hold several keys (`token_env` / `token_file`) and dotted paths
// into a nested mapping (`retention.max_age`).
var referenceSections = map[string][]string{
	"Top level":    {""},
	"Workspace":    {"workspaces[]"},
	"Git sources":  {"workspaces[].git"},
	"Ignore rules": {"workspaces[].ignore[]"},
	"SLO":          {"workspaces[].slo"},
	"Server":       {"server"},
	"Reporters":    {"reporters"},
	"GitHub":       {"reporters.github"},
	"Slack":        {"reporters.slack"},
	"Webhooks":     {"reporters.webhooks[]"},
	"Notify":       {"reporters.slack.notify", "reporters.webhooks[].notify"},
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// acceptedKeys is every key path the decoder accepts.
func acceptedKeys() map[string]bool {
	keys := map[string]bool{}
	for _, s := range schema {
		for _, f := range fieldLists[s.fields] {
			keys[joinKey(s.path, f)] = true
		}
	}
	return keys
}

var codeSpanRE = regexp.MustCompile("`([^`]+)`")

// documentedKeys reads the key column of every table under the headings of
// referenceSections, and returns each key path with the heading it is
// documented under; missing lists the headings not found.
func documentedKeys(t *testing.T, path string) (keys map[string]string, missing []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys = map[string]string{}
	seen := map[string]bool{}
	var heading string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "#"); ok {
			heading = strings.TrimSpace(strings.TrimLeft(h, "#"))
			continue
		}
		prefixes, ok := referenceSections[heading]
		if !ok || !strings.HasPrefix(line, "|") {
			continue
		}
		cell, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range codeSpanRE.FindAllStringSubmatch(cell, -1) {
			seen[heading] = true
			for _, p := range prefixes {
				k := joinKey(p, m[1])
				keys[k] = heading
				// retention.max_age documents retention too.
				for i := len(p); i < len(k); i++ {
					if k[i] == '.' && i > len(p) {
						keys[k[:i]] = heading
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for h := range referenceSections {
		if !seen[h] {
			missing = append(missing, h)
		}
	}
	slices.Sort(missing)
	return keys, missing
}

// TestReferenceDocumentsEveryKey: docs/configuration.md documents, in a
// table of the right section, every key the decoder accepts, and no key
// it does not accept.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	accepted := acceptedKeys()
	documented, missing := documentedKeys(t, filepath.Join("..", "..", "docs", "configuration.md"))
	if len(missing) > 0 {
		t.Errorf("docs/configuration.md has no key table under %q", missing)
	}
	var undocumented, unknown []string
	for k := range accepted {
		if _, ok := documented[k]; !ok {
			undocumented = append(undocumented, k)
		}
	}
	for k, h := range documented {
		if !accepted[k] {
			unknown = append(unknown, k+" (under "+h+")")
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unknown)
	if len(undocumented) > 0 {
		t.Errorf("keys the decoder accepts that docs/configuration.md does not document: %q", undocumented)
	}
	if len(unknown) > 0 {
		t.Errorf("keys docs/configuration.md documents that the decoder does not accept: %q", unknown)
	}
}

// TestExampleMentionsEveryKey: workspaces.example.yaml, which says it
// documents every key, shows each one, set or commented out.
func TestExampleMentionsEveryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "workspaces.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var absent []string
	for k := range acceptedKeys() {
		name := k[strings.LastIndexAny(k, ".]")+1:]
		if !regexp.MustCompile(`(?m)^[\s#-]*` + regexp.QuoteMeta(name) + `:`).Match(b) {
			absent = append(absent, k)
		}
	}
	slices.Sort(absent)
	if len(absent) > 0 {
		t.Errorf("workspaces.example.yaml does not show %q", absent)
	}
}

// TestSchemaCoversDecoder: every field list of the package is in schema,
// and the decoder never checks a mapping against an unnamed list, so that
// a new mapping cannot escape TestReferenceDocumentsEveryKey.
func TestSchemaCoversDecoder(t *testing.T) {
	used := map[string]bool{}
	for _, s := range schema {
		if fieldLists[s.fields] == nil {
			t.Errorf("schema names %s, which fieldLists lacks", s.fields)
		}
		used[s.fields] = true
	}
	for name := range fieldLists {
		if !used[name] {
			t.Errorf("%s is in no schema entry", name)
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if strings.HasSuffix(id.Name, "Fields") && fieldLists[id.Name] == nil {
						t.Errorf("%s: field list %s is not in fieldLists and schema", fset.Position(id.Pos()), id.Name)
					}
				}
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "mapping" && len(call.Args) >= 3 {
				if _, lit := call.Args[2].(*ast.CompositeLit); lit {
					t.Errorf("%s: a mapping checked against an unnamed field list; name it ...Fields and add it to schema", fset.Position(call.Pos()))
				}
			}
			return true
		})
	}
}
