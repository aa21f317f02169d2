package drift

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MaxGlobLen bounds an ignore glob, in bytes. Globs become regular
// expressions; a huge one would take gigabytes to compile, or fail to.
const MaxGlobLen = 1024

type ignorer struct{ rules []compiledRule }

type compiledRule struct {
	address, typ *regexp.Regexp
	attributes   []*regexp.Regexp
}

// newIgnorer compiles rules. The config checks every glob with CheckGlob
// and CheckAttributeGlob first, so an error here means a rule that did not
// come through it.
func newIgnorer(rules []IgnoreRule) (*ignorer, error) {
	ig := &ignorer{}
	for _, r := range rules {
		var c compiledRule
		var err error
		if c.address, err = globRegexp(r.Address); err != nil {
			return nil, fmt.Errorf("ignore rule address: %w", err)
		}
		if c.typ, err = globRegexp(r.Type); err != nil {
			return nil, fmt.Errorf("ignore rule type: %w", err)
		}
		for _, a := range r.Attributes {
			re, _, err := attributeRegexp(a)
			if err != nil {
				return nil, fmt.Errorf("ignore rule attribute: %w", err)
			}
			c.attributes = append(c.attributes, re)
		}
		ig.rules = append(ig.rules, c)
	}
	return ig, nil
}

// CheckGlob reports why glob cannot be an address or type glob of an
// ignore rule, or nil.
func CheckGlob(glob string) error {
	_, err := globRegexp(glob)
	return err
}

// CheckAttributeGlob reports why glob cannot be an attribute glob of an
// ignore rule (err), or why it can never match an attribute path as a
// Report writes them (warning, "" when it can). See IgnoreRule.Attributes.
func CheckAttributeGlob(glob string) (warning string, err error) {
	_, warning, err = attributeRegexp(glob)
	return warning, err
}

// globRegexp compiles a glob in which "*" matches any run of characters
// (dots and brackets included) and "?" one character. Empty means any.
func globRegexp(glob string) (*regexp.Regexp, error) {
	if glob == "" {
		return nil, nil
	}
	if err := checkLen(glob); err != nil {
		return nil, err
	}
	return compileAnchored(globPattern(glob))
}

func checkLen(glob string) error {
	if len(glob) > MaxGlobLen {
		return fmt.Errorf("glob is %d bytes long, more than the %d allowed", len(glob), MaxGlobLen)
	}
	return nil
}

func compileAnchored(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return nil, fmt.Errorf("glob does not compile: %w", err)
	}
	return re, nil
}

// globPattern is glob as regular expression syntax, unanchored. A run of
// "*" is one ".*": the same language, a smaller program.
func globPattern(glob string) string {
	var b strings.Builder
	star := false
	for _, r := range glob {
		switch {
		case r == '*':
			if !star {
				b.WriteString(".*")
			}
		case r == '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
		star = r == '*'
	}
	return b.String()
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// attributeRegexp compiles an attribute glob. Reports write a map key as
// .key when it is an identifier and as ["key"] otherwise (joinKey); a glob
// may write a key either way: ["key"] matches what the report shows for
// that key, a quoted glob (["Last*"]) both spellings. warning says why the
// glob can never match a path of that syntax, or is "".
func attributeRegexp(glob string) (re *regexp.Regexp, warning string, err error) {
	if err := checkLen(glob); err != nil {
		return nil, "", err
	}
	pattern, warning := attributePattern(glob)
	if warning != "" {
		// Compiled as written: it will not match, as the warning says.
		pattern = globPattern(glob)
	}
	re, err = compileAnchored(pattern)
	return re, warning, err
}

// attributePattern turns an attribute glob into a regular expression over
// report paths, or says why no report path can match it. It judges only
// the parts written without wildcards: "*" crosses dots and brackets, and
// what it stands for is not known.
func attributePattern(glob string) (pattern, warning string) {
	var b strings.Builder
	seg := func(s string, first bool) string {
		if !hasWildcard(s) {
			switch {
			case s == "" && first:
				return ""
			case s == "":
				return "an empty key (a dot with nothing after it)"
			case !identifier.MatchString(s):
				if isIndex(s) {
					return fmt.Sprintf("%q is a list index, which paths write as [%s]", s, s)
				}
				return fmt.Sprintf("key %q is not an identifier, which paths write as [%s]", s, strconv.Quote(s))
			}
		}
		if !first {
			b.WriteString(`\.`)
		}
		b.WriteString(globPattern(s))
		return ""
	}
	// The first part is a name (or a glob of one), unless the path opens
	// with a bracket.
	i := strings.IndexAny(glob+".", ".[")
	if glob != "" && glob[0] == '.' {
		return "", "a path starts with an attribute name, not a dot"
	}
	if w := seg(glob[:i], true); w != "" {
		return "", w
	}
	for i < len(glob) {
		rest := glob[i:]
		next := i + 1 + strings.IndexAny(rest[1:]+".", ".[")
		switch {
		case rest[0] == '.':
			if w := seg(glob[i+1:next], false); w != "" {
				return "", w
			}
			i = next
		case rest[0] == '[':
			n, w := bracket(rest, &b)
			if w != "" {
				return "", w
			}
			i += n
		case hasWildcard(glob[i:next]):
			// After a bracket: "rule[*]*" and the like.
			b.WriteString(globPattern(glob[i:next]))
			i = next
		default:
			return "", fmt.Sprintf("%q follows a ] with no dot or bracket between", glob[i:next])
		}
	}
	return b.String(), ""
}

// bracket reads a [...] part at the start of s into b and returns its
// length, or says why it can never match.
func bracket(s string, b *strings.Builder) (int, string) {
	if len(s) > 1 && s[1] == '"' {
		end := quoteEnd(s[1:]) + 1 // the closing quote in s
		if end < 1 || end+1 >= len(s) || s[end+1] != ']' {
			return 0, `a quoted key needs a closing " and ]: ["key"]`
		}
		key, err := strconv.Unquote(s[1 : end+1])
		if err != nil {
			return 0, fmt.Sprintf("%s is not a valid quoted key: %v", s[1:end+1], err)
		}
		writeKey(b, key)
		return end + 2, ""
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return 0, "a [ without its ]"
	}
	inner := s[1:end]
	switch {
	case strings.HasPrefix(inner, "'"):
		return 0, fmt.Sprintf("paths quote keys with double quotes: [%s]", strconv.Quote(strings.Trim(inner, "'")))
	case !hasWildcard(inner) && !isIndex(inner):
		return 0, fmt.Sprintf("[%s] is neither a list index nor a quoted key: write [%s]", inner, strconv.Quote(inner))
	}
	b.WriteString(`\[` + globPattern(inner) + `\]`)
	return end + 1, ""
}

// writeKey writes the pattern of a map key written ["key"]: what joinKey
// makes of it, or for a glob both of the ways it may be written.
func writeKey(b *strings.Builder, key string) {
	quoted := `\[` + globPattern(strconv.Quote(key)) + `\]`
	switch {
	case !hasWildcard(key) && identifier.MatchString(key):
		b.WriteString(`\.` + regexp.QuoteMeta(key))
	case !hasWildcard(key) || !identifierGlob.MatchString(key):
		b.WriteString(quoted)
	default:
		b.WriteString(`(?:\.` + globPattern(key) + `|` + quoted + `)`)
	}
}

// identifierGlob matches globs that may stand for an identifier.
var identifierGlob = regexp.MustCompile(`^[A-Za-z0-9_*?-]+$`)

// quoteEnd returns the index of the quote closing the string that s starts
// with, or -1.
func quoteEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// matches says whether the rule selects rc; shownAddress is rc's address
// as the report shows it.
func (c compiledRule) matches(rc *ResourceChange, shownAddress string) bool {
	return (c.address == nil || c.address.MatchString(rc.Address) || shownAddress != rc.Address && c.address.MatchString(shownAddress)) &&
		(c.typ == nil || c.typ.MatchString(rc.Type))
}

// apply drops ignored resources and attributes, adding what it dropped to
// *ignored. Rules match addresses and paths both as the plan has them and
// as the report shows them, secrets replaced by SensitiveMarker: a rule
// copied from a report (tags["(sensitive value)"]) matches what it was
// copied from.
func (ig *ignorer) apply(changes []ResourceChange, secrets *Secrets, ignored *int) []ResourceChange {
	if len(ig.rules) == 0 {
		return changes
	}
	kept := changes[:0]
	for _, rc := range changes {
		shownAddress := secrets.String(rc.Address)
		drop, byAttrs := false, false
		for _, rule := range ig.rules {
			if !rule.matches(&rc, shownAddress) {
				continue
			}
			if len(rule.attributes) == 0 {
				drop = true
				break
			}
			attrs := rc.Attributes[:0:0]
			for _, a := range rc.Attributes {
				if matchAny(rule.attributes, a.Path) || matchShown(rule.attributes, a.Path, secrets) {
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

// matchShown matches path as the report shows it, when that differs.
func matchShown(res []*regexp.Regexp, path string, secrets *Secrets) bool {
	shown := secrets.path(path)
	return shown != path && matchAny(res, shown)
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
