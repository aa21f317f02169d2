package drift

import (
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/reliability"
)

// TestAttributeGlobs: a key may be written .key or ["key"] in a rule,
// whichever way the report writes it (joinKey).
func TestAttributeGlobs(t *testing.T) {
	t.Parallel()
	paths := []string{
		joinKey("tags", "LastScanned"),  // tags.LastScanned
		joinKey("tags", "Last Scanned"), // tags["Last Scanned"]
		joinKey("tags", "LastScannedAt"),
		joinKey("tags", "0"), // tags["0"]
		"rule[0].cidr_blocks[1]",
		"list[10]",
		joinKey(joinKey("tags", "a.b"), "c"), // tags["a.b"].c
		joinKey("tags", `say "hi"`),
	}
	tests := []struct {
		glob string
		want []string
	}{
		{`tags["LastScanned"]`, []string{"tags.LastScanned"}},
		{`tags.LastScanned`, []string{"tags.LastScanned"}},
		{`tags["Last Scanned"]`, []string{`tags["Last Scanned"]`}},
		{`tags["Last*"]`, []string{"tags.LastScanned", `tags["Last Scanned"]`, "tags.LastScannedAt"}},
		{`tags["*"]`, []string{"tags.LastScanned", `tags["Last Scanned"]`, "tags.LastScannedAt", `tags["0"]`, `tags["say \"hi\""]`}},
		{`tags["Last?Scanned"]`, []string{`tags["Last Scanned"]`}},
		{`tags.*`, []string{"tags.LastScanned", "tags.LastScannedAt"}},
		{`tags["0"]`, []string{`tags["0"]`}},
		{`tags["a.b"].c`, []string{`tags["a.b"].c`}},
		{`tags["say \"hi\""]`, []string{`tags["say \"hi\""]`}},
		{`rule[*].cidr_blocks*`, []string{"rule[0].cidr_blocks[1]"}},
		{`rule[0]*`, []string{"rule[0].cidr_blocks[1]"}},
		{`list[1?]`, []string{"list[10]"}},
		{`*Scanned`, []string{"tags.LastScanned"}},
	}
	for _, tt := range tests {
		warning, err := CheckAttributeGlob(tt.glob)
		if warning != "" || err != nil {
			t.Errorf("%s: warning %q, err %v", tt.glob, warning, err)
			continue
		}
		ig, err := newIgnorer([]IgnoreRule{{Attributes: []string{tt.glob}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range paths {
			if matchAny(ig.rules[0].attributes, p) {
				got = append(got, p)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s matches %q, want %q", tt.glob, got, tt.want)
		}
	}
}

func TestAttributeGlobWarnings(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`tags['LastScanned']`: `paths quote keys with double quotes: ["LastScanned"]`,
		`tags.Cost Center`:    `key "Cost Center" is not an identifier, which paths write as ["Cost Center"]`,
		`tags[LastScanned]`:   `[LastScanned] is neither a list index nor a quoted key: write ["LastScanned"]`,
		`rule.0.port`:         `"0" is a list index, which paths write as [0]`,
		`.tags`:               "a path starts with an attribute name, not a dot",
		`tags.`:               "an empty key (a dot with nothing after it)",
		`tags..x`:             "an empty key (a dot with nothing after it)",
		`tags["x"`:            `a quoted key needs a closing " and ]: ["key"]`,
		`tags["x]`:            `a quoted key needs a closing " and ]: ["key"]`,
		`tags["x"]y`:          `"y" follows a ] with no dot or bracket between`,
		`rule[0`:              "a [ without its ]",
		`tags["\q"]`:          `"\q" is not a valid quoted key: invalid syntax`,
	}
	for glob, want := range tests {
		got, err := CheckAttributeGlob(glob)
		if err != nil || got != want {
			t.Errorf("CheckAttributeGlob(%s) = %q, %v; want %q", glob, got, err, want)
		}
	}
	// Wildcards may stand for anything, brackets and quotes included: not
	// judged.
	for _, glob := range []string{`*.Cost Center*`, `tags.*"]`, `*`, `rule[*]`} {
		if got, err := CheckAttributeGlob(glob); got != "" || err != nil {
			t.Errorf("CheckAttributeGlob(%s) = %q, %v; want no warning", glob, got, err)
		}
	}
}

// TestGlobLength: a glob long enough to make regexp.MustCompile panic (or
// take gigabytes) is refused before it is compiled, and Analyze turns it
// into an error report instead of panicking.
func TestGlobLength(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("*", MaxGlobLen+1)
	if err := CheckGlob(long); err == nil || !strings.Contains(err.Error(), "more than the 1024 allowed") {
		t.Errorf("CheckGlob: %v", err)
	}
	if _, err := CheckAttributeGlob(long); err == nil {
		t.Error("CheckAttributeGlob accepted a glob too long")
	}
	if err := CheckGlob(strings.Repeat("a*", MaxGlobLen/2)); err != nil {
		t.Errorf("CheckGlob at the limit: %v", err)
	}
	refused := reliability.Times(t, "config", "ignore rule with a glob longer than 1024 bytes (address, type, attribute) reaching Analyze",
		"the workspace's report is an error naming the ignore rule, never a panic")
	for _, rule := range []IgnoreRule{{Address: long}, {Type: long}, {Attributes: []string{"tags", long}}} {
		r := Analyze(loadPlan(t, "plan.update_drift.json"), Options{Workspace: "w", Ignore: []IgnoreRule{rule}})
		if r.Status != StatusError || !strings.Contains(r.Error, "ignore rule") || len(r.Drift) != 0 {
			t.Errorf("rule %.40v: status %s, error %q, %d drift", rule, r.Status, r.Error, len(r.Drift))
			continue
		}
		refused.Add(1)
	}
}
