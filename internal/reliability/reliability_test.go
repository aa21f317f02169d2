package reliability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTable: rows with the same area, fault and outcome are summed, tests
// named once, cells kept in their column; a log round-trips through Append
// and Read.
func TestTable(t *testing.T) {
	log := filepath.Join(t.TempDir(), "rows.jsonl")
	for _, r := range []Row{
		{Area: "b", Fault: "restart", Outcome: "ok", Test: "TestX"},
		{Area: "a", Fault: "fuzz | pipes\nnewline", Outcome: "no crash", Count: 1000, Test: "FuzzY"},
		{Area: "b", Fault: "restart", Outcome: "ok", Count: 2, Test: "TestX"},
		{Area: "b", Fault: "restart", Outcome: "ok", Test: "TestZ"},
	} {
		if err := Append(log, r); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Table(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := "| area | fault or attack | times | outcome | test |\n|---|---|---:|---|---|\n" +
		"| a | fuzz \\| pipes newline | 1000 | no crash | `FuzzY` |\n" +
		"| b | restart | 4 | ok | `TestX`, `TestZ` |\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
