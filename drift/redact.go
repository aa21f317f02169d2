package drift

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// minSubstringSecret is the shortest secret that is also hidden inside
// longer strings. Shorter secrets ("1", "on") are hidden only where a whole
// value equals them: hiding every "on" in a report would destroy it and
// protect nothing.
const minSubstringSecret = 4

// Secrets is the set of values Terraform marked sensitive anywhere in a
// plan. Terraform does not carry the mark everywhere a value flows (through
// terraform_data, into variables, into other resources' attributes), so
// every occurrence of these values is hidden, marked or not.
type Secrets struct {
	exact map[string]struct{}
	// substr is sorted longest first so that a secret containing another is
	// replaced whole.
	substr []string
}

// CollectSecrets gathers every value the plan marks sensitive: resource
// attributes (before and after, in changes and drift), prior and planned
// state, outputs, and root variables declared sensitive.
func CollectSecrets(plan *tfjson.Plan) *Secrets {
	s := &Secrets{exact: map[string]struct{}{}}
	if plan == nil {
		return s
	}
	for _, list := range [][]*tfjson.ResourceChange{plan.ResourceChanges, plan.ResourceDrift} {
		for _, rc := range list {
			if rc == nil || rc.Change == nil {
				continue
			}
			s.addMasked(rc.Change.Before, rc.Change.BeforeSensitive)
			s.addMasked(rc.Change.After, rc.Change.AfterSensitive)
		}
	}
	for _, c := range plan.OutputChanges {
		if c != nil {
			s.addMasked(c.Before, c.BeforeSensitive)
			s.addMasked(c.After, c.AfterSensitive)
		}
	}
	for _, sv := range []*tfjson.StateValues{plan.PlannedValues, priorValues(plan)} {
		s.addStateValues(sv)
	}
	if plan.Config != nil && plan.Config.RootModule != nil {
		for name, v := range plan.Config.RootModule.Variables {
			if v != nil && v.Sensitive {
				if pv := plan.Variables[name]; pv != nil {
					s.addMasked(pv.Value, true)
				}
				s.addMasked(v.Default, true)
			}
		}
	}
	s.finish()
	return s
}

func priorValues(plan *tfjson.Plan) *tfjson.StateValues {
	if plan.PriorState == nil {
		return nil
	}
	return plan.PriorState.Values
}

func (s *Secrets) addStateValues(sv *tfjson.StateValues) {
	if sv == nil {
		return
	}
	for _, o := range sv.Outputs {
		if o != nil && o.Sensitive {
			s.addMasked(o.Value, true)
		}
	}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		if m == nil {
			return
		}
		for _, r := range m.Resources {
			if r == nil || len(r.SensitiveValues) == 0 {
				continue
			}
			var mask any
			if json.Unmarshal(r.SensitiveValues, &mask) == nil {
				s.addMasked(map[string]any(r.AttributeValues), mask)
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(sv.RootModule)
}

// addMasked adds the leaves of v that mask marks sensitive.
func (s *Secrets) addMasked(v, mask any) {
	if mask == true {
		s.addAll(v)
		return
	}
	switch m := mask.(type) {
	case map[string]any:
		if vm, ok := v.(map[string]any); ok {
			for k, sub := range m {
				s.addMasked(vm[k], sub)
			}
		}
	case []any:
		if vl, ok := v.([]any); ok {
			for i, sub := range m {
				if i < len(vl) {
					s.addMasked(vl[i], sub)
				}
			}
		}
	}
}

func (s *Secrets) addAll(v any) {
	switch t := v.(type) {
	case map[string]any:
		for _, sub := range t {
			s.addAll(sub)
		}
	case []any:
		for _, sub := range t {
			s.addAll(sub)
		}
	case string:
		if t != "" {
			s.exact[t] = struct{}{}
		}
	default:
		// Booleans are not worth hiding elsewhere: true and false are everywhere.
		if n, ok := numberString(t); ok {
			s.exact[n] = struct{}{}
		}
	}
}

func (s *Secrets) finish() {
	seen := map[string]struct{}{}
	for v := range s.exact {
		if len(v) < minSubstringSecret {
			continue
		}
		// The JSON-escaped forms too: secrets travel inside JSON documents
		// (policies, user data) that providers store as strings, written by
		// Go's encoder (<, > and & escaped) or by a cloud API's (not).
		for _, form := range []string{v, jsonInner(v, true), jsonInner(v, false)} {
			if _, ok := seen[form]; !ok {
				seen[form] = struct{}{}
				s.substr = append(s.substr, form)
			}
		}
	}
	sort.Slice(s.substr, func(i, j int) bool {
		if len(s.substr[i]) != len(s.substr[j]) {
			return len(s.substr[i]) > len(s.substr[j])
		}
		return s.substr[i] < s.substr[j]
	})
}

// jsonInner is v as it stands between the quotes of a JSON string.
func jsonInner(v string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(v) // a string always encodes
	q := strings.TrimSuffix(b.String(), "\n")
	return q[1 : len(q)-1]
}

// Empty reports whether there is nothing to hide.
func (s *Secrets) Empty() bool { return s == nil || len(s.exact) == 0 }

// String hides every secret inside text.
func (s *Secrets) String(text string) string {
	if s.Empty() || text == "" {
		return text
	}
	if _, ok := s.exact[text]; ok {
		return SensitiveMarker
	}
	for _, secret := range s.substr {
		if strings.Contains(text, secret) {
			text = strings.ReplaceAll(text, secret, SensitiveMarker)
		}
	}
	return text
}

// value hides secrets in a JSON value; changed says whether it hid any.
func (s *Secrets) value(v any) (out any, changed bool) {
	if s.Empty() {
		return v, false
	}
	switch t := v.(type) {
	case string:
		r := s.String(t)
		return r, r != t
	case map[string]any:
		cp := make(map[string]any, len(t))
		for k, sub := range t {
			var c bool
			rk := s.String(k)
			cp[rk], c = s.value(sub)
			changed = changed || c || rk != k
		}
		return cp, changed
	case []any:
		cp := make([]any, len(t))
		for i, sub := range t {
			var c bool
			cp[i], c = s.value(sub)
			changed = changed || c
		}
		return cp, changed
	}
	if n, ok := numberString(v); ok {
		if _, hit := s.exact[n]; hit {
			return SensitiveMarker, true
		}
	}
	return v, false
}

// redactReport replaces every marked value with SensitiveMarker and hides
// every other occurrence of a secret, in values and in what names them:
// a secret used as a map key (tags = { (nonsensitive(var.pw)) = "v" }) or
// a for_each key shows in attribute paths and addresses.
func (s *Secrets) redactReport(r *Report) {
	for _, list := range [][]ResourceChange{r.Drift, r.Pending} {
		for i := range list {
			rc := &list[i]
			rc.Address, rc.Module = s.String(rc.Address), s.String(rc.Module)
			for j := range rc.Attributes {
				s.redactAttribute(&rc.Attributes[j])
			}
			for j := range list[i].Identity {
				a := &list[i].Identity[j]
				if a.Sensitive {
					a.Value = markerUnlessNil(a.Value)
					continue
				}
				a.Value, a.Sensitive = s.value(a.Value)
			}
		}
	}
	for i := range r.Outputs {
		o := &r.Outputs[i]
		if o.Sensitive {
			o.Before, o.After = markerUnlessNil(o.Before), markerUnlessNil(o.After)
			continue
		}
		var cb, ca bool
		o.Before, cb = s.value(o.Before)
		o.After, ca = s.value(o.After)
		o.Sensitive = cb || ca
	}
	r.Error = s.String(r.Error)
}

func (s *Secrets) redactAttribute(a *AttributeChange) {
	a.Path = s.path(a.Path)
	if a.Sensitive {
		a.Before = markerUnlessNil(a.Before)
		if !a.Unknown {
			a.After = markerUnlessNil(a.After)
		}
		return
	}
	var cb, ca bool
	a.Before, cb = s.value(a.Before)
	a.After, ca = s.value(a.After)
	a.Sensitive = cb || ca
}

func markerUnlessNil(v any) any {
	if v == nil {
		return nil
	}
	return SensitiveMarker
}

// path hides secrets in the map keys of an attribute path (as joinKey
// writes it), keeping the path's syntax: tags.hunter2 becomes
// tags["(sensitive value)"].
func (s *Secrets) path(p string) string {
	if s.Empty() || p == "" {
		return p
	}
	out, rest := "", p
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, `["`):
			q, err := strconv.QuotedPrefix(rest[1:])
			key, uerr := strconv.Unquote(q)
			if err != nil || uerr != nil || !strings.HasPrefix(rest[1+len(q):], "]") {
				return s.String(p) // not joinKey's: hide what can be hidden
			}
			out, rest = joinKey(out, s.String(key)), rest[len(q)+2:]
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return s.String(p)
			}
			out, rest = out+rest[:end+1], rest[end+1:]
		default:
			rest = strings.TrimPrefix(rest, ".")
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			out, rest = joinKey(out, s.String(rest[:end])), rest[end:]
		}
	}
	return out
}
