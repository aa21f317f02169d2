package reporters

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/driftd/driftd/drift"
)

// Changes is what changed between two drift sets: what a "drift changed"
// message says.
type Changes struct {
	// Known is false when the drift told before is not known (a record
	// from before driftd kept it): only counts can be said then.
	Known bool
	// Added are resources newly drifted.
	Added []drift.ResourceChange
	// Removed are resources no longer drifted.
	Removed []drift.ResourceChange
	// Modified are resources drifted before and now, differently.
	Modified []Modified
}

// Modified is a resource drifted before and now whose drift differs.
type Modified struct {
	Address string
	// Action is set when what happened to the resource changed (updated,
	// then deleted); empty when it did not.
	Action, WasAction drift.Action
	// Attributes are the attributes whose drift is new or different now;
	// Was holds what each showed before (nil for newly drifted ones).
	Attributes []drift.AttributeChange
	Was        []*drift.AttributeChange
	// Gone are the paths of attributes no longer drifted.
	Gone []string
}

// Empty reports whether nothing is listed.
func (c Changes) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Modified) == 0
}

// Diff compares the drift in prev with cur's, by resource address and
// attribute path, in cur's order (then prev's for what went away). A nil
// prev, or one without its drift (only a fingerprint), gives Known false.
func Diff(prev, cur *drift.Report) Changes {
	if prev == nil || (len(prev.Drift) == 0 && prev.Fingerprint != "") {
		return Changes{}
	}
	c := Changes{Known: true}
	was := make(map[string]*drift.ResourceChange, len(prev.Drift))
	for i := range prev.Drift {
		was[prev.Drift[i].Address] = &prev.Drift[i]
	}
	seen := make(map[string]bool, len(cur.Drift))
	for _, rc := range cur.Drift {
		seen[rc.Address] = true
		old, ok := was[rc.Address]
		if !ok {
			c.Added = append(c.Added, rc)
			continue
		}
		if m, ok := modified(*old, rc); ok {
			c.Modified = append(c.Modified, m)
		}
	}
	for _, rc := range prev.Drift {
		if !seen[rc.Address] {
			c.Removed = append(c.Removed, rc)
		}
	}
	return c
}

func modified(old, cur drift.ResourceChange) (Modified, bool) {
	m := Modified{Address: cur.Address}
	if old.Action != cur.Action {
		m.Action, m.WasAction = cur.Action, old.Action
	}
	before := make(map[string]*drift.AttributeChange, len(old.Attributes))
	for i := range old.Attributes {
		before[old.Attributes[i].Path] = &old.Attributes[i]
	}
	for _, a := range cur.Attributes {
		b, ok := before[a.Path]
		delete(before, a.Path)
		if ok && sameAttribute(*b, a) {
			continue
		}
		m.Attributes = append(m.Attributes, a)
		m.Was = append(m.Was, b) // nil when newly drifted
	}
	for _, a := range old.Attributes {
		if _, ok := before[a.Path]; ok {
			m.Gone = append(m.Gone, a.Path)
		}
	}
	return m, m.Action != "" || len(m.Attributes) > 0 || len(m.Gone) > 0
}

// sameAttribute compares values as the fingerprint does, through JSON, so
// that numbers decoded from a record equal those fresh from a plan.
func sameAttribute(a, b drift.AttributeChange) bool {
	if a.Unknown != b.Unknown || a.Sensitive != b.Sensitive {
		return false
	}
	ab, _ := json.Marshal([]any{a.Before, a.After})
	bb, _ := json.Marshal([]any{b.Before, b.After})
	return string(ab) == string(bb)
}

// DriftVerb says what happened to a drifted resource outside Terraform.
func DriftVerb(a drift.Action) string {
	switch a {
	case drift.ActionDelete:
		return "deleted outside Terraform"
	case drift.ActionCreate:
		return "created outside Terraform"
	case drift.ActionReplace:
		return "replaced outside Terraform"
	default:
		return "changed outside Terraform"
	}
}

// Lasted says how long drift lasted: in days once two or more, else in
// hours (at least one).
func Lasted(d time.Duration) string {
	if h := int(d.Hours()); h >= 48 {
		return fmt.Sprintf("%d days", h/24)
	} else if h > 1 {
		return fmt.Sprintf("%d hours", h)
	}
	return "1 hour"
}
