package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

const (
	// MaxFileSize bounds a configuration file, in bytes.
	MaxFileSize = 4 << 20
	// baseBudget and one more per byte of the file bound the values that
	// aliases and defaults add to what the file spells out: every alias
	// costs the nodes under its anchor, every workspace the entries it
	// inherits from defaults. A small file of aliases to a large map (or of
	// nested aliases, "billion laughs") or of many workspaces under large
	// defaults then costs memory in proportion to its size.
	baseBudget = 100_000
	// maxErrors keeps a pathological file from producing an unbounded report.
	maxErrors = 200
	// checkEvery is how many nodes the decoder visits between two looks at
	// its context.
	checkEvery = 256
)

var (
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	yamlErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	// parserProblems are yaml.v3's parser messages (parserc.go); the rest
	// come from the scanner.
	parserProblems = map[string]bool{
		"did not find expected <stream-start>":   true,
		"did not find expected <document start>": true,
		"did not find expected ',' or ']'":       true,
		"did not find expected ',' or '}'":       true,
		"did not find expected '-' indicator":    true,
		"did not find expected key":              true,
		"did not find expected node content":     true,
		"found undefined tag handle":             true,
		"found incompatible YAML document":       true,
		"found duplicate %TAG directive":         true,
	}
)

// decoder walks yaml.v3 nodes and collects every error it meets.
type decoder struct {
	ctx     context.Context
	file    string
	baseDir string
	env     func(string) (string, bool)
	offline bool
	errs    Errors
	warns   Errors
	data    []byte
	// secretEnv collects the variables secrets were read from.
	secretEnv []string

	// budget is what aliases and defaults may still add (see baseBudget),
	// limit what they could at first. sizes memoises subtree sizes.
	budget, limit int
	sizes         map[*yaml.Node]int
	// visits counts the nodes visited, for the context checks (and tests).
	visits int
	// stop says why the walk stopped early: the budget ran out or ctx is
	// done. Nothing is decoded or reported after it.
	stop error
}

var errBudget = errors.New("budget exceeded")

// interrupted returns ctx's error when the walk stopped for it (or ctx is
// done now), else nil.
func (d *decoder) interrupted() error {
	if d.stop != nil && d.stop != errBudget {
		return d.stop
	}
	return d.ctx.Err()
}

func newDecoder(ctx context.Context, file, baseDir string, data []byte, opts Options) *decoder {
	env := opts.Env
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	limit := baseBudget + len(data)
	return &decoder{ctx: ctx, file: file, baseDir: baseDir, env: env, offline: opts.Offline, data: data,
		budget: limit, limit: limit, sizes: map[*yaml.Node]int{}}
}

// field is a mapping value with the key it came from and its path.
type field struct {
	key, val *yaml.Node
	path     string
	// rejected marks a key that is recognised but not allowed (an inline
	// secret); its error is already recorded.
	rejected bool
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	switch {
	case d.stop != nil:
		return // what follows the stop is not worth reporting
	case len(d.errs) > maxErrors:
		return
	case len(d.errs) == maxErrors:
		d.errs = append(d.errs, &Error{File: d.file, Msg: "too many errors; stopping"})
		return
	}
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	for _, old := range d.errs {
		if *old == *e { // a defaults value checked once per workspace
			return
		}
	}
	d.errs = append(d.errs, e)
}

// warnf records a warning: something that does no harm but most likely
// does not do what was meant.
func (d *decoder) warnf(n *yaml.Node, path, format string, args ...any) {
	if d.stop != nil || len(d.warns) >= maxErrors {
		return
	}
	d.warns = append(d.warns, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// spend charges cost values that n adds to the file (see baseBudget) and
// reports whether the budget still holds.
func (d *decoder) spend(n *yaml.Node, cost int) bool {
	if d.stop != nil {
		return false
	}
	d.budget -= cost
	if d.budget < 0 {
		d.errorf(n, "", "document too complex: aliases and defaults expand it to more than %d values (%d, plus one per byte of the file)", d.limit, baseBudget)
		d.stop = errBudget
		return false
	}
	return true
}

// visit counts a node visited and reports whether the walk goes on: the
// budget holds and the context is not done.
func (d *decoder) visit() bool {
	if d.stop != nil {
		return false
	}
	d.visits++
	if d.visits%checkEvery == 0 {
		if err := d.ctx.Err(); err != nil {
			d.stop = err
		}
	}
	return d.stop == nil
}

// size is the number of nodes under n, n included, not following aliases:
// what resolving an alias to n adds to the document. Aliases under n are
// charged when they are resolved in turn.
func (d *decoder) size(n *yaml.Node) int {
	if s, ok := d.sizes[n]; ok {
		return s
	}
	s := 1
	if n.Kind != yaml.AliasNode {
		for _, c := range n.Content {
			s += d.size(c)
		}
	}
	d.sizes[n] = s
	return s
}

// resolve follows aliases. The result keeps the alias's position, so errors
// point where the value is used.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	if !d.visit() {
		return nil
	}
	for n != nil && n.Kind == yaml.AliasNode {
		if n.Alias == nil || !d.spend(n, d.size(n.Alias)) {
			return nil
		}
		c := *n.Alias
		c.Line, c.Column = n.Line, n.Column
		n = &c
	}
	return n
}

// document parses data into its root node, or records why it cannot.
func (d *decoder) document(data []byte) (root *yaml.Node) {
	d.data = data
	if d.ctx.Err() != nil {
		return nil
	}
	p := d.parseYAML(data)
	switch {
	case p == nil:
		return nil
	case p.panicked != nil:
		d.errorf(nil, "", "invalid YAML: parser failed: %v", p.panicked)
		return nil
	case errors.Is(p.err, io.EOF):
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Column: 1, Msg: `empty configuration: expected a mapping with "version" and "workspaces"`})
		return nil
	case p.err != nil:
		d.yamlError(p.err)
		return nil
	case p.extraErr == nil:
		d.errorf(&p.extra, "", "a second YAML document: the configuration must be a single document")
		return nil
	case !errors.Is(p.extraErr, io.EOF):
		d.yamlError(p.extraErr)
		return nil
	}
	doc := &p.doc
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Column: 1, Msg: "empty configuration"})
		return nil
	}
	root = d.resolve(doc.Content[0])
	if root == nil {
		return nil
	}
	if isNull(root) {
		d.errs = append(d.errs, &Error{File: d.file, Line: root.Line, Column: root.Column, Msg: `empty configuration: expected a mapping with "version" and "workspaces"`})
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", `the top level must be a mapping with "version" and "workspaces", got %s`, describe(root))
		return nil
	}
	return root
}

// parsed is what yaml.v3 made of a file: its first document, and the
// error of decoding a second one (io.EOF when there is none).
type parsed struct {
	doc, extra    yaml.Node
	err, extraErr error
	// panicked is what yaml.v3 panicked with, which it has done on
	// malformed input before: a config file must never crash driftd.
	panicked any
}

// parseYAML runs yaml.v3 on data, or returns nil when the context is done
// first. yaml.v3 cannot be interrupted, and takes seconds over a file of
// the largest size allowed: it runs on a goroutine of its own, left to
// finish.
func (d *decoder) parseYAML(data []byte) *parsed {
	ch := make(chan *parsed, 1)
	go func() {
		p := &parsed{}
		defer func() {
			p.panicked = recover()
			ch <- p
		}()
		dec := yaml.NewDecoder(bytes.NewReader(data))
		if p.err = dec.Decode(&p.doc); p.err == nil {
			p.extraErr = dec.Decode(&p.extra)
		}
	}()
	select {
	case p := <-ch:
		return p
	case <-d.ctx.Done():
		d.stop = d.ctx.Err()
		return nil
	}
}

// yamlError turns a yaml.v3 syntax error into an Error with the line it
// names, and explains the classic tab-indentation mistake.
func (d *decoder) yamlError(err error) {
	msg := err.Error()
	e := &Error{File: d.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	// yaml.v3 omits line 1, and reports parser (not scanner) errors with a
	// 0-based line.
	e.Line = 1
	if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "invalid YAML: " + m[2]
		if parserProblems[m[2]] {
			e.Line++
		}
	}
	if tab := d.tabLine(e.Line); tab > 0 {
		e.Line = tab
		e.Msg += " (tabs are not allowed in indentation; use spaces)"
	}
	d.errs = append(d.errs, e)
}

// tabLine returns the line near the reported one (yaml.v3 is off by one
// for some errors) whose indentation holds a tab, or 0.
func (d *decoder) tabLine(near int) int {
	lines := bytes.Split(d.data, []byte("\n"))
	for _, l := range []int{near, near - 1, near + 1} {
		if l < 1 || l > len(lines) {
			continue
		}
		indent := lines[l-1][:len(lines[l-1])-len(bytes.TrimLeft(lines[l-1], " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			return l
		}
	}
	return 0
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names a node's kind and, for scalars, its value, for "got ..."
// in messages. Never use it on a node that may hold a credential.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if utf8.RuneCountInString(v) > 60 {
			v = string([]rune(v)[:57]) + "..."
		}
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return strconv.Quote(v)
		default:
			return v
		}
	}
	return "an unsupported value"
}

// kind names a node's kind without its value, for values that may be
// credentials.
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a " + strings.TrimLeft(n.Tag, "!") + " value"
}

// join extends a field path with a key, quoting keys that are not plain
// identifiers: env.AWS_REGION, vars["a.b"].
func join(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

// mapping checks that n is a mapping whose keys are all in allowed and
// returns its fields by key. special maps keys that are not allowed to a
// better message than "unknown field"; they are returned marked rejected.
// A null node is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, allowed []string, special map[string]string) (map[string]field, bool) {
	pairs, ok := d.pairs(n, path)
	if !ok {
		return nil, false
	}
	out := make(map[string]field, len(pairs))
	for _, p := range pairs {
		name := p.key.Value
		if msg, ok := special[name]; ok {
			d.errorf(p.key, p.path, "%s", msg)
			p.rejected = true
			out[name] = p
			continue
		}
		if !slices.Contains(allowed, name) {
			d.errorf(p.key, p.path, "unknown field%s", suggest(name, allowed))
			continue
		}
		out[name] = p
	}
	return out, true
}

// pairs returns a mapping's entries in order, rejecting duplicate and
// non-scalar keys.
func (d *decoder) pairs(n *yaml.Node, path string) ([]field, bool) {
	n = d.resolve(n)
	if n == nil {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return nil, false
	}
	var out []field
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k, path, "merge keys (<<) are not supported; put shared workspace settings in defaults")
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k, path, "keys must be strings, got %s", kind(k))
			continue
		}
		p := field{key: k, val: n.Content[i+1], path: join(path, k.Value)}
		if line, dup := first[k.Value]; dup {
			d.errorf(k, p.path, "duplicate key (first at line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, p)
	}
	return out, true
}

// seq returns a list's items; a null node is an empty list.
func (d *decoder) seq(f field) ([]field, bool) {
	n := d.resolve(f.val)
	if n == nil {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, f.path, "expected a list, got %s", describe(n))
		return nil, false
	}
	out := make([]field, len(n.Content))
	for i, c := range n.Content {
		out[i] = field{val: c, path: fmt.Sprintf("%s[%d]", f.path, i)}
	}
	return out, true
}

func quoteHint(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return " (quote it to make it a string)"
	}
	return ""
}

// str returns a string value. With expand, ${VAR} references are replaced.
func (d *decoder) str(f field, expand bool) (string, bool) {
	n := d.resolve(f.val)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.errorf(n, f.path, "expected a string, got %s%s", describe(n), quoteHint(n))
		return "", false
	}
	if !expand {
		return n.Value, true
	}
	return d.expand(n, f.path, n.Value)
}

// scalar returns any scalar as its literal text (true, 5, text), expanding
// ${VAR} in strings. Used for maps whose values end up as strings anyway
// (env, backend_config, headers); it never shows the value in an error.
func (d *decoder) scalar(f field) (string, bool) {
	n := d.resolve(f.val)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, f.path, "expected a string, got %s", kind(n))
		return "", false
	}
	if n.Tag != "!!str" {
		return n.Value, true
	}
	return d.expand(n, f.path, n.Value)
}

func (d *decoder) expand(n *yaml.Node, path, s string) (string, bool) {
	v, err := expandEnv(s, d.env)
	if err != nil {
		// Offline, a value made from an unset variable is not checked.
		if _, unset := errors.AsType[unsetError](err); !unset || !d.offline {
			d.errorf(n, path, "%v", err)
		}
		return "", false
	}
	return v, true
}

// unsetError is a ${NAME} reference to a variable that is not set.
type unsetError string

func (e unsetError) Error() string {
	return fmt.Sprintf("environment variable %s is not set", string(e))
}

// expandEnv replaces ${NAME} with the variable's value; $${ is a literal
// ${. An unset variable is an error. Messages name variables, never values.
func expandEnv(s string, env func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New("unterminated ${ (write $${ for a literal ${)")
			}
			name := s[i+2 : i+2+end]
			if !envNameRE.MatchString(name) {
				return "", errors.New("invalid variable reference: want ${NAME} with letters, digits and _ (write $${ for a literal ${)")
			}
			v, ok := env(name)
			if !ok {
				return "", unsetError(name)
			}
			b.WriteString(v)
			i += end + 3
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

// envRefs returns the names of the ${NAME} references in s, skipping $${.
func envRefs(s string) []string {
	var names []string
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			i += 2
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return names
			}
			if name := s[i+2 : i+2+end]; envNameRE.MatchString(name) {
				names = append(names, name)
			}
			i += end + 2
		}
	}
	return names
}

func (d *decoder) boolean(f field) (bool, bool) {
	n := d.resolve(f.val)
	if n == nil {
		return false, false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		d.errorf(n, f.path, "expected true or false, got %s", describe(n))
		return false, false
	}
	return b, true
}

func (d *decoder) integer(f field) (int64, bool) {
	n := d.resolve(f.val)
	if n == nil {
		return 0, false
	}
	var i int64
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		d.errorf(n, f.path, "expected an integer, got %s", describe(n))
		return 0, false
	}
	return i, true
}

func (d *decoder) duration(f field) (time.Duration, bool) {
	n := d.resolve(f.val)
	if n == nil {
		return 0, false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		if v, err := parseDuration(n.Value); err == nil {
			return v, true
		}
	}
	d.errorf(n, f.path, `expected a duration like "15m", got %s`, describe(n))
	return 0, false
}

// daysRE is a whole number of days and, optionally, a Go duration after
// it: "30d", "1d12h".
var daysRE = regexp.MustCompile(`^([+-]?)(\d{1,6})d(.*)$`)

// parseDuration is time.ParseDuration plus whole days ("30d", "1d12h"):
// SLO windows and retention are counted in days.
func parseDuration(s string) (time.Duration, error) {
	m := daysRE.FindStringSubmatch(s)
	if m == nil {
		return time.ParseDuration(s)
	}
	days, _ := strconv.Atoi(m[2])
	if days > 106751 { // time.Duration's range
		return 0, fmt.Errorf("time: invalid duration %q", s)
	}
	v := time.Duration(days) * 24 * time.Hour
	if m[3] != "" {
		if strings.HasPrefix(m[3], "-") || strings.HasPrefix(m[3], "+") {
			return 0, fmt.Errorf("time: invalid duration %q", s)
		}
		rest, err := time.ParseDuration(m[3])
		if err != nil {
			return 0, fmt.Errorf("time: invalid duration %q", s)
		}
		v += rest
	}
	if v < 0 { // overflowed
		return 0, fmt.Errorf("time: invalid duration %q", s)
	}
	if m[1] == "-" {
		v = -v
	}
	return v, nil
}

// strList returns a list of non-empty strings and their fields.
func (d *decoder) strList(f field, expand bool) ([]string, []field, bool) {
	items, ok := d.seq(f)
	if !ok {
		return nil, nil, false
	}
	out := make([]string, 0, len(items))
	var fields []field
	good := true
	for _, it := range items {
		s, ok := d.str(it, expand)
		if ok && s == "" {
			d.errorf(it.val, it.path, "must not be empty")
			ok = false
		}
		if !ok {
			good = false
			continue
		}
		out = append(out, s)
		fields = append(fields, it)
	}
	return out, fields, good
}

// suggest returns ` (did you mean "x"?)` for the allowed key closest to a
// misspelt one, or "" when none is close.
func suggest(name string, allowed []string) string {
	best, bestDist := "", 0
	for _, a := range allowed {
		dist := levenshtein(strings.ToLower(name), a)
		if best == "" || dist < bestDist {
			best, bestDist = a, dist
		}
	}
	if best == "" || bestDist > 2 || bestDist*3 > len(best) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
