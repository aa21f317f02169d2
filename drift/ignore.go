package drift

import (
	"regexp"
	"strings"
)

type ignorer struct{ rules []compiledRule }

type compiledRule struct {
	address, typ *regexp.Regexp
	attributes   []*regexp.Regexp
}

func newIgnorer(rules []IgnoreRule) *ignorer {
	ig := &ignorer{}
	for _, r := range rules {
		c := compiledRule{address: globRegexp(r.Address), typ: globRegexp(r.Type)}
		for _, a := range r.Attributes {
			c.attributes = append(c.attributes, globRegexp(a))
		}
		ig.rules = append(ig.rules, c)
	}
	return ig
}

// globRegexp compiles a glob in which "*" matches any run of characters
// (dots and brackets included) and "?" one character. Empty means any.
func globRegexp(glob string) *regexp.Regexp {
	if glob == "" {
		return nil
	}
	var b strings.Builder
	b.WriteString("^")
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func (c compiledRule) matches(rc *ResourceChange) bool {
	return (c.address == nil || c.address.MatchString(rc.Address)) &&
		(c.typ == nil || c.typ.MatchString(rc.Type))
}

// apply drops ignored resources and attributes, adding what it dropped to
// *ignored.
func (ig *ignorer) apply(changes []ResourceChange, ignored *int) []ResourceChange {
	if len(ig.rules) == 0 {
		return changes
	}
	kept := changes[:0]
	for _, rc := range changes {
		drop, byAttrs := false, false
		for _, rule := range ig.rules {
			if !rule.matches(&rc) {
				continue
			}
			if len(rule.attributes) == 0 {
				drop = true
				break
			}
			attrs := rc.Attributes[:0:0]
			for _, a := range rc.Attributes {
				if matchAny(rule.attributes, a.Path) {
					*ignored++
					continue
				}
				attrs = append(attrs, a)
			}
			rc.Attributes = attrs
			if len(attrs) == 0 && rc.Action == ActionUpdate {
				drop, byAttrs = true, true
				break
			}
		}
		if drop {
			if !byAttrs {
				*ignored++
			}
			continue
		}
		kept = append(kept, rc)
	}
	return kept
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
