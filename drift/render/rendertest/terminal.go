package rendertest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// driftdColours are the only escape sequences driftd writes to a
// terminal: reset, bold, red, green, yellow.
var driftdColours = strings.NewReplacer("\x1b[0m", "", "\x1b[1m", "", "\x1b[31m", "", "\x1b[32m", "", "\x1b[33m", "")

// CheckTerminal returns an error unless out, without driftd's own
// colours, is valid UTF-8 free of control characters (but newline and
// tab) and bidirectional overrides, with as many lines as ref.
func CheckTerminal(out, ref string) error {
	plain := driftdColours.Replace(out)
	if !utf8.ValidString(plain) {
		return fmt.Errorf("invalid UTF-8 reaches the terminal: %q", plain)
	}
	for _, r := range plain {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0,
			0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			return fmt.Errorf("%U reaches the terminal: %q", r, plain)
		}
	}
	if got, want := strings.Count(out, "\n"), strings.Count(ref, "\n"); got != want {
		return fmt.Errorf("%d lines, want %d:\n%s", got, want, out)
	}
	return nil
}
