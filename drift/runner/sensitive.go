package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A failed plan produces no JSON plan, so the values Terraform marks
// sensitive are not known from one; yet a provider may echo a sensitive
// variable's value in its diagnostics ("invalid value \"hunter2\"").
// sensitiveValues finds them in the configuration itself: every variable
// declared `sensitive = true`, its default, and the value the scan gives
// it (var files, auto-loaded var files, TF_VAR_ entries).

// maxModuleDirs bounds the local module directories read, against a module
// that calls itself.
const maxModuleDirs = 100

var (
	rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "module", LabelNames: []string{"name"}},
	}}
	variableSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "sensitive"}, {Name: "default"}}}
	moduleSchema   = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "source"}}}
)

// moduleConfig is what sensitiveValues reads of one module directory.
type moduleConfig struct {
	sensitive map[string]bool // variables declared sensitive
	values    []cty.Value     // their defaults
	calls     []moduleCall    // module blocks with a local source
}

type moduleCall struct {
	dir  string
	args hcl.Attributes
}

// sensitiveValues returns the values of the sensitive variables of the
// configuration in dir (the root module and the local modules it calls):
// defaults, literal arguments of module calls, and for the root module the
// values of varFiles (relative to dir), the auto-loaded var files and vars
// (TF_VAR_ entries). It reads what it can: a file Terraform cannot parse
// either still yields the blocks before the error.
func sensitiveValues(dir string, varFiles []string, vars map[string]string) []string {
	p := hclparse.NewParser()
	root := readModule(p, dir)
	values := slices.Clone(root.values)

	seen := map[string]bool{filepath.Clean(dir): true}
	queue := root.calls
	for len(queue) > 0 && len(seen) < maxModuleDirs {
		call := queue[0]
		queue = queue[1:]
		m := readModule(p, call.dir)
		values = append(values, m.values...)
		for name := range m.sensitive {
			if a, ok := call.args[name]; ok {
				values = append(values, literal(a.Expr)...)
			}
		}
		if !seen[call.dir] {
			seen[call.dir] = true
			queue = append(queue, m.calls...)
		}
	}

	for _, f := range varFileNames(dir, varFiles) {
		for name, a := range readVarFile(p, f) {
			if root.sensitive[name] {
				values = append(values, literal(a.Expr)...)
			}
		}
	}
	var out []string
	for name, v := range vars {
		if !root.sensitive[name] {
			continue
		}
		// Terraform reads a TF_VAR_ value as HCL for complex types.
		out = append(out, v)
		if expr, diags := hclsyntax.ParseExpression([]byte(v), "TF_VAR_"+name, hcl.InitialPos); !diags.HasErrors() {
			values = append(values, literal(expr)...)
		}
	}
	for _, v := range values {
		out = appendLeaves(out, v)
	}
	return out
}

// readModule reads the variable and module blocks of the configuration
// files in dir (isConfigFile: .tofu files too, whatever the tool).
func readModule(p *hclparse.Parser, dir string) moduleConfig {
	m := moduleConfig{sensitive: map[string]bool{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return m
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !isConfigFile(name) {
			continue
		}
		body := parseFile(p, filepath.Join(dir, name))
		if body == nil {
			continue
		}
		content, _, _ := body.PartialContent(rootSchema)
		if content == nil {
			continue
		}
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable":
				vc, _, _ := b.Body.PartialContent(variableSchema)
				if vc == nil || !isTrue(vc.Attributes["sensitive"]) {
					continue
				}
				m.sensitive[b.Labels[0]] = true
				if d, ok := vc.Attributes["default"]; ok {
					m.values = append(m.values, literal(d.Expr)...)
				}
			case "module":
				mc, rest, _ := b.Body.PartialContent(moduleSchema)
				if mc == nil || mc.Attributes["source"] == nil {
					continue
				}
				src, diags := mc.Attributes["source"].Expr.Value(nil)
				if diags.HasErrors() || !src.Type().Equals(cty.String) || src.IsNull() || !src.IsKnown() {
					continue
				}
				s := src.AsString()
				if !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") {
					continue // a registry or remote module: not in the tree
				}
				args, _ := rest.JustAttributes()
				m.calls = append(m.calls, moduleCall{dir: filepath.Clean(filepath.Join(dir, s)), args: args})
			}
		}
	}
	return m
}

func parseFile(p *hclparse.Parser, path string) hcl.Body {
	var f *hcl.File
	if strings.HasSuffix(path, ".json") {
		f, _ = p.ParseJSONFile(path)
	} else {
		f, _ = p.ParseHCLFile(path)
	}
	if f == nil {
		return nil
	}
	return f.Body
}

// varFileNames lists the var files Terraform reads for a plan in dir:
// terraform.tfvars, terraform.tfvars.json, *.auto.tfvars(.json), then the
// -var-file ones.
func varFileNames(dir string, varFiles []string) []string {
	var out []string
	for _, n := range []string{"terraform.tfvars", "terraform.tfvars.json"} {
		out = append(out, filepath.Join(dir, n))
	}
	for _, pattern := range []string{"*.auto.tfvars", "*.auto.tfvars.json"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		out = append(out, matches...)
	}
	for _, f := range varFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		out = append(out, f)
	}
	return out
}

func readVarFile(p *hclparse.Parser, path string) hcl.Attributes {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	body := parseFile(p, path)
	if body == nil {
		return nil
	}
	attrs, _ := body.JustAttributes()
	return attrs
}

func isTrue(a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(nil)
	return !diags.HasErrors() && v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() && v.True()
}

// literal is the value of an expression that needs no context (a default
// must be one), or nothing.
func literal(e hcl.Expression) []cty.Value {
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		return nil
	}
	return []cty.Value{v}
}

// appendLeaves appends the strings and numbers in v.
func appendLeaves(out []string, v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() {
		return out
	}
	v, _ = v.Unmark()
	t := v.Type()
	switch {
	case t == cty.String:
		return append(out, v.AsString())
	case t == cty.Number:
		return append(out, v.AsBigFloat().Text('f', -1))
	case t.IsListType() || t.IsSetType() || t.IsTupleType() || t.IsMapType() || t.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = appendLeaves(out, e)
		}
	}
	return out
}

// withSensitive adds the sensitive values of the scan's configuration to
// secrets, each also as Go quotes it inside a string (how providers echo
// values: got "a\"b"), longest first so that a secret containing another
// is replaced whole.
func withSensitive(secrets []string, dir string, varFiles []string, vars map[string]string) []string {
	secrets = slices.Clone(secrets)
	for _, v := range sensitiveValues(dir, varFiles, vars) {
		secrets = append(secrets, v)
		if q := strconv.Quote(v); q[1:len(q)-1] != v {
			secrets = append(secrets, q[1:len(q)-1])
		}
	}
	slices.SortFunc(secrets, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(secrets)
}
