package main

import "testing"

// TestFuzzFunc: fuzz targets are found with what their doc comment says
// they check, and only fuzz targets.
func TestFuzzFunc(t *testing.T) {
	src := `package x

// FuzzA: for any input, nothing leaks. More detail
// on a second line.
func FuzzA(f *testing.F) {}

func FuzzB(f *testing.F) {}

// FuzzC checks that a and b hold. Then more.
func FuzzC(ff *testing.F) {}

func TestFuzzD(t *testing.T) {}
func FuzzHelper(x int) {}
`
	want := map[string]string{
		"FuzzA": "for any input, nothing leaks.",
		"FuzzB": "no panic on any input",
		"FuzzC": "checks that a and b hold.",
	}
	got := map[string]string{}
	for _, m := range fuzzFunc.FindAllStringSubmatch(src, -1) {
		got[m[2]] = firstSentence(m[1], m[2])
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
