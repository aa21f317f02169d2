package runner

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/driftd/driftd/drift"
)

// Stage says where a scan failed.
type Stage string

const (
	StageInstall Stage = "install"
	StageWorkdir Stage = "workdir"
	StageGit     Stage = "git"
	StageInit    Stage = "init"
	// StageWorkspace is `terraform workspace select`.
	StageWorkspace Stage = "workspace"
	StagePlan      Stage = "plan"
	StageShow      Stage = "show"
	// StageUnlock is `terraform force-unlock` (Runner.RecoverLocks).
	StageUnlock   Stage = "unlock"
	StageTimeout  Stage = "timeout"
	StageCanceled Stage = "canceled"
)

// maxDiagnostics caps Error.Diagnostics, in bytes.
const maxDiagnostics = 8 << 10

// Error is a failed scan. Its text is short and clean enough to show in an
// issue or a chat message: Terraform's error diagnostics without colours or
// box drawing, capped, with the scan's credentials (secretValues) and the
// configuration's sensitive variables' values (sensitiveValues) redacted.
type Error struct {
	Workspace string
	Stage     Stage
	// Diagnostics is Terraform's stderr trimmed to its "Error:" blocks, or a
	// short description when Terraform did not run or was stopped.
	Diagnostics string
	// ScanID identifies the scan's directory and processes in logs.
	ScanID string
	// Commit is the git commit checked out, when the scan got that far.
	Commit string
	// Elapsed is how long the scan ran before failing.
	Elapsed time.Duration
	// Err is the underlying error, for errors.Is/As (e.g.
	// context.DeadlineExceeded).
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("workspace %q: %s: %s", e.Workspace, e.Stage, e.Diagnostics)
}

func (e *Error) Unwrap() error { return e.Err }

// ansiRE matches the escape sequences a terminal acts on: CSI (colours,
// cursor moves) and OSC (window titles, hyperlinks; ended by BEL or ST).
var ansiRE = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]|\x1b\\][^\x07\x1b]*(?:\x07|\x1b\\\\)?")

// diagnostics turns Terraform's stderr into Error.Diagnostics: escape
// sequences, other control characters and the ╷│╵ frame removed, only
// "Error:" blocks kept when there are any, secrets replaced, and the result
// capped rune-safely. A provider's message may hold anything; the text goes
// to logs, the store, issues and chat, so it carries no controls.
func diagnostics(stderr string, secrets []string) string {
	s := ansiRE.ReplaceAllString(strings.ToValidUTF8(stderr, "\uFFFD"), "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	var blocks []string
	var cur []string
	inBlock := false
	flush := func() {
		if len(cur) > 0 && strings.HasPrefix(cur[0], "Error:") {
			blocks = append(blocks, strings.TrimSpace(strings.Join(cur, "\n")))
		}
		cur = nil
	}
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "╷"):
			flush()
			inBlock = true
		case strings.HasPrefix(line, "╵"):
			flush()
			inBlock = false
		case inBlock:
			line = strings.TrimPrefix(line, "│")
			line = strings.TrimPrefix(line, " ")
			cur = append(cur, strings.TrimRight(line, " "))
		case strings.HasPrefix(line, "Error: "):
			// Unframed diagnostics (older versions, some init failures).
			flush()
			cur = []string{line}
			inBlock = false
		case len(cur) > 0:
			cur = append(cur, strings.TrimRight(line, " "))
		}
	}
	flush()
	out := strings.TrimSpace(s)
	if len(blocks) > 0 {
		out = strings.Join(blocks, "\n\n")
	}
	out = redact(out, secrets)
	return truncate(out, maxDiagnostics)
}

// redact replaces every occurrence of a secret, and the rest of the token
// it is part of (a run of letters, digits and -_+/=~%, dots inside it): the marker stands for a whole word, never for a piece of one, and
// no piece of the secret is left beside it. Very short values are left
// alone: replacing "1" or "eu" would mangle the text and hide nothing.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) < 4 {
			continue
		}
		var b strings.Builder
		rest := s
		for {
			i := strings.Index(rest, v)
			if i < 0 {
				break
			}
			start, end := i, i+len(v)
			for {
				r, n := utf8.DecodeLastRuneInString(rest[:start])
				if r == '.' {
					if prev, m := utf8.DecodeLastRuneInString(rest[:start-n]); m > 0 && tokenRune(prev) {
						start -= n + m
						continue
					}
				}
				if n == 0 || !tokenRune(r) {
					break
				}
				start -= n
			}
			for {
				r, n := utf8.DecodeRuneInString(rest[end:])
				if r == '.' {
					// A dot inside the token, not the one ending a sentence.
					if next, m := utf8.DecodeRuneInString(rest[end+n:]); m > 0 && tokenRune(next) {
						end += n + m
						continue
					}
				}
				if n == 0 || !tokenRune(r) {
					break
				}
				end += n
			}
			b.WriteString(rest[:start])
			b.WriteString(drift.SensitiveMarker)
			rest = rest[end:]
		}
		if b.Len() > 0 {
			b.WriteString(rest)
			s = b.String()
		}
	}
	return s
}

// tokenRune reports whether r continues a token for redact: a letter, a
// digit or one of -_+/=~%.
func tokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_+/=~%", r)
}

// truncate cuts s to at most max bytes on a rune boundary, saying so.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const note = "\n… (truncated)"
	cut := max - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + note
}
