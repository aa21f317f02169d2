// Package plangen makes large Terraform plans out of small real ones, for
// benchmarks: the shape stays exactly what `terraform show -json` produced,
// only the number of resource instances grows.
package plangen

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// ScaleJSON is Scale on a plan's JSON (`terraform show -json` output).
func ScaleJSON(planJSON []byte, copies int) ([]byte, error) {
	var p tfjson.Plan
	if err := json.Unmarshal(planJSON, &p); err != nil {
		return nil, fmt.Errorf("plangen: plan: %w", err)
	}
	big, err := Scale(&p, copies)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(big)
	if err != nil {
		return nil, fmt.Errorf("plangen: scaled plan: %w", err)
	}
	return out, nil
}

// Scale returns a plan holding copies times every resource instance of p:
// in prior_state, planned_values, resource_changes and resource_drift. Copy c
// of an instance with index i gets index c*stride+i, where stride is one more
// than the largest index in p (instances without an index count as index 0),
// so that copies of a count-indexed resource continue its count and
// addresses stay unique. Attribute values are shared with p, not copied:
// treat the result as read-only. Resources in child modules are left as
// they are.
func Scale(p *tfjson.Plan, copies int) (*tfjson.Plan, error) {
	if copies < 1 {
		return nil, fmt.Errorf("plangen: copies must be at least 1, got %d", copies)
	}
	stride, err := maxIndex(p)
	if err != nil {
		return nil, err
	}
	stride++
	out := *p
	if p.PriorState != nil && p.PriorState.Values != nil && p.PriorState.Values.RootModule != nil {
		ps := *p.PriorState
		vals := *ps.Values
		root := *vals.RootModule
		if root.Resources, err = scaleState(root.Resources, copies, stride); err != nil {
			return nil, err
		}
		vals.RootModule = &root
		ps.Values = &vals
		out.PriorState = &ps
	}
	if p.PlannedValues != nil && p.PlannedValues.RootModule != nil {
		pv := *p.PlannedValues
		root := *pv.RootModule
		if root.Resources, err = scaleState(root.Resources, copies, stride); err != nil {
			return nil, err
		}
		pv.RootModule = &root
		out.PlannedValues = &pv
	}
	if out.ResourceChanges, err = scaleChanges(p.ResourceChanges, copies, stride); err != nil {
		return nil, err
	}
	if out.ResourceDrift, err = scaleChanges(p.ResourceDrift, copies, stride); err != nil {
		return nil, err
	}
	return &out, nil
}

func maxIndex(p *tfjson.Plan) (int, error) {
	m := 0
	see := func(idx any) error {
		i, err := index(idx)
		if err != nil {
			return err
		}
		m = max(m, i)
		return nil
	}
	for _, rc := range append(append([]*tfjson.ResourceChange(nil), p.ResourceChanges...), p.ResourceDrift...) {
		if err := see(rc.Index); err != nil {
			return 0, err
		}
	}
	return m, nil
}

// index reads a count index as the JSON decoder left it.
func index(idx any) (int, error) {
	switch v := idx.(type) {
	case nil:
		return 0, nil
	case float64:
		return int(v), nil
	case int:
		return v, nil
	case json.Number:
		i, err := strconv.Atoi(string(v))
		if err != nil {
			return 0, fmt.Errorf("plangen: index %q: %w", v, err)
		}
		return i, nil
	default:
		// for_each keys would need a different renaming scheme.
		return 0, fmt.Errorf("plangen: only count indexes can be scaled, got %T %v", idx, idx)
	}
}

// readdress replaces or adds the instance key at the end of addr.
func readdress(addr string, i int) string {
	if strings.HasSuffix(addr, "]") {
		if k := strings.LastIndexByte(addr, '['); k >= 0 {
			addr = addr[:k]
		}
	}
	return addr + "[" + strconv.Itoa(i) + "]"
}

func scaleState(rs []*tfjson.StateResource, copies, stride int) ([]*tfjson.StateResource, error) {
	out := make([]*tfjson.StateResource, 0, len(rs)*copies)
	for c := range copies {
		for _, r := range rs {
			i, err := index(r.Index)
			if err != nil {
				return nil, err
			}
			n := *r
			n.Index = c*stride + i
			n.Address = readdress(r.Address, c*stride+i)
			out = append(out, &n)
		}
	}
	return out, nil
}

func scaleChanges(rs []*tfjson.ResourceChange, copies, stride int) ([]*tfjson.ResourceChange, error) {
	if rs == nil {
		return nil, nil
	}
	out := make([]*tfjson.ResourceChange, 0, len(rs)*copies)
	for c := range copies {
		for _, r := range rs {
			i, err := index(r.Index)
			if err != nil {
				return nil, err
			}
			n := *r
			n.Index = c*stride + i
			n.Address = readdress(r.Address, c*stride+i)
			if n.PreviousAddress != "" {
				n.PreviousAddress = readdress(r.PreviousAddress, c*stride+i)
			}
			out = append(out, &n)
		}
	}
	return out, nil
}
