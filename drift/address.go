package drift

import "strings"

// step is one module instance step of an address: module.NAME[KEY]. key is
// the bracketed key as Terraform writes it (`["a"]`, `[0]`), "" for none,
// or anyKey for every instance.
type step struct {
	name, key string
}

const anyKey = "*"

// instance is a parsed resource instance address.
type instance struct {
	module []step
	data   bool
	typ    string
	name   string
	key    string // as in step
}

// resourceKey identifies an instance's resource in configuration: module
// names, mode, type and name, without instance keys.
func (in instance) resourceKey() string {
	var b strings.Builder
	for _, s := range in.module {
		b.WriteString(s.name)
		b.WriteByte('.')
	}
	if in.data {
		b.WriteString("data.")
	}
	b.WriteString(in.typ)
	b.WriteByte('.')
	b.WriteString(in.name)
	return b.String()
}

// parseInstance parses a resource instance address such as
// module.a["x"].data.testbed_object.b[0].
func parseInstance(addr string) (instance, bool) {
	parts := splitTraversal(addr)
	var in instance
	for len(parts) >= 2 && parts[0] == "module" {
		name, key, ok := splitKey(parts[1])
		if !ok {
			return instance{}, false
		}
		in.module = append(in.module, step{name, key})
		parts = parts[2:]
	}
	if len(parts) == 3 && parts[0] == "data" {
		in.data = true
		parts = parts[1:]
	}
	if len(parts) != 2 || strings.Contains(parts[0], "[") {
		return instance{}, false
	}
	name, key, ok := splitKey(parts[1])
	if !ok {
		return instance{}, false
	}
	in.typ, in.name, in.key = parts[0], name, key
	return in, true
}

// parseModule parses a module instance address: module.a["x"].module.b.
func parseModule(addr string) ([]step, bool) {
	if addr == "" {
		return nil, true
	}
	parts := splitTraversal(addr)
	if len(parts)%2 != 0 {
		return nil, false
	}
	var steps []step
	for i := 0; i < len(parts); i += 2 {
		name, key, ok := splitKey(parts[i+1])
		if parts[i] != "module" || !ok {
			return nil, false
		}
		steps = append(steps, step{name, key})
	}
	return steps, true
}

// splitTraversal splits a traversal at the dots outside brackets and
// quotes: `a.b["c.d"].e` is a, b["c.d"], e.
func splitTraversal(s string) []string {
	var parts []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '.' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// splitKey splits `name[key]` into name and `[key]`; a name without a key
// has key "". A key that is not one constant, such as [count.index], is
// not ok.
func splitKey(s string) (name, key string, ok bool) {
	i := strings.IndexByte(s, '[')
	if i < 0 {
		return s, "", s != ""
	}
	name, key = s[:i], s[i:]
	if name == "" || !strings.HasSuffix(key, "]") || strings.Count(key, "[") > 1 && !strings.HasPrefix(key, `["`) {
		return "", "", false
	}
	return name, key, true
}

// matches reports whether the module instance steps match the pattern,
// whose keys may be anyKey.
func matches(steps, pattern []step) bool {
	if len(steps) != len(pattern) {
		return false
	}
	for i, p := range pattern {
		if steps[i].name != p.name || p.key != anyKey && steps[i].key != p.key {
			return false
		}
	}
	return true
}
