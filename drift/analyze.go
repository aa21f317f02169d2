package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// Options say how to read a plan.
type Options struct {
	Workspace   string
	Owners      []string
	RefreshOnly bool
	Ignore      []IgnoreRule
	StartedAt   time.Time
	// PreviousReads are what the plan's data sources read at the last
	// apply (runner: the plan file's previous state). Without them no
	// pending change is put down to a data source's input.
	PreviousReads DataReads
}

// Analyze turns a plan into a Report. It judges by the plan's content only:
// a refresh-only plan that would merely update outputs or re-read objects
// unchanged is clean.
func Analyze(plan *tfjson.Plan, opts Options) *Report {
	ign, err := newIgnorer(opts.Ignore)
	if err != nil {
		// An error, not a report without what the rule meant to hide.
		return Failed(opts, err, nil)
	}
	r := &Report{
		SchemaVersion: SchemaVersion,
		Workspace:     opts.Workspace,
		Status:        StatusClean,
		StartedAt:     opts.StartedAt,
		RefreshOnly:   opts.RefreshOnly,
		Owners:        opts.Owners,
		Drift:         []ResourceChange{},
		Pending:       []ResourceChange{},
	}
	if plan == nil {
		r.Status, r.Error = StatusError, "no plan"
		return r
	}
	r.TerraformVersion = plan.TerraformVersion

	now := planTime(plan, opts.StartedAt)
	drifted := map[string]*driftEntry{}
	for _, rc := range plan.ResourceDrift {
		e, ok := newDriftEntry(rc)
		if !ok {
			continue
		}
		drifted[rc.Address] = e
		if e.change.Action == ActionDelete && expired(e.before, now) {
			// Gone because its time ran out, as time_rotating objects go
			// on refresh: not a change made outside Terraform.
			e.timeBased = true
			continue
		}
		r.Drift = append(r.Drift, e.change)
	}
	x := newExplainer(plan, drifted, opts.PreviousReads, now)
	for _, rc := range plan.ResourceChanges {
		if rc == nil {
			continue
		}
		if p, ok := pendingChange(rc, drifted[addressOf(rc)]); ok {
			x.explain(rc, &p)
			r.Pending = append(r.Pending, p)
		}
	}
	r.Outputs = outputChanges(plan)

	secrets := CollectSecrets(plan)
	r.Drift = ign.apply(r.Drift, secrets, &r.Ignored)
	r.Pending = ign.apply(r.Pending, secrets, &r.Ignored)

	// Sorted once redacted: the order must not say anything about a
	// secret in an address or a path either.
	secrets.redactReport(r)
	sortChanges(r.Drift)
	sortChanges(r.Pending)

	if len(r.Drift) > 0 {
		r.Status = StatusDrifted
		r.Fingerprint = Fingerprint(r.Drift)
	}
	return r
}

// Failed is the report of a scan that did not produce a plan. The error's
// text is kept (Terraform's diagnostics); callers pass secrets they know of.
func Failed(opts Options, err error, secrets *Secrets) *Report {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	return &Report{
		SchemaVersion: SchemaVersion,
		Workspace:     opts.Workspace,
		Status:        StatusError,
		StartedAt:     opts.StartedAt,
		RefreshOnly:   opts.RefreshOnly,
		Owners:        opts.Owners,
		Drift:         []ResourceChange{},
		Pending:       []ResourceChange{},
		Error:         secrets.String(strings.TrimSpace(msg)),
	}
}

type driftEntry struct {
	change ResourceChange
	before any
	after  any
	// timeBased marks an object gone because its rotation time passed.
	timeBased bool
	// changed maps each drifted attribute path to its value in state
	// before the drift (what Terraform would restore).
	changed map[string]any
}

func newDriftEntry(rc *tfjson.ResourceChange) (*driftEntry, bool) {
	if rc == nil || rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
		return nil, false
	}
	c := rc.Change
	e := &driftEntry{change: baseChange(rc), before: c.Before, after: c.After}
	switch {
	case c.Actions.Delete():
		e.change.Action = ActionDelete
		e.change.Identity = identity(c.Before, c.BeforeSensitive)
	case c.Actions.Update():
		e.change.Action = ActionUpdate
		diffValues("", c.Before, c.After, c.BeforeSensitive, c.AfterSensitive, nil, &e.change.Attributes)
		if len(e.change.Attributes) == 0 {
			// Terraform lists objects whose only change is a normalisation
			// (null vs empty); nothing an operator could act on.
			return nil, false
		}
		e.changed = make(map[string]any, len(e.change.Attributes))
		for _, a := range e.change.Attributes {
			e.changed[a.Path] = a.Before
		}
	default:
		return nil, false
	}
	return e, true
}

// pendingChange returns the part of a planned change that drift does not
// explain. A change that only restores drifted attributes, or re-creates an
// object deleted outside Terraform as it was, is drift's consequence.
func pendingChange(rc *tfjson.ResourceChange, d *driftEntry) (ResourceChange, bool) {
	if rc == nil || rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
		return ResourceChange{}, false
	}
	c := rc.Change
	out := baseChange(rc)
	switch {
	case c.Actions.Replace():
		out.Action = ActionReplace
	case c.Actions.Create():
		out.Action = ActionCreate
	case c.Actions.Update():
		out.Action = ActionUpdate
	case c.Actions.Delete():
		out.Action = ActionDelete
	default: // no-op, read, forget
		return ResourceChange{}, false
	}
	if d == nil {
		switch out.Action {
		case ActionUpdate, ActionReplace:
			diffValues("", c.Before, c.After, c.BeforeSensitive, c.AfterSensitive, c.AfterUnknown, &out.Attributes)
		case ActionDelete:
			out.Identity = identity(c.Before, c.BeforeSensitive)
		}
		return out, true
	}

	var diffs []AttributeChange
	switch {
	case d.change.Action == ActionDelete && out.Action == ActionCreate:
		// Compare what would be created with what was there before the
		// deletion; unknown (computed) values say nothing.
		diffValues("", d.before, c.After, nil, c.AfterSensitive, c.AfterUnknown, &diffs)
		diffs = dropUnknown(diffs)
	case d.change.Action == ActionUpdate && (out.Action == ActionUpdate || out.Action == ActionReplace):
		diffValues("", c.Before, c.After, c.BeforeSensitive, c.AfterSensitive, c.AfterUnknown, &diffs)
		diffs = dropRestoring(diffs, d)
	default:
		return out, true
	}
	if len(diffs) == 0 && !d.timeBased {
		return ResourceChange{}, false
	}
	out.Attributes = diffs
	return out, true
}

// identityAttributes are the attributes that say which object a deleted
// one was, in the order shown.
var identityAttributes = []string{"id", "arn", "name", "filename", "path", "bucket", "key", "self_link", "fqdn", "email"}

// identity picks the identifying attributes out of an object's values:
// those of identityAttributes it has as non-empty scalars.
func identity(values, sensitive any) []Attribute {
	m, _ := values.(map[string]any)
	var out []Attribute
	for _, k := range identityAttributes {
		v, ok := m[k]
		if !ok || v == nil || v == "" {
			continue
		}
		if _, scalar := scalarString(v); !scalar {
			continue
		}
		out = append(out, Attribute{Path: k, Value: v, Sensitive: child(sensitive, k) == true})
	}
	return out
}

func dropUnknown(diffs []AttributeChange) []AttributeChange {
	kept := diffs[:0]
	for _, a := range diffs {
		if !a.Unknown {
			kept = append(kept, a)
		}
	}
	return kept
}

// dropRestoring removes changes that set a drifted attribute back to its
// value before the drift, and unknowns that only follow from such a change.
func dropRestoring(diffs []AttributeChange, d *driftEntry) []AttributeChange {
	kept := diffs[:0]
	restoring := false
	for _, a := range diffs {
		if prior, ok := d.changed[a.Path]; ok && !a.Unknown && equalValues(prior, a.After) {
			restoring = true
			continue
		}
		kept = append(kept, a)
	}
	if restoring {
		// Computed attributes that become unknown because of the restore
		// are part of it.
		known := kept[:0]
		for _, a := range kept {
			if !a.Unknown {
				known = append(known, a)
			}
		}
		kept = known
	}
	return kept
}

func baseChange(rc *tfjson.ResourceChange) ResourceChange {
	return ResourceChange{
		Address:      addressOf(rc),
		Module:       rc.ModuleAddress,
		Type:         rc.Type,
		Name:         rc.Name,
		ProviderName: rc.ProviderName,
	}
}

func addressOf(rc *tfjson.ResourceChange) string {
	if rc.DeposedKey != "" {
		return rc.Address + " (deposed " + rc.DeposedKey + ")"
	}
	return rc.Address
}

func outputChanges(plan *tfjson.Plan) []OutputChange {
	var outs []OutputChange
	for name, c := range plan.OutputChanges {
		if c == nil || c.Actions.NoOp() || len(c.Actions) == 0 {
			continue
		}
		o := OutputChange{
			Name:      name,
			Before:    c.Before,
			After:     c.After,
			Sensitive: c.BeforeSensitive == true || c.AfterSensitive == true,
			Unknown:   c.AfterUnknown == true,
		}
		switch {
		case c.Actions.Create():
			o.Action = ActionCreate
		case c.Actions.Delete():
			o.Action = ActionDelete
		default:
			o.Action = ActionUpdate
		}
		if o.Unknown {
			o.After = nil
		}
		if !o.Sensitive && !o.Unknown && equalValues(o.Before, o.After) {
			continue
		}
		outs = append(outs, o)
	}
	sort.Slice(outs, func(i, j int) bool { return outs[i].Name < outs[j].Name })
	return outs
}

func sortChanges(cs []ResourceChange) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Address < cs[j].Address })
	for i := range cs {
		sort.SliceStable(cs[i].Attributes, func(a, b int) bool {
			return cs[i].Attributes[a].Path < cs[i].Attributes[b].Path
		})
	}
}

// Fingerprint identifies a drift set: the same objects, drifted the same
// way, to the same values. Order does not matter. Analyze computes it from
// the redacted report (addresses, paths and values): the fingerprint is
// public (an issue's marker) and must not depend on a secret, so drift that
// differs only in a secret, or in a map key holding one, is the same drift.
func Fingerprint(changes []ResourceChange) string {
	if len(changes) == 0 {
		return ""
	}
	lines := make([]string, 0, len(changes))
	for _, c := range changes {
		var b strings.Builder
		b.WriteString(c.Address)
		b.WriteString("\x00")
		b.WriteString(string(c.Action))
		attrs := make([]string, 0, len(c.Attributes))
		for _, a := range c.Attributes {
			before, _ := json.Marshal(a.Before)
			after, _ := json.Marshal(a.After)
			attrs = append(attrs, a.Path+"\x00"+string(before)+"\x00"+string(after))
		}
		sort.Strings(attrs)
		for _, a := range attrs {
			b.WriteString("\x01")
			b.WriteString(a)
		}
		lines = append(lines, b.String())
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:8])
}
