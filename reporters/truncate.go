package reporters

import (
	"fmt"
	"unicode/utf8"
)

// Ellipsis ends text that was cut.
const Ellipsis = "…"

// Truncate cuts s to at most n runes, ending it with Ellipsis when it cuts,
// and reports whether it did. It never splits a UTF-8 sequence.
func Truncate(s string, n int) (string, bool) {
	if n <= 0 {
		return "", s != ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s, false
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + Ellipsis, true
}

// TruncateBytes cuts s to at most n bytes (for limits counted in bytes, or
// when bytes are the safe bound), ending it with Ellipsis when it cuts, and
// reports whether it did. It never splits a UTF-8 sequence.
func TruncateBytes(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	limit := n - len(Ellipsis)
	if limit <= 0 {
		return "", true
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit] + Ellipsis, true
}

// MoreResources is the line that ends a list cut to fit: "… and 3 more
// resources". It returns "" when nothing was left out.
func MoreResources(n int) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return Ellipsis + " and 1 more resource"
	default:
		return fmt.Sprintf("%s and %d more resources", Ellipsis, n)
	}
}
