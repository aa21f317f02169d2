package drift_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/driftd/driftd/drift"
)

// fuzzResource is one resource_drift or resource_changes entry of a plan the
// fuzz targets build.
type fuzzResource struct {
	addr, typ, name, action string
	before, after           map[string]any
	bs, as                  any // sensitivity masks
}

func (r fuzzResource) json() map[string]any {
	return map[string]any{
		"address": r.addr, "mode": "managed", "type": r.typ, "name": r.name,
		"provider_name": "driftd.test/driftd/testbed",
		"change": map[string]any{
			"actions": strings.Split(r.action, ","), "before": nilIfEmpty(r.before), "after": nilIfEmpty(r.after),
			"before_sensitive": r.bs, "after_sensitive": r.as, "after_unknown": map[string]any{},
		},
	}
}

func nilIfEmpty(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// fuzzPlan is the JSON of a plan with the given drift and changes, read back
// through drift.ReadPlan as a scan reads terraform's.
type fuzzPlan struct {
	drift, changes []fuzzResource
	outputs        map[string]any
	variables      map[string]any
	config         map[string]any
}

func (p fuzzPlan) analyze(t *testing.T, opts drift.Options) *drift.Report {
	t.Helper()
	doc := map[string]any{"format_version": "1.2", "terraform_version": "1.11.4"}
	var rd, rc []any
	for _, r := range p.drift {
		rd = append(rd, r.json())
	}
	for _, r := range p.changes {
		rc = append(rc, r.json())
	}
	doc["resource_drift"], doc["resource_changes"] = rd, rc
	if p.outputs != nil {
		doc["output_changes"] = p.outputs
	}
	if p.variables != nil {
		doc["variables"] = p.variables
	}
	if p.config != nil {
		doc["configuration"] = map[string]any{"root_module": map[string]any{"variables": p.config}}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := drift.ReadPlan(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadPlan of a well-formed plan: %v\n%s", err, data)
	}
	r := drift.Analyze(plan, opts)
	again := drift.Analyze(plan, opts)
	if a, b := mustJSON(t, r), mustJSON(t, again); a != b {
		t.Fatalf("Analyze is not deterministic:\n%s\n%s", a, b)
	}
	if (r.Status == drift.StatusDrifted) != (len(r.Drift) > 0) || (r.Fingerprint != "") != (len(r.Drift) > 0) {
		t.Fatalf("status %s and fingerprint %q disagree with %d drift entries", r.Status, r.Fingerprint, len(r.Drift))
	}
	return r
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonString is s as a JSON document would hold it inside another string:
// a provider storing a policy or user data that embeds a secret.
func jsonString(s string, escapeHTML bool) string {
	return `{"password":"` + jsonEscaped(s, escapeHTML) + `"}`
}

// jsonEscaped is s as it appears between the quotes of a JSON string.
func jsonEscaped(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	q := strings.TrimSpace(b.String())
	return q[1 : len(q)-1]
}

// Where FuzzAnalyze plants the secret, besides the sensitive attribute that
// makes it one. Each bit of `where` adds one place.
const (
	plantDriftBefore     = 1 << iota // the sensitive attribute drifted away from the secret
	plantDriftAfter                  // ... or to it
	plantNested                      // a sensitive attribute in a nested object
	plantUnmarkedCopy                // an ordinary attribute of another resource (Terraform dropped the mark)
	plantJSONEscaped                 // inside a JSON document in an ordinary attribute, HTML-escaped
	plantSensitiveOutput             // a sensitive output
	plantOutputCopy                  // an ordinary output
	plantListElement                 // a sensitive element of a list
	plantPending                     // an ordinary attribute of a pending change
	plantJSONRaw                     // inside a JSON document, not HTML-escaped
	plantVariable                    // a sensitive variable's value and its default
	plantSubstring                   // inside a longer ordinary string
	plantWholeObject                 // an object sensitive as a whole
	plantDeleted                     // an ordinary attribute of an object deleted outside Terraform
	plantMapKey                      // a key of an ordinary map (Terraform marks keys nowhere)
	plantForEachKey                  // a for_each key, in a resource's address
)

// FuzzAnalyze: for any secret, wherever a plan holds it (sensitive or copied
// unmarked), no value of the report carries it; Analyze is deterministic and
// its status agrees with its drift.
func FuzzAnalyze(f *testing.F) {
	f.Add("hunter2-db-pass", "v2", uint16(0xffff))
	f.Add(`quote"back\slash<tag>&amp`, "x", uint16(plantJSONEscaped|plantJSONRaw|plantUnmarkedCopy))
	f.Add("1234", "1234", uint16(plantDriftBefore|plantDriftAfter))
	f.Add("prod", "production", uint16(plantUnmarkedCopy|plantSubstring))
	f.Add("line\nbreak\u2028and\ttab", "", uint16(0x0f0f))
	f.Add("ünïcødé-sécret", "ünïcødé", uint16(plantVariable|plantSensitiveOutput|plantOutputCopy))
	f.Add("key-secret-9f3a", "v", uint16(plantMapKey|plantForEachKey))
	f.Add(`k"ey]<secret>`, "v", uint16(plantMapKey|plantForEachKey))
	f.Fuzz(func(t *testing.T, secret, plain string, where uint16) {
		if secret == "" || !utf8.ValidString(secret) || !utf8.ValidString(plain) {
			return // JSON cannot carry invalid UTF-8 unchanged
		}
		p, drifted := secretPlan(secret, plain, where)
		// The secret must not be part of what is never redacted (addresses,
		// types, names, attribute paths, the marker): those are fixed here.
		for _, fixed := range []string{
			"testbed_object.db testbed_object.leak testbed_object.pend testbed_object.vault testbed_object.gone testbed_object.each",
			"driftd.test/driftd/testbed managed update delete no-op secret settings password tier gold content cidrs policy",
			"data old pw copy 10.0.0.0/8 rotated tags team core", drift.SensitiveMarker,
		} {
			if strings.Contains(fixed, secret) {
				return
			}
		}
		r := p.analyze(t, drift.Options{Workspace: "fuzz"})

		var doc any
		if err := json.Unmarshal([]byte(mustJSON(t, r)), &doc); err != nil {
			t.Fatal(err)
		}
		// Every secret of 8 characters or more is hidden inside longer
		// strings too, as itself or as a JSON document holds it (escaped,
		// with or without HTML escaping); a shorter one at least where a
		// value is the secret.
		forms := []string{secret, jsonEscaped(secret, true), jsonEscaped(secret, false)}
		leaks := func(s string) bool {
			if len(secret) < 8 {
				return s == secret
			}
			for _, form := range forms {
				if strings.Contains(s, form) {
					return true
				}
			}
			return false
		}
		walkStrings(doc, "", func(key, s string) {
			switch key {
			case "type", "name", "provider_name", "workspace":
				return // identities, checked above not to hold the secret
			}
			if leaks(s) {
				t.Fatalf("secret %q leaked in %q: %q\nreport: %s", secret, key, s, mustJSON(t, r))
			}
		})

		// The for_each instance's key is hidden in its address (how much of
		// it depends on the secret's length): compare addresses up to keys.
		var got []string
		for _, c := range r.Drift {
			got = append(got, instanceOf(c.Address))
		}
		slices.Sort(got)
		for i := range drifted {
			drifted[i] = instanceOf(drifted[i])
		}
		slices.Sort(drifted)
		if !slices.Equal(got, drifted) {
			t.Fatalf("drift %v, want %v (every resource the plan shows changed outside Terraform)", got, drifted)
		}
	})
}

// instanceOf is an address without its instance key.
func instanceOf(addr string) string {
	if i := strings.IndexByte(addr, '['); i >= 0 {
		return addr[:i] + "[…]"
	}
	return addr
}

// secretPlan builds FuzzAnalyze's plan and lists, sorted, the addresses whose
// drift changed something.
func secretPlan(secret, plain string, where uint16) (fuzzPlan, []string) {
	has := func(bit uint16) bool { return where&bit != 0 }
	long := len(secret) >= 8 // embedded copies are hidden only for secrets this long
	var p fuzzPlan
	// What makes it a secret: a sensitive attribute, unchanged.
	db := map[string]any{"id": "db", "name": "db", "secret": secret}
	p.changes = append(p.changes, fuzzResource{"testbed_object.db", "testbed_object", "db", "no-op",
		db, db, map[string]any{"secret": true}, map[string]any{"secret": true}})

	var drifted []string
	addDrift := func(r fuzzResource) {
		p.drift = append(p.drift, r)
		if !reflect.DeepEqual(r.before, r.after) {
			drifted = append(drifted, r.addr)
		}
	}
	// The db's drift, attribute by attribute.
	before := map[string]any{"id": "db", "name": "db", "secret": secret}
	after := map[string]any{"id": "db", "name": "db", "secret": secret}
	mask := map[string]any{"secret": true}
	if has(plantDriftBefore) {
		after["secret"] = plain + "rotated"
	}
	if has(plantDriftAfter) {
		before["secret"] = plain
	}
	if has(plantNested) {
		before["settings"] = map[string]any{"tier": "gold", "password": secret}
		after["settings"] = map[string]any{"tier": "gold", "password": plain}
		mask["settings"] = map[string]any{"password": true}
	}
	if has(plantListElement) {
		before["cidrs"] = []any{secret, "10.0.0.0/8"}
		after["cidrs"] = []any{plain, "10.0.0.0/8"}
		mask["cidrs"] = []any{true, false}
	}
	addDrift(fuzzResource{"testbed_object.db", "testbed_object", "db", "update", before, after, mask, mask})

	leakBefore := map[string]any{"id": "leak", "name": "leak"}
	leakAfter := map[string]any{"id": "leak", "name": "leak"}
	if has(plantUnmarkedCopy) {
		leakBefore["content"], leakAfter["content"] = secret, plain
	}
	if has(plantJSONEscaped) && long {
		leakBefore["policy"], leakAfter["policy"] = jsonString(secret, true), "{}"
	}
	if has(plantJSONRaw) && long {
		leakBefore["data"], leakAfter["data"] = jsonString(secret, false), "{}"
	}
	if has(plantSubstring) && long {
		leakBefore["copy"], leakAfter["copy"] = "old-"+secret+"-old", plain
	}
	if has(plantMapKey) {
		leakBefore["tags"] = map[string]any{secret: "a", "team": "core"}
		leakAfter["tags"] = map[string]any{secret: "b", "team": "core"}
	}
	addDrift(fuzzResource{"testbed_object.leak", "testbed_object", "leak", "update", leakBefore, leakAfter, map[string]any{}, map[string]any{}})

	if has(plantWholeObject) {
		addDrift(fuzzResource{"testbed_object.vault", "testbed_object", "vault", "update",
			map[string]any{"data": secret}, map[string]any{"data": plain + "rotated"}, true, true})
	}
	if has(plantDeleted) {
		addDrift(fuzzResource{"testbed_object.gone", "testbed_object", "gone", "delete",
			map[string]any{"id": "gone", "name": "gone", "content": secret}, nil, map[string]any{}, false})
	}
	if has(plantForEachKey) {
		addDrift(fuzzResource{`testbed_object.each["` + jsonEscaped(secret, false) + `"]`, "testbed_object", "each", "update",
			map[string]any{"content": "v1"}, map[string]any{"content": "v2"}, map[string]any{}, map[string]any{}})
	}
	if has(plantPending) {
		p.changes = append(p.changes, fuzzResource{"testbed_object.pend", "testbed_object", "pend", "update",
			map[string]any{"id": "pend", "content": "old"}, map[string]any{"id": "pend", "content": secret},
			map[string]any{}, map[string]any{}})
	}
	p.outputs = map[string]any{}
	if has(plantSensitiveOutput) {
		p.outputs["pw"] = map[string]any{"actions": []string{"update"}, "before": plain, "after": secret,
			"before_sensitive": true, "after_sensitive": true}
	}
	if has(plantOutputCopy) {
		p.outputs["copy"] = map[string]any{"actions": []string{"update"}, "before": "old", "after": secret,
			"before_sensitive": false, "after_sensitive": false}
	}
	if has(plantVariable) {
		p.variables = map[string]any{"pw": map[string]any{"value": secret}}
		p.config = map[string]any{"pw": map[string]any{"sensitive": true, "default": secret}}
	}
	slices.Sort(drifted)
	return p, drifted
}

// walkStrings calls fn with every string value in a decoded JSON document
// and the object key it sits under (the nearest one, for list elements).
func walkStrings(v any, key string, fn func(key, s string)) {
	switch t := v.(type) {
	case string:
		fn(key, t)
	case map[string]any:
		for k, sub := range t {
			walkStrings(sub, k, fn)
		}
	case []any:
		for _, sub := range t {
			walkStrings(sub, key, fn)
		}
	}
}

// globMatch is the documented meaning of an ignore glob, written out
// independently of drift's: "*" matches any run of characters (dots and
// brackets too), "?" any one character, everything else itself.
func globMatch(glob, s string) bool {
	g, r := []rune(glob), []rune(s)
	// match[i][j]: g[i:] matches r[j:].
	match := make([][]bool, len(g)+1)
	for i := range match {
		match[i] = make([]bool, len(r)+1)
	}
	match[len(g)][len(r)] = true
	for i := len(g) - 1; i >= 0; i-- {
		for j := len(r); j >= 0; j-- {
			switch {
			case g[i] == '*':
				match[i][j] = match[i+1][j] || (j < len(r) && match[i][j+1])
			case j < len(r) && (g[i] == '?' || g[i] == r[j]):
				match[i][j] = match[i+1][j+1]
			}
		}
	}
	return match[0][0]
}

// FuzzIgnore: for any ignore rule, Analyze drops exactly the resources whose
// address and type match the rule's globs (as documented, checked against an
// independent matcher), drops every attribute whose path a matching rule's
// glob matches, keeps what no rule matches, and counts what it dropped.
func FuzzIgnore(f *testing.F) {
	f.Add("testbed_object.web", "", "", "env")
	f.Add("", "testbed_*", "tags.*", "env")
	f.Add("module.m.*", "", "", "a b")
	f.Add("*", "*", `tags["a b"]`, "a b")
	f.Add("testbed_object.?eb", "", "content", "x")
	f.Add(`.*+?()[]{}|^$\`, `(`, `[`, `]`)
	f.Add("", "", "*", "Cost Center")
	f.Add("*gone", "", "", "k")
	f.Fuzz(func(t *testing.T, addrGlob, typeGlob, attrGlob, key string) {
		for _, s := range []string{addrGlob, typeGlob, attrGlob, key} {
			if !utf8.ValidString(s) || len(s) > 256 {
				return
			}
		}
		var p fuzzPlan
		upd := func(addr, typ, name string, before, after map[string]any) {
			p.drift = append(p.drift, fuzzResource{addr, typ, name, "update", before, after, map[string]any{}, map[string]any{}})
		}
		upd("testbed_object.web", "testbed_object", "web",
			map[string]any{"content": "v1", "tags": map[string]any{key: "a", "team": "core"}},
			map[string]any{"content": "v2", "tags": map[string]any{key: "b", "team": "core"}})
		upd(`module.m.testbed_other.x["k"]`, "testbed_other", "x",
			map[string]any{"content": "v1"}, map[string]any{"content": "v2"})
		p.drift = append(p.drift, fuzzResource{"testbed_object.gone", "testbed_object", "gone", "delete",
			map[string]any{"content": "v1"}, nil, map[string]any{}, false})

		all := p.analyze(t, drift.Options{Workspace: "fuzz"})
		rule := drift.IgnoreRule{Address: addrGlob, Type: typeGlob}
		if attrGlob != "" {
			rule.Attributes = []string{attrGlob}
		}
		r := p.analyze(t, drift.Options{Workspace: "fuzz", Ignore: []drift.IgnoreRule{rule}})

		kept := map[string]drift.ResourceChange{}
		for _, c := range r.Drift {
			kept[c.Address] = c
		}
		wantIgnored := 0
		for _, c := range all.Drift {
			matches := (addrGlob == "" || globMatch(addrGlob, c.Address)) && (typeGlob == "" || globMatch(typeGlob, c.Type))
			k, isKept := kept[c.Address]
			if !matches {
				if !isKept || !reflect.DeepEqual(k, c) {
					t.Fatalf("rule %+v does not match %s, yet changed it: %+v → %+v", rule, c.Address, c, k)
				}
				continue
			}
			if rule.Attributes == nil {
				if isKept {
					t.Fatalf("rule %+v matches %s, yet it is kept", rule, c.Address)
				}
				wantIgnored++
				continue
			}
			if c.Action != drift.ActionUpdate {
				// Attribute rules never drop a deletion: it has none.
				if !isKept {
					t.Fatalf("rule %+v with attributes dropped %s %s", rule, c.Action, c.Address)
				}
				continue
			}
			keptAttrs := map[string]bool{}
			for _, a := range k.Attributes {
				keptAttrs[a.Path] = true
			}
			for _, a := range c.Attributes {
				// A literal match must be ignored. A plain word (no glob,
				// no path syntax) matches nothing else.
				if globMatch(attrGlob, a.Path) && keptAttrs[a.Path] {
					t.Fatalf("rule %+v matches attribute %s of %s, yet it is kept", rule, a.Path, c.Address)
				}
				if !strings.ContainsAny(attrGlob, `*?.[]"`) && attrGlob != a.Path && !keptAttrs[a.Path] {
					t.Fatalf("rule %+v ignored attribute %s of %s, which it does not name", rule, a.Path, c.Address)
				}
				if !keptAttrs[a.Path] {
					wantIgnored++
				}
			}
			if isKept && len(k.Attributes) == 0 {
				t.Fatalf("%s kept with none of its %d attributes: an update with none left is dropped", c.Address, len(c.Attributes))
			}
		}
		if len(kept) > len(all.Drift) || r.Ignored != wantIgnored {
			t.Fatalf("rule %+v: %d kept of %d, ignored %d, want %d", rule, len(kept), len(all.Drift), r.Ignored, wantIgnored)
		}
	})
}
