package drift

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// This file explains pending changes: for every planned change, whether it
// follows from something that changed outside the code (drift, a data
// source's input, a rotation time) or is code not applied. It reads what
// the plan says: the configuration's expressions and the references in
// them, relevant_attributes, the prior and planned values, and the values
// data sources read at the last apply (Options.PreviousReads).
//
// The rule throughout: a change is put down to an outside cause only when
// the plan proves it; anything unproven is code. A changed value with a
// known new value follows from the values its expression references only
// when replacing, in the old value, those references' old values with
// their new ones gives the new value exactly. An unknown new value follows
// from a referenced value that is itself unknown for an outside cause.

// why is what a changed value follows from: origins outside the code, and
// whether code (anything unexplained) is part of it.
type why struct {
	code    bool
	origins map[Origin]struct{}
}

func codeWhy() why { return why{code: true} }

func originWhy(addr string, c Cause) why {
	return why{origins: map[Origin]struct{}{{Address: addr, Cause: c}: {}}}
}

func (w why) empty() bool { return !w.code && len(w.origins) == 0 }

func (w *why) add(o why) {
	w.code = w.code || o.code
	for k := range o.origins {
		if w.origins == nil {
			w.origins = map[Origin]struct{}{}
		}
		w.origins[k] = struct{}{}
	}
}

// cause is w's one-word verdict: code when any of it is; else by
// precedence drift, input, time.
func (w why) cause() Cause {
	if w.code || len(w.origins) == 0 {
		return CauseCode
	}
	best := CauseTime
	for o := range w.origins {
		switch {
		case o.Cause == CauseDrift:
			return CauseDrift
		case o.Cause == CauseInput:
			best = CauseInput
		}
	}
	return best
}

func (w why) list() []Origin {
	if len(w.origins) == 0 {
		return nil
	}
	out := make([]Origin, 0, len(w.origins))
	for o := range w.origins {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Address != out[j].Address {
			return out[i].Address < out[j].Address
		}
		return out[i].Cause < out[j].Cause
	})
	return out
}

// rotationAttribute holds, in hashicorp/time's time_rotating (and the
// testbed's testbed_rotating), the time after which the provider plans a
// new object.
const rotationAttribute = "rotation_rfc3339"

// expired reports whether values hold a rotation time that had passed when
// the plan was made.
func expired(values any, planTime time.Time) bool {
	m, _ := values.(map[string]any)
	s, _ := m[rotationAttribute].(string)
	if s == "" || planTime.IsZero() {
		return false
	}
	t, err := time.Parse(time.RFC3339, s)
	return err == nil && !t.After(planTime)
}

// planTime is when the plan was made: its timestamp, else the scan's start
// (before the plan, so a rotation time before it had passed too).
func planTime(plan *tfjson.Plan, started time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339, plan.Timestamp); err == nil {
		return t
	}
	return started
}

// maxResolveDepth bounds how far references are followed through module
// variables and outputs; a plan is acyclic, a hostile document need not be.
const maxResolveDepth = 64

type explainer struct {
	changes  map[string]*tfjson.ResourceChange
	drifted  map[string]*driftEntry
	current  map[string]map[string]any // data sources as read for this plan
	previous DataReads
	relevant map[string]map[string]bool // nil: the plan lists none
	root     *tfjson.ConfigModule
	now      time.Time

	// instances indexes every object the plan says anything about by
	// instance.resourceKey.
	instances map[string][]instanceRef
	nodes     map[string]*node
	classes   map[string]*classified
	scopes    map[string]*scope
}

type instanceRef struct {
	addr string
	in   instance
}

func newExplainer(plan *tfjson.Plan, drifted map[string]*driftEntry, previous DataReads, now time.Time) *explainer {
	e := &explainer{
		changes:   map[string]*tfjson.ResourceChange{},
		drifted:   drifted,
		current:   map[string]map[string]any{},
		previous:  previous,
		now:       now,
		instances: map[string][]instanceRef{},
		nodes:     map[string]*node{},
		classes:   map[string]*classified{},
		scopes:    map[string]*scope{},
	}
	if plan.Config != nil {
		e.root = plan.Config.RootModule
	}
	seen := map[string]bool{}
	index := func(addr string) {
		if seen[addr] {
			return
		}
		seen[addr] = true
		if in, ok := parseInstance(addr); ok {
			k := in.resourceKey()
			e.instances[k] = append(e.instances[k], instanceRef{addr, in})
		}
	}
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.DeposedKey != "" || rc.Change.Actions.NoOp() {
			continue
		}
		e.changes[rc.Address] = rc
		index(rc.Address)
	}
	for addr := range drifted {
		index(addr)
	}
	if plan.PriorState != nil && plan.PriorState.Values != nil {
		var walk func(m *tfjson.StateModule, depth int)
		walk = func(m *tfjson.StateModule, depth int) {
			if m == nil || depth > maxModuleDepth {
				return
			}
			for _, r := range m.Resources {
				if r != nil && r.Mode == tfjson.DataResourceMode {
					e.current[r.Address] = r.AttributeValues
					index(r.Address)
				}
			}
			for _, c := range m.ChildModules {
				walk(c, depth+1)
			}
		}
		walk(plan.PriorState.Values.RootModule, 0)
	}
	for addr := range previous {
		index(addr)
	}
	if len(plan.RelevantAttributes) > 0 {
		e.relevant = map[string]map[string]bool{}
		for _, ra := range plan.RelevantAttributes {
			top := ""
			if len(ra.Attribute) > 0 {
				_ = json.Unmarshal(ra.Attribute[0], &top) // an index: top stays ""
			}
			if e.relevant[ra.Resource] == nil {
				e.relevant[ra.Resource] = map[string]bool{}
			}
			e.relevant[ra.Resource][top] = true
		}
	}
	return e
}

// scope is a module instance as references are resolved in it.
type scope struct {
	steps  []step
	mod    *tfjson.ConfigModule
	call   *tfjson.ModuleCall // nil for the root module
	parent *scope
}

// scopeOf returns the scope of a module instance, nil when the
// configuration does not have it.
func (e *explainer) scopeOf(steps []step) *scope {
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.name + s.key + "\x00")
	}
	k := b.String()
	if s, ok := e.scopes[k]; ok {
		return s
	}
	var s *scope
	if len(steps) == 0 {
		if e.root != nil {
			s = &scope{mod: e.root}
		}
	} else if parent := e.scopeOf(steps[:len(steps)-1]); parent != nil {
		last := steps[len(steps)-1]
		if call := parent.mod.ModuleCalls[last.name]; call != nil && call.Module != nil {
			s = &scope{steps: steps, mod: call.Module, call: call, parent: parent}
		}
	}
	e.scopes[k] = s
	return s
}

// configOf returns the configuration of an instance and the scope it is
// in, or nils.
func (e *explainer) configOf(in instance) (*tfjson.ConfigResource, *scope) {
	sc := e.scopeOf(in.module)
	if sc == nil {
		return nil, nil
	}
	want := in.typ + "." + in.name
	if in.data {
		want = "data." + want
	}
	for _, r := range sc.mod.Resources {
		if r != nil && r.Address == want {
			return r, sc
		}
	}
	return nil, nil
}

// exprFor returns the expression that sets the attribute at path (as
// diffValues writes paths), following nested blocks; nil when the
// configuration does not set it.
func exprFor(cr *tfjson.ConfigResource, path string) *tfjson.Expression {
	if cr == nil {
		return nil
	}
	exprs := cr.Expressions
	rest := path
	for {
		name, after := cutPathName(rest)
		ex := exprs[name]
		if ex == nil || ex.ExpressionData == nil {
			return nil
		}
		if len(ex.NestedBlocks) == 0 {
			return ex
		}
		// A block: [i] selects one, then an attribute inside it.
		if !strings.HasPrefix(after, "[") {
			return nil
		}
		end := strings.IndexByte(after, ']')
		i, err := strconv.Atoi(after[1:max(end, 1)])
		if end < 0 || err != nil || i < 0 || i >= len(ex.NestedBlocks) {
			return nil
		}
		exprs, rest = ex.NestedBlocks[i], strings.TrimPrefix(after[end+1:], ".")
		if rest == "" {
			return nil
		}
	}
}

// cutPathName splits an attribute path after its first name:
// rule[0].port is rule and [0].port.
func cutPathName(path string) (name, rest string) {
	i := strings.IndexAny(path, ".[")
	if i < 0 {
		return path, ""
	}
	return path[:i], strings.TrimPrefix(path[i:], ".")
}

// topOf is the top-level attribute of a path.
func topOf(path string) string {
	name, _ := cutPathName(path)
	return name
}

// classified is a managed object's planned change, explained.
type classified struct {
	// leaves maps each changed leaf path to why it changes; neutral
	// (recomputed) leaves map to whole.
	leaves map[string]why
	// recomputed are the leaves of a replacement the provider computes
	// anew: unknown, not set by the configuration.
	recomputed map[string]bool
	whole      why
}

// classify explains the planned change of a managed object.
func (e *explainer) classify(addr string) *classified {
	if c, ok := e.classes[addr]; ok {
		if c == nil { // a reference cycle: nothing proven
			return &classified{whole: codeWhy()}
		}
		return c
	}
	e.classes[addr] = nil
	c := e.classifyChange(addr)
	e.classes[addr] = c
	return c
}

func (e *explainer) classifyChange(addr string) *classified {
	rc, d := e.changes[addr], e.drifted[addr]
	c := &classified{leaves: map[string]why{}, recomputed: map[string]bool{}}
	in, _ := parseInstance(addr)
	cr, sc := e.configOf(in)
	ch := rc.Change
	switch {
	case ch.Actions.Create() && d != nil && d.change.Action == ActionDelete:
		// Made again after it went outside Terraform (or expired): what
		// differs from the object that went has causes of its own.
		if d.timeBased {
			c.whole = originWhy(addr, CauseTime)
		} else {
			c.whole = originWhy(addr, CauseDrift)
		}
		var diffs []AttributeChange
		diffValues("", d.before, ch.After, nil, ch.AfterSensitive, ch.AfterUnknown, &diffs)
		for _, a := range dropUnknown(diffs) {
			w, _ := e.valueWhy(cr, sc, a.Path, a.Before, a.After, false)
			c.leaves[a.Path] = w
			c.whole.add(w)
		}
		return c
	case ch.Actions.Update() || ch.Actions.Replace():
	default:
		// A new object, or one the code no longer has.
		c.whole = codeWhy()
		return c
	}
	var diffs []AttributeChange
	diffValues("", ch.Before, ch.After, ch.BeforeSensitive, ch.AfterSensitive, ch.AfterUnknown, &diffs)
	replacePaths := pathStrings(ch.ReplacePaths)
	var neutral []string
	for _, a := range diffs {
		if d != nil && d.change.Action == ActionUpdate && !a.Unknown {
			if prior, ok := d.changed[a.Path]; ok && equalValues(prior, a.After) {
				w := originWhy(addr, CauseDrift)
				c.leaves[a.Path] = w
				c.whole.add(w)
				continue
			}
		}
		w, isNeutral := e.valueWhy(cr, sc, a.Path, a.Before, a.After, a.Unknown)
		if isNeutral {
			neutral = append(neutral, a.Path)
			// What forces the replacement is never noise.
			c.recomputed[a.Path] = ch.Actions.Replace() && !under(a.Path, replacePaths)
			continue
		}
		c.leaves[a.Path] = w
		c.whole.add(w)
	}
	if c.whole.empty() {
		// Only values the provider computes anew: the provider's own
		// decision, which driftd knows to explain in one case.
		if ch.Actions.Replace() && expired(ch.Before, e.now) {
			c.whole = originWhy(addr, CauseTime)
		} else {
			c.whole = codeWhy()
		}
	}
	for _, p := range neutral {
		c.leaves[p] = c.whole
	}
	return c
}

// valueWhy explains why the value at path of a resource (or a data source
// argument) goes from before to after. neutral says the configuration does
// not set it and its new value is unknown: the provider computes it anew,
// which follows from whatever else changes the object.
func (e *explainer) valueWhy(cr *tfjson.ConfigResource, sc *scope, path string, before, after any, unknown bool) (w why, neutral bool) {
	if cr == nil {
		return codeWhy(), false
	}
	ex := exprFor(cr, path)
	if ex == nil {
		if unknown {
			return why{}, true
		}
		return codeWhy(), false
	}
	if len(ex.References) == 0 {
		return codeWhy(), false
	}
	targets := e.resolve(sc, cr, ex.References, 0)
	if unknown {
		for _, t := range targets {
			if t.unknown {
				w.add(t.why)
			}
		}
		if w.empty() {
			return codeWhy(), false
		}
		return w, false
	}
	var pairs []pair
	for _, t := range targets {
		if t.unknown {
			continue
		}
		pairs = append(pairs, pair{t.old, t.new})
		var leaves []AttributeChange
		diffValues("", t.old, t.new, nil, nil, nil, &leaves)
		for _, l := range leaves {
			pairs = append(pairs, pair{l.Before, l.After})
		}
		w.add(t.why)
	}
	if len(pairs) == 0 || !explains(before, after, pairs) {
		return codeWhy(), false
	}
	return w, false
}

// target is a referenced value that changed.
type target struct {
	old, new any
	unknown  bool
	why      why
}

// resolve returns the changed values among references, made in scope sc
// by the configuration of cr (whose for_each each.* refers to). A
// reference driftd cannot follow (a local value, a module output it cannot
// find) is a change for a reason unknown: code.
func (e *explainer) resolve(sc *scope, cr *tfjson.ConfigResource, refs []string, depth int) []target {
	if depth > maxResolveDepth || sc == nil {
		return []target{{unknown: true, why: codeWhy()}}
	}
	var out []target
	opaque := func() { out = append(out, target{unknown: true, why: codeWhy()}) }
	for _, ref := range mostSpecific(refs) {
		parts := splitTraversal(ref)
		switch parts[0] {
		case "count", "path", "terraform", "self":
			// Fixed for an instance and a run.
		case "each":
			if cr != nil && cr.ForEachExpression != nil && cr.ForEachExpression.ExpressionData != nil {
				out = append(out, e.resolve(sc, nil, cr.ForEachExpression.References, depth+1)...)
			}
		case "var":
			if len(parts) < 2 {
				opaque()
				continue
			}
			if sc.call == nil {
				// A root module variable: set by the workspace's config and
				// variable files, which are code.
				continue
			}
			ex := sc.call.Expressions[parts[1]]
			if ex == nil || ex.ExpressionData == nil {
				continue // its default
			}
			out = append(out, e.resolve(sc.parent, nil, ex.References, depth+1)...)
		case "local":
			opaque()
		case "module":
			out = append(out, e.resolveOutput(sc, parts, depth)...)
		case "data":
			if len(parts) < 3 {
				opaque()
				continue
			}
			out = append(out, e.resolveObject(sc.steps, true, parts[1], parts[2], parts[3:])...)
		default:
			if len(parts) < 2 {
				opaque()
				continue
			}
			out = append(out, e.resolveObject(sc.steps, false, parts[0], parts[1], parts[2:])...)
		}
	}
	return out
}

// resolveOutput follows module.NAME[KEY].OUTPUT into the called module.
func (e *explainer) resolveOutput(sc *scope, parts []string, depth int) []target {
	code := []target{{unknown: true, why: codeWhy()}}
	if len(parts) < 2 {
		return code
	}
	name, key, ok := splitKey(parts[1])
	call := sc.mod.ModuleCalls[name]
	if !ok || call == nil || call.Module == nil {
		return code
	}
	if key == "" && (call.CountExpression != nil || call.ForEachExpression != nil) {
		key = anyKey
	}
	steps := append(append([]step{}, sc.steps...), step{name, key})
	child := &scope{steps: steps, mod: call.Module, call: call, parent: sc}
	var outs []*tfjson.ConfigOutput
	if len(parts) >= 3 {
		o := call.Module.Outputs[parts[2]]
		if o == nil {
			return code
		}
		outs = append(outs, o)
	} else {
		for _, o := range call.Module.Outputs {
			outs = append(outs, o)
		}
	}
	var out []target
	for _, o := range outs {
		if o == nil || o.Expression == nil || o.Expression.ExpressionData == nil {
			continue
		}
		out = append(out, e.resolve(child, nil, o.Expression.References, depth+1)...)
	}
	return out
}

// resolveObject returns the changed values of a resource's instances
// referenced from module instance steps, at the attribute rest names.
func (e *explainer) resolveObject(steps []step, data bool, typ, nameKey string, rest []string) []target {
	name, key, ok := splitKey(nameKey)
	if !ok {
		return []target{{unknown: true, why: codeWhy()}}
	}
	attr := ""
	if len(rest) > 0 {
		attr, _, _ = splitKey(rest[0])
	}
	want := instance{module: steps, data: data, typ: typ, name: name}
	var out []target
	for _, ref := range e.instances[want.resourceKey()] {
		if !matches(ref.in.module, steps) || key != "" && ref.in.key != key {
			continue
		}
		n := e.node(ref.addr)
		t, changed := n.at(attr)
		if !changed {
			continue
		}
		if attr != "" && e.relevant != nil && !t.why.code && !e.relevant[ref.addr][attr] && !e.relevant[ref.addr][""] {
			// Terraform does not count it among what contributed to the
			// plan: driftd's reading of the references is wrong somewhere.
			t.why = codeWhy()
		}
		out = append(out, t)
	}
	return out
}

// mostSpecific drops the references Terraform lists only as prefixes of
// longer ones: data.x.y for data.x.y.attr.
func mostSpecific(refs []string) []string {
	var out []string
	for _, r := range refs {
		prefix := false
		for _, o := range refs {
			if len(o) > len(r) && strings.HasPrefix(o, r) && (o[len(r)] == '.' || o[len(r)] == '[') {
				prefix = true
				break
			}
		}
		if !prefix {
			out = append(out, r)
		}
	}
	return out
}

// node is an object as its dependants see it: what they were last applied
// with, what they get now, and why each top-level attribute changed.
type node struct {
	done     bool
	old, new map[string]any
	unknown  map[string]bool
	attrs    map[string]why
	whole    why
}

// at returns the value of attr ("" for the whole object) as a changed
// target, and whether it changed.
func (n *node) at(attr string) (target, bool) {
	if attr == "" {
		if len(n.attrs) == 0 {
			return target{}, false
		}
		t := target{old: anyMap(n.old), new: anyMap(n.new), why: n.whole}
		for _, u := range n.unknown {
			t.unknown = t.unknown || u
		}
		return t, true
	}
	w, ok := n.attrs[attr]
	if !ok {
		return target{}, false
	}
	return target{old: n.old[attr], new: n.new[attr], unknown: n.unknown[attr], why: w}, true
}

func anyMap(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

func (e *explainer) node(addr string) *node {
	if n, ok := e.nodes[addr]; ok {
		if !n.done { // a cycle
			return &node{attrs: map[string]why{"": codeWhy()}, whole: codeWhy()}
		}
		return n
	}
	n := &node{attrs: map[string]why{}, unknown: map[string]bool{}}
	e.nodes[addr] = n
	in, ok := parseInstance(addr)
	switch {
	case !ok:
	case in.data:
		e.dataNode(addr, in, n)
	default:
		e.managedNode(addr, n)
	}
	for _, w := range n.attrs {
		n.whole.add(w)
	}
	n.done = true
	return n
}

func (e *explainer) managedNode(addr string, n *node) {
	rc, d := e.changes[addr], e.drifted[addr]
	if rc == nil {
		if d != nil && d.change.Action == ActionUpdate {
			n.old, n.new = asObject(d.before), asObject(d.after)
			for p := range d.changed {
				n.attrs[topOf(p)] = originWhy(addr, CauseDrift)
			}
		}
		return
	}
	ch := rc.Change
	if !ch.Actions.Create() && !ch.Actions.Update() && !ch.Actions.Replace() {
		return // going away: nothing can refer to it
	}
	c := e.classify(addr)
	n.old = asObject(ch.Before)
	if d != nil {
		n.old = asObject(d.before)
	}
	n.new = asObject(ch.After)
	au, _ := ch.AfterUnknown.(map[string]any)
	byTop := map[string]why{}
	for p, w := range c.leaves {
		t := topOf(p)
		cur := byTop[t]
		cur.add(w)
		byTop[t] = cur
	}
	keys := map[string]bool{}
	for k := range n.old {
		keys[k] = true
	}
	for k := range n.new {
		keys[k] = true
	}
	for k := range au {
		keys[k] = true
	}
	for k := range keys {
		unknown := hasUnknown(au[k])
		if !unknown && equalValues(n.old[k], n.new[k]) {
			continue
		}
		drifted := false
		if d != nil && d.change.Action == ActionUpdate {
			for p := range d.changed {
				drifted = drifted || topOf(p) == k
			}
		}
		w, ok := byTop[k]
		switch {
		case ok && !w.empty():
			if drifted {
				w.add(originWhy(addr, CauseDrift))
			}
		case drifted && !unknown:
			// Drift the plan keeps (ignore_changes).
			w = originWhy(addr, CauseDrift)
		default:
			w = c.whole
		}
		n.attrs[k] = w
		n.unknown[k] = unknown
	}
}

func (e *explainer) dataNode(addr string, in instance, n *node) {
	cr, sc := e.configOf(in)
	prev, hadPrev := e.previous[addr]
	n.old = prev
	if rc := e.changes[addr]; rc != nil {
		// Read during apply: it waits for changes to what it depends on,
		// and follows from them.
		var w why
		for _, t := range e.dependencies(cr, sc) {
			w.add(t.why)
		}
		if w.empty() {
			w = codeWhy()
		}
		n.new = asObject(rc.Change.After)
		au, _ := rc.Change.AfterUnknown.(map[string]any)
		for k := range au {
			if hasUnknown(au[k]) {
				n.attrs[k], n.unknown[k] = w, true
			}
		}
		for k := range n.new {
			if _, ok := n.attrs[k]; !ok && !equalValues(prev[k], n.new[k]) {
				n.attrs[k] = w
			}
		}
		return
	}
	cur, ok := e.current[addr]
	if !ok {
		return
	}
	n.new = cur
	if !hadPrev {
		// Unknown history (no previous state given), or a data source
		// new since the last apply, which only code can add.
		for k := range cur {
			n.attrs[k] = codeWhy()
		}
		return
	}
	changed := map[string]bool{}
	for k := range prev {
		changed[k] = !equalValues(prev[k], cur[k])
	}
	for k := range cur {
		changed[k] = !equalValues(prev[k], cur[k])
	}
	var args why // why the arguments it reads with changed
	for k, c := range changed {
		if !c || cr == nil || cr.Expressions[k] == nil {
			continue
		}
		w, _ := e.valueWhy(cr, sc, k, prev[k], cur[k], false)
		n.attrs[k] = w
		args.add(w)
	}
	if cr == nil {
		args = codeWhy()
	}
	for k, c := range changed {
		if _, done := n.attrs[k]; !c || done {
			continue
		}
		if args.empty() {
			// Same arguments, another answer: what it reads changed
			// outside Terraform.
			n.attrs[k] = originWhy(addr, CauseInput)
		} else {
			n.attrs[k] = args
		}
	}
}

// dependencies are the changed objects a data source waits for: those its
// arguments refer to and those in depends_on, its own and its modules'.
func (e *explainer) dependencies(cr *tfjson.ConfigResource, sc *scope) []target {
	if cr == nil || sc == nil {
		return []target{{why: codeWhy()}}
	}
	var refs []string
	for _, ex := range cr.Expressions {
		refs = append(refs, exprRefs(ex)...)
	}
	refs = append(refs, cr.DependsOn...)
	var out []target
	whole := func(ts []target) {
		for _, t := range ts {
			out = append(out, target{why: t.why})
		}
	}
	whole(e.resolve(sc, cr, wholeObjects(refs), 0))
	for s := sc; s != nil && s.call != nil; s = s.parent {
		whole(e.resolve(s.parent, nil, wholeObjects(s.call.DependsOn), 0))
	}
	return out
}

// exprRefs are the references of an expression and its nested blocks.
func exprRefs(ex *tfjson.Expression) []string {
	if ex == nil || ex.ExpressionData == nil {
		return nil
	}
	refs := append([]string{}, ex.References...)
	for _, b := range ex.NestedBlocks {
		for _, sub := range b {
			refs = append(refs, exprRefs(sub)...)
		}
	}
	return refs
}

// wholeObjects cuts references down to the objects they name: a data
// source waits for any change to them, whatever the attribute.
func wholeObjects(refs []string) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		parts := splitTraversal(r)
		n := 2
		switch parts[0] {
		case "data":
			n = 3
		case "module", "var", "local", "each", "count", "path", "terraform", "self":
			out = append(out, r)
			continue
		}
		if len(parts) > n {
			parts = parts[:n]
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// hasUnknown reports whether an after_unknown mask marks anything.
func hasUnknown(mask any) bool {
	switch m := mask.(type) {
	case bool:
		return m
	case map[string]any:
		for _, v := range m {
			if hasUnknown(v) {
				return true
			}
		}
	case []any:
		for _, v := range m {
			if hasUnknown(v) {
				return true
			}
		}
	}
	return false
}

// pair is a referenced value's old and new value.
type pair struct{ old, new any }

// explains reports whether after is before with referenced values
// replaced by their new values: whole, or inside strings, maps and lists.
func explains(before, after any, pairs []pair) bool {
	for _, p := range pairs {
		if equalValues(before, p.old) && equalValues(after, p.new) {
			return true
		}
	}
	switch b := before.(type) {
	case string:
		a, ok := after.(string)
		if !ok {
			return false
		}
		for _, p := range pairs {
			o, okOld := scalarString(p.old)
			n, okNew := scalarString(p.new)
			if okOld && okNew && o != "" {
				b = strings.ReplaceAll(b, o, n)
			}
		}
		return b == a
	case map[string]any:
		a, ok := after.(map[string]any)
		if !ok {
			return false
		}
		for k := range b {
			if _, in := a[k]; !in {
				return false
			}
		}
		for k, av := range a {
			if !equalValues(b[k], av) && !explains(b[k], av, pairs) {
				return false
			}
		}
		return true
	case []any:
		a, ok := after.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range b {
			if !equalValues(b[i], a[i]) && !explains(b[i], a[i], pairs) {
				return false
			}
		}
		return true
	}
	return false
}

func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case json.Number:
		return t.String(), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}

// explain sets the cause of a pending change built from rc.
func (e *explainer) explain(rc *tfjson.ResourceChange, p *ResourceChange) {
	var c *classified
	if rc.DeposedKey == "" && e.changes[rc.Address] != nil {
		c = e.classify(rc.Address)
	} else {
		c = &classified{whole: codeWhy()} // a deposed object: left from a failed apply
	}
	var w why
	for i := range p.Attributes {
		a := &p.Attributes[i]
		aw, ok := c.leaves[a.Path]
		if !ok {
			aw = c.whole
		}
		a.Recomputed = c.recomputed[a.Path]
		w.add(aw)
	}
	if len(p.Attributes) == 0 {
		w = c.whole
	}
	p.Cause, p.FollowsFrom = w.cause(), w.list()
	for i := range p.Attributes {
		a := &p.Attributes[i]
		aw, ok := c.leaves[a.Path]
		if !ok {
			aw = c.whole
		}
		if ac := aw.cause(); ac != p.Cause {
			a.Cause = ac
		}
	}
}

// pathStrings writes replace_paths (lists of attribute names, map keys and
// indexes) as diffValues writes paths.
func pathStrings(paths []any) []string {
	var out []string
	for _, p := range paths {
		steps, _ := p.([]any)
		path := ""
		for _, st := range steps {
			switch v := st.(type) {
			case string:
				path = joinKey(path, v)
			default:
				if n, ok := numberString(v); ok {
					path += "[" + n + "]"
				}
			}
		}
		if path != "" {
			out = append(out, path)
		}
	}
	return out
}

// under reports whether path is one of roots or inside one.
func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r) && (path[len(r)] == '.' || path[len(r)] == '[') {
			return true
		}
	}
	return false
}
