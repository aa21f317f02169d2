package drift

import (
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"strconv"
)

// diffValues walks before and after (JSON values as terraform-json decodes
// them) and appends one AttributeChange per changed leaf. Values are raw
// here; redaction happens once the whole report is built, so that drift and
// pending changes can be compared on real values first.
//
// bs, as and au are terraform's masks at this level: before_sensitive,
// after_sensitive and after_unknown. A mask is true for a whole subtree or a
// map/list mirroring the value.
func diffValues(path string, before, after, bs, as, au any, out *[]AttributeChange) {
	if au == true {
		*out = append(*out, AttributeChange{Path: path, Before: before, Unknown: true, Sensitive: bs == true})
		return
	}
	if bs == true || as == true {
		// A sensitive subtree is reported as one change: its shape could
		// itself say something about the secret.
		if !equalValues(before, after) {
			*out = append(*out, AttributeChange{Path: path, Before: before, After: after, Sensitive: true})
		}
		return
	}
	bm, bIsMap := asMap(before)
	am, aIsMap := asMap(after)
	if bIsMap && aIsMap {
		keys := make(map[string]struct{}, len(bm)+len(am))
		for k := range bm {
			keys[k] = struct{}{}
		}
		for k := range am {
			keys[k] = struct{}{}
		}
		for _, k := range sortedKeys(keys) {
			diffValues(joinKey(path, k), bm[k], am[k], child(bs, k), child(as, k), child(au, k), out)
		}
		return
	}
	bl, bIsList := asList(before)
	al, aIsList := asList(after)
	if bIsList && aIsList {
		n := max(len(bl), len(al))
		for i := range n {
			var b, a any
			if i < len(bl) {
				b = bl[i]
			}
			if i < len(al) {
				a = al[i]
			}
			diffValues(path+"["+strconv.Itoa(i)+"]", b, a, index(bs, i), index(as, i), index(au, i), out)
		}
		return
	}
	if !equalValues(before, after) {
		*out = append(*out, AttributeChange{Path: path, Before: before, After: after})
	}
}

// asMap treats null as an empty object so that a null map and an empty one
// do not count as drift (providers normalise them differently).
func asMap(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case nil:
		return nil, true
	}
	return nil, false
}

func asList(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case nil:
		return nil, true
	}
	return nil, false
}

func equalValues(a, b any) bool {
	if isEmpty(a) && isEmpty(b) {
		return true
	}
	if an, ok := numberString(a); ok {
		bn, ok := numberString(b)
		return ok && an == bn
	}
	return reflect.DeepEqual(a, b)
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

// numberString normalises float64 and json.Number so both decodings of a
// plan compare equal.
func numberString(v any) (string, bool) {
	switch t := v.(type) {
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), true
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return strconv.FormatFloat(f, 'g', -1, 64), true
		}
		return t.String(), true
	}
	return "", false
}

func child(mask any, key string) any {
	switch t := mask.(type) {
	case bool:
		return t
	case map[string]any:
		return t[key]
	}
	return nil
}

func index(mask any, i int) any {
	switch t := mask.(type) {
	case bool:
		return t
	case []any:
		if i < len(t) {
			return t[i]
		}
	}
	return nil
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinKey builds Terraform-style paths: rule[0].port, tags.env,
// tags["Cost Center"].
func joinKey(path, key string) string {
	if !identifier.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]struct{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
