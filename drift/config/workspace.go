package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/driftd/driftd/drift"
)

const maxNameLen = 128

var (
	topFields = []string{"version", "defaults", "workspaces", "reporters", "server"}
	// workspaceFields starts with name, dir and git: defaults allow the rest.
	workspaceFields = []string{
		"name", "dir", "git", "tool", "binary", "terraform_version", "workspace", "var_files", "vars", "backend_config", "env",
		"pass_env", "timeout", "refresh_only", "lock", "lock_timeout", "parallelism",
		"plugin_tls", "ignore", "owners", "schedule", "slo",
	}
	ignoreFields = []string{"address", "type", "attributes"}

	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	ownerRE   = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?$`)
)

// wsState is a Workspace being decoded plus where some of its values were
// written, for checks that can only run once defaults are merged in.
type wsState struct {
	w           Workspace
	varFiles    []field // parallel to w.VarFiles
	lockTimeout *field
	// tfVersion is where terraform_version was written.
	tfVersion *field
	name, dir *field
	git       *field
	dirOK     bool
	// schedule is where the schedule was written; nil for the built-in one.
	schedule *field
	// scheduleBad says the schedule's error is reported already.
	scheduleBad bool
	// envKeys are where the env keys were written, passEnv the pass_env
	// entries kept.
	envKeys map[string]field
	passEnv []field
	slo     sloState
}

func (s *wsState) clone() *wsState {
	c := *s
	c.w.VarFiles = slices.Clone(s.w.VarFiles)
	c.w.Vars = maps.Clone(s.w.Vars)
	c.w.BackendConfig = maps.Clone(s.w.BackendConfig)
	c.w.Env = maps.Clone(s.w.Env)
	c.w.PassEnv = slices.Clone(s.w.PassEnv)
	c.w.Ignore = slices.Clone(s.w.Ignore)
	c.w.Owners = slices.Clone(s.w.Owners)
	c.varFiles = slices.Clone(s.varFiles)
	c.envKeys = maps.Clone(s.envKeys)
	c.passEnv = slices.Clone(s.passEnv)
	return &c
}

// inherited is how many values a workspace copies from these defaults.
func (s *wsState) inherited() int {
	w := &s.w
	n := len(w.VarFiles) + len(w.Vars) + len(w.BackendConfig) + len(w.Env) + len(w.PassEnv) + len(w.Owners)
	for _, r := range w.Ignore {
		n += 1 + len(r.Attributes)
	}
	return n
}

func (d *decoder) parse(data []byte) *Config {
	root := d.document(data)
	if root == nil {
		return nil
	}
	fs, ok := d.mapping(root, "", topFields, nil)
	if !ok {
		return nil
	}
	cfg := &Config{}
	if f, ok := fs["version"]; !ok {
		d.errorf(root, "version", `missing; add "version: 1" at the top`)
	} else if v, ok := d.integer(f); ok && v != 1 {
		d.errorf(f.val, f.path, "unsupported version %d: this driftd reads version 1", v)
	}

	defaults := &wsState{w: builtinDefaults()}
	if f, ok := fs["defaults"]; ok {
		d.workspace(f.val, f.path, defaults, true)
	}

	var states []*wsState
	f, ok := fs["workspaces"]
	if !ok {
		d.errorf(root, "workspaces", "missing; list the workspaces to scan")
	} else if items, ok := d.seq(f); ok {
		if len(items) == 0 {
			d.errorf(f.val, f.path, "no workspaces defined")
		}
		firstName := map[string]int{}
		for _, it := range items {
			if !d.spend(it.val, defaults.inherited()) {
				break
			}
			st := defaults.clone()
			if !d.workspace(it.val, it.path, st, false) {
				continue
			}
			d.checkWorkspace(it, st)
			if st.name != nil && st.w.Name != "" {
				if line, dup := firstName[st.w.Name]; dup {
					d.errorf(st.name.val, st.name.path, "duplicate workspace name %q (first at line %d)", st.w.Name, line)
				} else {
					firstName[st.w.Name] = st.name.val.Line
				}
			}
			cfg.Workspaces = append(cfg.Workspaces, st.w)
			states = append(states, st)
		}
	}

	if f, ok := fs["reporters"]; ok {
		cfg.Reporters = d.reporters(f, cfg.Workspaces)
	}
	cfg.Server = defaultServer()
	ivs := intervals{}
	if f, ok := fs["server"]; ok {
		if j := d.server(f, &cfg.Server); j != nil {
			d.checkJitter(*j, cfg.Server.Jitter, states, ivs)
		}
	}
	d.checkMinInterval(cfg.Server.MinInterval, states, ivs)
	d.checkSLOs(states, cfg.Server.Retention)
	slices.Sort(d.secretEnv)
	cfg.secretEnv = slices.Compact(d.secretEnv)
	secret := make(map[string]bool, len(cfg.secretEnv))
	for _, name := range cfg.secretEnv {
		secret[name] = true
	}
	for _, st := range states {
		d.checkEnv(st, secret)
	}
	return cfg
}

// workspace applies the fields of mapping n onto st. In defaults, name and
// dir are not allowed. Maps merge key by key over the defaults; lists and
// scalars replace them.
func (d *decoder) workspace(n *yaml.Node, p string, st *wsState, defaults bool) bool {
	allowed, special := workspaceFields, map[string]string(nil)
	if defaults {
		allowed = workspaceFields[3:]
		special = map[string]string{
			"name": "name cannot be set in defaults",
			"dir":  "dir cannot be set in defaults",
			"git":  "git cannot be set in defaults",
		}
	}
	fs, ok := d.mapping(n, p, allowed, special)
	if !ok {
		return false
	}
	w := &st.w
	for _, key := range allowed {
		f, ok := fs[key]
		if !ok {
			continue
		}
		switch key {
		case "name":
			st.name = &f
			if s, ok := d.str(f, false); ok {
				switch {
				case !nameRE.MatchString(s):
					d.errorf(f.val, f.path, `invalid name %q: use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit`, s)
				case len(s) > maxNameLen: // names become directory names
					d.errorf(f.val, f.path, "name longer than %d characters", maxNameLen)
				}
				w.Name = s
			}
		case "dir":
			st.dir = &f
			if s, ok := d.str(f, true); ok {
				w.Dir, st.dirOK = d.directory(f, s)
			}
		case "git":
			st.git = &f
			w.Git = d.gitSource(f)
		case "tool":
			if s, ok := d.str(f, false); ok {
				if err := CheckTool(s, ""); err != nil {
					d.errorf(f.val, f.path, "%v", err)
				}
				w.Tool = s
			}
		case "binary":
			if s, ok := d.str(f, true); ok {
				w.Binary = d.localFile(f, s, CheckBinary)
			}
		case "terraform_version":
			st.tfVersion = &f
			if s, ok := d.str(f, false); ok {
				if s != "" {
					if _, err := version.NewConstraint(s); err != nil {
						d.errorf(f.val, f.path, "invalid version constraint %q: %v", s, err)
					}
				}
				w.TerraformVersion = s
			}
		case "workspace":
			if s, ok := d.str(f, true); ok {
				// Terraform's own rule for workspace names.
				if s == "" || s != url.PathEscape(s) {
					d.errorf(f.val, f.path, "invalid Terraform workspace name %q", s)
				}
				w.TerraformWorkspace = s
			}
		case "var_files":
			w.VarFiles, st.varFiles, _ = d.strList(f, true)
		case "vars":
			w.Vars = d.vars(f, w.Vars)
		case "backend_config":
			w.BackendConfig = d.stringMap(f, w.BackendConfig, nil, func(k string) string {
				if k == "" || strings.Contains(k, "=") {
					return "backend config keys must be non-empty and contain no \"=\""
				}
				return ""
			})
		case "env":
			if st.envKeys == nil {
				st.envKeys = map[string]field{}
			}
			w.Env = d.stringMap(f, w.Env, st.envKeys, func(k string) string {
				if !envNameRE.MatchString(k) {
					return "environment variable names use letters, digits and _ and do not start with a digit"
				}
				return ReservedEnv(k)
			})
		case "pass_env":
			names, fields, _ := d.strList(f, false)
			w.PassEnv = names[:0]
			st.passEnv = nil
			for i, s := range names {
				if _, err := path.Match(s, ""); err != nil || strings.ContainsAny(s, "= ") {
					d.errorf(fields[i].val, fields[i].path, "invalid variable name or glob %q", s)
					continue
				}
				if msg := ReservedEnv(s); msg != "" {
					d.errorf(fields[i].val, fields[i].path, "%s", msg)
					continue
				}
				w.PassEnv = append(w.PassEnv, s)
				st.passEnv = append(st.passEnv, fields[i])
			}
		case "timeout":
			if v, ok := d.duration(f); ok {
				if v <= 0 {
					d.errorf(f.val, f.path, "must be positive, got %s", describe(f.val))
				}
				w.Timeout = v
			}
		case "refresh_only":
			w.RefreshOnly, _ = d.boolean(f)
		case "lock":
			w.Lock, _ = d.boolean(f)
		case "lock_timeout":
			if v, ok := d.duration(f); ok {
				if v < 0 {
					d.errorf(f.val, f.path, "must not be negative, got %s", describe(f.val))
				}
				w.LockTimeout = v
				st.lockTimeout = &f
			}
		case "parallelism":
			if v, ok := d.integer(f); ok {
				if v < 1 || v > 256 {
					d.errorf(f.val, f.path, "must be between 1 and 256, got %d", v)
				}
				w.Parallelism = int(v)
			}
		case "plugin_tls":
			w.PluginTLS, _ = d.boolean(f)
		case "ignore":
			w.Ignore = d.ignore(f)
		case "owners":
			owners, fields, _ := d.strList(f, false)
			w.Owners = owners[:0]
			for i, o := range owners {
				o = strings.TrimPrefix(o, "@")
				if !ownerRE.MatchString(o) {
					d.errorf(fields[i].val, fields[i].path, "invalid owner %q: want a GitHub login or org/team", owners[i])
					continue
				}
				w.Owners = append(w.Owners, o)
			}
		case "schedule":
			if s, ok := d.str(f, false); ok {
				if err := checkCron(s); err != nil {
					d.errorf(f.val, f.path, "invalid cron expression %q: %v", s, err)
					st.scheduleBad = true
				} else if msg := checkFires(s); msg != "" {
					d.errorf(f.val, f.path, "%q %s", s, msg)
					st.scheduleBad = true
				} else {
					st.scheduleBad = false
				}
				w.Schedule = s
				st.schedule = &f
			}
		case "slo":
			d.slo(f, st)
		}
	}
	return true
}

// directory resolves a workspace dir against the config file's directory
// and checks that it is one.
func (d *decoder) directory(f field, s string) (string, bool) {
	if s == "" {
		d.errorf(f.val, f.path, "must not be empty")
		return "", false
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(d.baseDir, s)
	}
	s = filepath.Clean(s)
	fi, err := os.Stat(s)
	switch {
	case os.IsNotExist(err):
		d.errorf(f.val, f.path, "directory %s does not exist", s)
		return s, false
	case err != nil:
		d.errorf(f.val, f.path, "%v", err)
		return s, false
	case !fi.IsDir():
		d.errorf(f.val, f.path, "%s is not a directory", s)
		return s, false
	}
	return s, true
}

// checkWorkspace runs the checks that need the merged workspace.
func (d *decoder) checkWorkspace(it field, st *wsState) {
	if st.name == nil {
		d.errorf(it.val, it.path, `missing required field "name"`)
	}
	switch {
	case st.dir == nil && st.git == nil:
		d.errorf(it.val, it.path, `missing required field "dir" (or "git")`)
	case st.dir != nil && st.git != nil:
		d.errorf(st.git.key, st.git.path, "set either dir or git, not both")
		st.dirOK = false
		st.w.Dir = ""
	}
	if st.dirOK {
		for i, vf := range st.w.VarFiles {
			p := vf
			if !filepath.IsAbs(p) {
				p = filepath.Join(st.w.Dir, p)
			}
			f := st.varFiles[i]
			fi, err := os.Stat(p)
			switch {
			case os.IsNotExist(err):
				d.errorf(f.val, f.path, "var file %q does not exist in %s", vf, st.w.Dir)
			case err != nil:
				d.errorf(f.val, f.path, "%v", err)
			case fi.IsDir():
				d.errorf(f.val, f.path, "var file %q is a directory", vf)
			}
		}
	}
	if st.tfVersion != nil && st.w.Tool == ToolTofu {
		if err := CheckTool(st.w.Tool, st.w.TerraformVersion); err != nil {
			d.errorf(st.tfVersion.val, st.tfVersion.path, "%v (tool: tofu)", err)
		}
	}
	if st.lockTimeout != nil && st.w.LockTimeout > 0 && !st.w.Lock {
		d.errorf(st.lockTimeout.val, st.lockTimeout.path, "has no effect unless lock is true")
	}
}

// stringMap merges a mapping of scalars into into (a copy is made by the
// caller's clone), and the fields of its keys into keys unless it is nil.
// badKey returns a message for an invalid key.
func (d *decoder) stringMap(f field, into map[string]string, keys map[string]field, badKey func(string) string) map[string]string {
	pairs, ok := d.pairs(f.val, f.path)
	if !ok {
		return into
	}
	if into == nil && len(pairs) > 0 {
		into = make(map[string]string, len(pairs))
	}
	for _, p := range pairs {
		if msg := badKey(p.key.Value); msg != "" {
			d.errorf(p.key, p.path, "%s", msg)
			continue
		}
		if v, ok := d.scalar(p); ok {
			into[p.key.Value] = v
			if keys != nil {
				keys[p.key.Value] = p
			}
		}
	}
	return into
}

// vars merges Terraform variables into into. Strings are passed as they
// are; other values are JSON-encoded, which Terraform reads as HCL.
func (d *decoder) vars(f field, into map[string]string) map[string]string {
	pairs, ok := d.pairs(f.val, f.path)
	if !ok {
		return into
	}
	if into == nil && len(pairs) > 0 {
		into = make(map[string]string, len(pairs))
	}
	for _, p := range pairs {
		if !varNameRE.MatchString(p.key.Value) {
			d.errorf(p.key, p.path, "invalid variable name: use letters, digits, _ and -, starting with a letter or _")
			continue
		}
		n := d.resolve(p.val)
		if n == nil {
			continue
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			if s, ok := d.expand(n, p.path, n.Value); ok {
				into[p.key.Value] = s
			}
			continue
		}
		v, ok := d.anyValue(p.val, p.path)
		if !ok {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			d.errorf(n, p.path, "cannot encode value: %v", err)
			continue
		}
		into[p.key.Value] = string(b)
	}
	return into
}

// anyValue converts a YAML value to a JSON-encodable one, expanding ${VAR}
// in strings. Values are never shown in errors: vars may hold credentials.
func (d *decoder) anyValue(n *yaml.Node, p string) (any, bool) {
	n = d.resolve(n)
	if n == nil {
		return nil, false
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			v, good := d.anyValue(c, fmt.Sprintf("%s[%d]", p, i))
			ok = ok && good
			out = append(out, v)
		}
		return out, ok
	case yaml.MappingNode:
		pairs, ok := d.pairs(n, p)
		out := make(map[string]any, len(pairs))
		for _, pr := range pairs {
			v, good := d.anyValue(pr.val, pr.path)
			ok = ok && good
			out[pr.key.Value] = v
		}
		return out, ok
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			d.errorf(n, p, "null is not a value Terraform can take; leave the variable out instead")
			return nil, false
		case "!!str", "!!timestamp":
			return d.expand(n, p, n.Value)
		case "!!bool":
			var b bool
			if n.Decode(&b) != nil {
				break
			}
			return b, true
		case "!!int", "!!float":
			var v any
			if n.Decode(&v) != nil {
				break
			}
			if x, isFloat := v.(float64); isFloat && (math.IsInf(x, 0) || math.IsNaN(x)) {
				d.errorf(n, p, "infinity and NaN are not values Terraform can take")
				return nil, false
			}
			return v, true
		}
	}
	d.errorf(n, p, "unsupported value: %s", kind(n))
	return nil, false
}

func (d *decoder) ignore(f field) []drift.IgnoreRule {
	items, ok := d.seq(f)
	if !ok {
		return nil
	}
	var rules []drift.IgnoreRule
	for _, it := range items {
		before := len(d.errs)
		fs, ok := d.mapping(it.val, it.path, ignoreFields, nil)
		if !ok {
			continue
		}
		var r drift.IgnoreRule
		if g, ok := fs["address"]; ok {
			r.Address = d.glob(g)
		}
		if g, ok := fs["type"]; ok {
			r.Type = d.glob(g)
		}
		if g, ok := fs["attributes"]; ok {
			globs, fields, _ := d.strList(g, false)
			for i, a := range globs {
				warning, err := drift.CheckAttributeGlob(a)
				switch {
				case err != nil:
					d.errorf(fields[i].val, fields[i].path, "%v", err)
				case warning != "":
					d.warnf(fields[i].val, fields[i].path, "%q can never match: %s", a, warning)
					fallthrough
				default:
					r.Attributes = append(r.Attributes, a)
				}
			}
		}
		if r.Address == "" && r.Type == "" && len(r.Attributes) == 0 {
			if len(d.errs) > before { // already explained
				continue
			}
			d.errorf(d.resolve(it.val), it.path, "ignore rule needs at least one of address, type or attributes")
			continue
		}
		rules = append(rules, r)
	}
	return rules
}

// glob reads an address or type glob of an ignore rule.
func (d *decoder) glob(f field) string {
	s, ok := d.str(f, false)
	if !ok {
		return ""
	}
	if err := drift.CheckGlob(s); err != nil {
		d.errorf(f.val, f.path, "%v", err)
		return ""
	}
	return s
}

// checkFires says what is wrong with a valid schedule that cannot fire as
// written, or "". robfig/cron runs "@every -5m" every second and rounds
// "@every 90.5s" down.
func checkFires(spec string) string {
	if _, every, ok := strings.Cut(spec, "@every "); ok {
		switch d, err := time.ParseDuration(strings.TrimSpace(every)); {
		case err != nil:
			return "" // checkCron's to report
		case d <= 0:
			return "must have a positive interval"
		case d%time.Second != 0:
			return "must have an interval of whole seconds"
		}
		return ""
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return ""
	}
	// robfig/cron gives up after five years: the date does not exist.
	if sched.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return "never fires: no date matches it"
	}
	return ""
}

// checkCron validates a schedule with robfig/cron, which panics on a time
// zone prefix with no expression after it ("CRON_TZ=UTC") and whose parser
// has not been written with arbitrary input in mind: recover, just in case.
func checkCron(s string) (err error) {
	if (strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=")) && !strings.Contains(s, " ") {
		return errors.New("a time zone prefix needs an expression after it, e.g. \"CRON_TZ=UTC 0 6 * * *\"")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot parse: %v", r)
		}
	}()
	_, err = cron.ParseStandard(s)
	return err
}
