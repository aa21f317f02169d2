package main

import "testing"

// TestFuzzFuncs: fuzz targets are found with what their doc comment says
// they check, and only fuzz targets.
func TestFuzzFuncs(t *testing.T) {
	src := `package x

// FuzzA: for any input, nothing leaks. More detail
// on a second line.
func FuzzA(f *testing.F) {}

func FuzzB(f *testing.F) {}

// FuzzC checks that a and b hold. Then more.
func FuzzC(ff *testing.F) {}

func TestFuzzD(t *testing.T) {}
func FuzzHelper(x int) {}
func FuzzValue(f testing.F) {}
var s = ` + "`" + `
func FuzzInAString(f *testing.F) {}
` + "`" + `
`
	want := map[string]string{
		"FuzzA": "for any input, nothing leaks.",
		"FuzzB": "no panic on any input",
		"FuzzC": "checks that a and b hold.",
	}
	found, err := fuzzFuncs("x_test.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range found {
		got[tg.name] = tg.doc
	}
	if len(got) != len(want) {
		t.Fatalf("found %v, want %v", got, want)
	}
	for name, doc := range want {
		if got[name] != doc {
			t.Errorf("%s: %q, want %q", name, got[name], doc)
		}
	}
}
