package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTable: rows with the same area, fault and outcome are summed, tests
// named once, cells kept in their column, areas sorted regardless of case;
// a log round-trips through Append and Read.
func TestTable(t *testing.T) {
	log := filepath.Join(t.TempDir(), "rows.jsonl")
	for _, r := range []Row{
		{Area: "b", Fault: "restart", Outcome: "ok", Test: "TestX"},
		{Area: "a", Fault: "fuzz | pipes\nnewline", Outcome: "no crash", Count: 1000, Test: "FuzzY"},
		{Area: "b", Fault: "restart", Outcome: "ok", Count: 2, Test: "TestX"},
		{Area: "b", Fault: "restart", Outcome: "ok", Test: "TestZ"},
		{Area: "B", Fault: "restart", Outcome: "ok", Test: "TestZ"},
		{Area: "C", Fault: "kill", Outcome: "ok", Test: "TestC"},
	} {
		if err := Append(log, r); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	if err := Table(&b, readLog(t, log)); err != nil {
		t.Fatal(err)
	}
	want := "| area | fault or attack | times | outcome | test |\n|---|---|---:|---|---|\n" +
		"| a | fuzz \\| pipes newline | 1000 | no crash | `FuzzY` |\n" +
		"| B | restart | 1 | ok | `TestZ` |\n" +
		"| b | restart | 4 | ok | `TestX`, `TestZ` |\n" +
		"| C | kill | 1 | ok | `TestC` |\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestTimes: a row counts what the test and its parallel subtests added by
// the time they ended; a test that skipped or counted nothing adds no row.
func TestTimes(t *testing.T) {
	log := filepath.Join(t.TempDir(), "rows.jsonl")
	t.Setenv(EnvLog, log)
	t.Run("counted", func(t *testing.T) {
		c := Times(t, "area", "fault", "outcome")
		for i := range 3 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				c.Add(i + 1)
			})
		}
		Record(t, "area", "once", "outcome")
	})
	t.Run("skipped", func(t *testing.T) {
		Times(t, "area", "skipped", "outcome").Add(1)
		t.Skip("adds no row")
	})
	t.Run("nothing", func(t *testing.T) { Times(t, "area", "nothing", "outcome") })
	rows := readLog(t, log)
	want := []Row{
		{Area: "area", Fault: "once", Outcome: "outcome", Count: 1, Test: "TestTimes/counted"},
		{Area: "area", Fault: "fault", Outcome: "outcome", Count: 6, Test: "TestTimes/counted"},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows %+v, want %+v", rows, want)
	}
}

func readLog(t *testing.T, path string) []Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
