package drift

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"

	tfjson "github.com/hashicorp/terraform-json"
)

// maxModuleDepth bounds how deeply child_modules may nest, as encoding/json
// bounds any nesting: the walk recurses per module, and a hostile document
// must not exhaust the stack. Real configurations nest a handful deep.
const maxModuleDepth = 10000

// ReadPlan reads `terraform show -json` output, keeping only what Analyze
// and CollectSecrets read. Decoding a whole large plan holds several times
// its JSON in memory (issue 5); ReadPlan decodes one resource at a time and
// keeps of each only what a report can need:
//
//   - resource_drift, output_changes, variables, and resource_changes that
//     are not no-op, in full;
//   - of no-op resource changes, their identity, actions, and the values
//     their sensitivity masks mark (secrets that must still be hidden
//     elsewhere in the report), once when before and after agree;
//   - of planned_values and prior_state, sensitive outputs and the marked
//     values of resources; of prior_state, data sources in full (what
//     they read for this plan);
//   - of configuration, the root module's variables, and of every module
//     its resources, module calls and outputs without constant values:
//     which arguments are set, and what their expressions reference;
//   - relevant_attributes and timestamp.
//
// Values cut down to their secrets carry a mask of true. Everything else is
// skipped without building values. Numbers are json.Number. The plan's format_version must be one terraform-json
// supports.
func ReadPlan(r io.Reader) (*tfjson.Plan, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	p, err := (&planReader{dec: dec}).plan()
	if err != nil {
		return nil, fmt.Errorf("drift: read plan: %w", err)
	}
	return p, nil
}

type planReader struct {
	dec *json.Decoder
}

func (pr *planReader) plan() (*tfjson.Plan, error) {
	p := &tfjson.Plan{}
	_, err := pr.object("", func(key string) error {
		var err error
		switch key {
		case "format_version":
			if err = pr.decode(key, &p.FormatVersion); err == nil {
				// Before the rest: a plan in an unknown format is refused
				// without reading it.
				err = pr.validate(key, p.FormatVersion)
			}
		case "terraform_version":
			err = pr.decode(key, &p.TerraformVersion)
		case "variables":
			err = pr.decode(key, &p.Variables)
		case "output_changes":
			err = pr.decode(key, &p.OutputChanges)
		case "resource_drift":
			p.ResourceDrift, err = pr.changes(key, false)
		case "resource_changes":
			p.ResourceChanges, err = pr.changes(key, true)
		case "planned_values":
			p.PlannedValues, err = pr.stateValues(key, false)
		case "prior_state":
			p.PriorState, err = pr.priorState(key)
		case "relevant_attributes":
			err = pr.decode(key, &p.RelevantAttributes)
		case "timestamp":
			err = pr.decode(key, &p.Timestamp)
		case "configuration":
			p.Config, err = pr.config(key)
		default:
			err = pr.skip(key)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if tok, err := pr.dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = fmt.Errorf("expected nothing after the plan, got %s", describe(tok))
		}
		return nil, pr.fail("end of input", err)
	}
	if err := pr.validate("format_version", p.FormatVersion); err != nil {
		return nil, err
	}
	return p, nil
}

// validate accepts the format versions terraform-json does, as
// terraform-exec's ShowPlanFile did for driftd.
func (pr *planReader) validate(path, formatVersion string) error {
	if err := (&tfjson.Plan{FormatVersion: formatVersion}).Validate(); err != nil {
		return pr.fail(path, err)
	}
	return nil
}

// changes reads a list of resource changes one at a time. With prune,
// no-op changes keep only what CollectSecrets reads. Null entries say
// nothing and are dropped.
func (pr *planReader) changes(path string, prune bool) ([]*tfjson.ResourceChange, error) {
	var out []*tfjson.ResourceChange
	_, err := pr.array(path, func(i int) error {
		var rc *tfjson.ResourceChange
		if err := pr.dec.Decode(&rc); err != nil {
			return pr.fail(elemPath(path, i), err)
		}
		if rc == nil {
			return nil
		}
		if prune && rc.Change != nil && rc.Change.Actions.NoOp() {
			rc = secretsOfNoOp(rc)
		}
		out = append(out, rc)
		return nil
	})
	return out, err
}

// secretsOfNoOp is a no-op change cut down to its identity and the values
// its masks mark sensitive. Analyze reports nothing for a no-op, but its
// secrets must be hidden wherever else they appear.
func secretsOfNoOp(rc *tfjson.ResourceChange) *tfjson.ResourceChange {
	c := rc.Change
	before, beforeMask := secretsOnly(c.Before, c.BeforeSensitive)
	after, afterMask := secretsOnly(c.After, c.AfterSensitive)
	if reflect.DeepEqual(before, after) {
		// A no-op's values are the same before and after: one copy of its
		// secrets is enough.
		after, afterMask = nil, nil
	}
	return &tfjson.ResourceChange{
		Address:       rc.Address,
		ModuleAddress: rc.ModuleAddress,
		Mode:          rc.Mode,
		Type:          rc.Type,
		Name:          rc.Name,
		ProviderName:  rc.ProviderName,
		DeposedKey:    rc.DeposedKey,
		Change: &tfjson.Change{
			Actions:         c.Actions,
			Before:          before,
			After:           after,
			BeforeSensitive: beforeMask,
			AfterSensitive:  afterMask,
		},
	}
}

// secretsOnly cuts v down to what mask marks sensitive, with the mask that
// then fits it: true, for everything left is sensitive. Both are nil when
// mask marks nothing.
func secretsOnly(v, mask any) (kept, keptMask any) {
	if kept, ok := masked(v, mask); ok {
		return kept, true
	}
	return nil, nil
}

// masked returns the parts of v that mask marks sensitive; ok is false when
// it marks nothing. Unmarked list elements become nil rather than go, so
// that what remains keeps its shape; CollectSecrets finds nothing in nil.
func masked(v, mask any) (kept any, ok bool) {
	switch m := mask.(type) {
	case bool:
		return v, m
	case map[string]any:
		vm, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		var out map[string]any
		for k, sub := range m {
			kv, ok := masked(vm[k], sub)
			if !ok {
				continue
			}
			if out == nil {
				out = map[string]any{}
			}
			out[k] = kv
		}
		return out, out != nil
	case []any:
		vl, isList := v.([]any)
		if !isList {
			return nil, false
		}
		var out []any
		for i := range min(len(m), len(vl)) {
			kv, ok := masked(vl[i], m[i])
			if !ok {
				continue
			}
			for len(out) <= i {
				out = append(out, nil)
			}
			out[i] = kv
		}
		return out, out != nil
	}
	return nil, false
}

func (pr *planReader) priorState(path string) (*tfjson.State, error) {
	s := &tfjson.State{}
	present, err := pr.object(path, func(key string) error {
		if key != "values" {
			return pr.skip(keyPath(path, key))
		}
		var err error
		s.Values, err = pr.stateValues(keyPath(path, key), true)
		return err
	})
	if !present {
		s = nil
	}
	return s, err
}

// stateValues reads planned_values or prior_state's values: sensitive
// outputs and the resources whose sensitive_values mark something, and with
// data, data sources in full.
func (pr *planReader) stateValues(path string, data bool) (*tfjson.StateValues, error) {
	sv := &tfjson.StateValues{}
	present, err := pr.object(path, func(key string) error {
		var err error
		switch key {
		case "outputs":
			sv.Outputs, err = pr.sensitiveOutputs(keyPath(path, key))
		case "root_module":
			sv.RootModule, err = pr.module(keyPath(path, key), 0, data)
		default:
			err = pr.skip(keyPath(path, key))
		}
		return err
	})
	if !present {
		sv = nil
	}
	return sv, err
}

func (pr *planReader) sensitiveOutputs(path string) (map[string]*tfjson.StateOutput, error) {
	var outs map[string]*tfjson.StateOutput
	_, err := pr.object(path, func(name string) error {
		// Not tfjson.StateOutput: its cty type is costly to parse and unused.
		var o struct {
			Sensitive bool `json:"sensitive"`
			Value     any  `json:"value"`
		}
		if err := pr.decode(keyPath(path, name), &o); err != nil {
			return err
		}
		if o.Sensitive {
			if outs == nil {
				outs = map[string]*tfjson.StateOutput{}
			}
			outs[name] = &tfjson.StateOutput{Sensitive: true, Value: o.Value}
		}
		return nil
	})
	return outs, err
}

func (pr *planReader) module(path string, depth int, data bool) (*tfjson.StateModule, error) {
	if depth > maxModuleDepth {
		return nil, pr.fail(path, fmt.Errorf("modules nest deeper than %d", maxModuleDepth))
	}
	m := &tfjson.StateModule{}
	present, err := pr.object(path, func(key string) error {
		var err error
		switch key {
		case "address":
			err = pr.decode(keyPath(path, key), &m.Address)
		case "resources":
			m.Resources, err = pr.sensitiveResources(keyPath(path, key), data)
		case "child_modules":
			m.ChildModules = nil
			_, err = pr.array(keyPath(path, key), func(i int) error {
				c, err := pr.module(elemPath(keyPath(path, key), i), depth+1, data)
				if c != nil {
					m.ChildModules = append(m.ChildModules, c)
				}
				return err
			})
		default:
			err = pr.skip(keyPath(path, key))
		}
		return err
	})
	if !present {
		m = nil
	}
	return m, err
}

// sensitiveResources reads a module's resources one at a time, keeping
// those whose sensitive_values mark something, with only the marked values,
// and with data, data sources whole.
func (pr *planReader) sensitiveResources(path string, data bool) ([]*tfjson.StateResource, error) {
	var out []*tfjson.StateResource
	_, err := pr.array(path, func(i int) error {
		// Only the fields kept: the decoder skips the rest unbuilt.
		var r *struct {
			Address      string              `json:"address"`
			Mode         tfjson.ResourceMode `json:"mode"`
			Type         string              `json:"type"`
			Name         string              `json:"name"`
			ProviderName string              `json:"provider_name"`
			Values       map[string]any      `json:"values"`
			Sensitive    any                 `json:"sensitive_values"`
		}
		if err := pr.dec.Decode(&r); err != nil {
			return pr.fail(elemPath(path, i), err)
		}
		if r == nil {
			return nil
		}
		if data && r.Mode == tfjson.DataResourceMode {
			// Analyze compares what data sources read with the last run.
			mask, err := json.Marshal(r.Sensitive)
			if err != nil {
				return pr.fail(elemPath(path, i), err)
			}
			out = append(out, &tfjson.StateResource{
				Address: r.Address, Mode: r.Mode, Type: r.Type, Name: r.Name, ProviderName: r.ProviderName,
				AttributeValues: r.Values, SensitiveValues: mask,
			})
			return nil
		}
		values, ok := masked(r.Values, r.Sensitive)
		if !ok {
			return nil
		}
		attrs, _ := values.(map[string]any)
		out = append(out, &tfjson.StateResource{
			Address:         r.Address,
			Mode:            r.Mode,
			Type:            r.Type,
			Name:            r.Name,
			ProviderName:    r.ProviderName,
			AttributeValues: attrs,
			// What is left is all sensitive.
			SensitiveValues: json.RawMessage("true"),
		})
		return nil
	})
	return out, err
}

// config reads the root module's variables (CollectSecrets needs which are
// sensitive and their defaults) and every module's resources, module calls
// and outputs, cut down by configModule.
func (pr *planReader) config(path string) (*tfjson.Config, error) {
	c := &tfjson.Config{}
	present, err := pr.object(path, func(key string) error {
		if key != "root_module" {
			return pr.skip(keyPath(path, key))
		}
		rmPath := keyPath(path, key)
		rm := &tfjson.ConfigModule{}
		present, err := pr.object(rmPath, func(key string) error {
			switch key {
			case "variables":
				return pr.decode(keyPath(rmPath, key), &rm.Variables)
			case "resources":
				return pr.decode(keyPath(rmPath, key), &rm.Resources)
			case "module_calls":
				return pr.decode(keyPath(rmPath, key), &rm.ModuleCalls)
			case "outputs":
				return pr.decode(keyPath(rmPath, key), &rm.Outputs)
			}
			return pr.skip(keyPath(rmPath, key))
		})
		if present {
			configModule(rm, 0)
			c.RootModule = rm
		}
		return err
	})
	if !present {
		c = nil
	}
	return c, err
}

// configModule cuts a module's configuration down to what Analyze reads:
// which arguments are set and what they reference, not constant values
// (which may be large, or secret). Child modules' variables go: a module's
// inputs are its call's expressions.
func configModule(m *tfjson.ConfigModule, depth int) {
	if m == nil || depth > maxModuleDepth {
		return
	}
	for _, r := range m.Resources {
		if r == nil {
			continue
		}
		r.Provisioners = nil
		constantsOut(r.Expressions)
		constantOut(r.CountExpression)
		constantOut(r.ForEachExpression)
	}
	for _, o := range m.Outputs {
		if o != nil {
			o.Description = ""
			constantOut(o.Expression)
		}
	}
	for _, c := range m.ModuleCalls {
		if c == nil {
			continue
		}
		constantsOut(c.Expressions)
		constantOut(c.CountExpression)
		constantOut(c.ForEachExpression)
		if c.Module != nil {
			c.Module.Variables = nil
			configModule(c.Module, depth+1)
		}
	}
}

func constantsOut(exprs map[string]*tfjson.Expression) {
	for _, e := range exprs {
		constantOut(e)
	}
}

func constantOut(e *tfjson.Expression) {
	if e == nil || e.ExpressionData == nil {
		return
	}
	if len(e.References) == 0 {
		e.ConstantValue = nil
	}
	for _, b := range e.NestedBlocks {
		constantsOut(b)
	}
}

// object reads the object at path, calling member with each key; member
// must consume the key's value. present is false for null.
func (pr *planReader) object(path string, member func(key string) error) (present bool, err error) {
	if present, err = pr.open(path, '{', "an object"); !present || err != nil {
		return present, err
	}
	for pr.dec.More() {
		tok, err := pr.dec.Token()
		if err != nil {
			return true, pr.fail(path, err)
		}
		key, ok := tok.(string)
		if !ok {
			return true, pr.fail(path, fmt.Errorf("expected a key, got %s", describe(tok)))
		}
		if err := member(key); err != nil {
			return true, err
		}
	}
	return true, pr.close(path)
}

// array reads the array at path, calling elem for each element; elem must
// consume it. present is false for null.
func (pr *planReader) array(path string, elem func(i int) error) (present bool, err error) {
	if present, err = pr.open(path, '[', "an array"); !present || err != nil {
		return present, err
	}
	for i := 0; pr.dec.More(); i++ {
		if err := elem(i); err != nil {
			return true, err
		}
	}
	return true, pr.close(path)
}

func (pr *planReader) open(path string, delim json.Delim, what string) (bool, error) {
	tok, err := pr.dec.Token()
	switch {
	case err != nil:
		return false, pr.fail(path, err)
	case tok == nil:
		return false, nil
	case tok != delim:
		return false, pr.fail(path, fmt.Errorf("expected %s, got %s", what, describe(tok)))
	}
	return true, nil
}

// close consumes the end of the object or array that More found ended.
func (pr *planReader) close(path string) error {
	if _, err := pr.dec.Token(); err != nil {
		return pr.fail(path, err)
	}
	return nil
}

func (pr *planReader) decode(path string, v any) error {
	if err := pr.dec.Decode(v); err != nil {
		return pr.fail(path, err)
	}
	return nil
}

// skipped consumes a value without building it.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

func (pr *planReader) skip(path string) error {
	return pr.decode(path, &skipped{})
}

// fail says where in the plan err happened: the key path and the byte
// offset the decoder had reached.
func (pr *planReader) fail(path string, err error) error {
	var syntax *json.SyntaxError
	if errors.Is(err, io.EOF) || errors.As(err, &syntax) && syntax.Error() == "unexpected end of JSON input" {
		// Every read here expects more of the document. (Since Go 1.27 a
		// value cut after its first byte is a syntax error of this text,
		// where it was io.ErrUnexpectedEOF.)
		err = io.ErrUnexpectedEOF
	}
	if path == "" {
		path = "top level"
	}
	return fmt.Errorf("%s (byte %d): %w", path, pr.dec.InputOffset(), err)
}

func keyPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func elemPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}
