// Package reliability keeps the hardening suite's own account of what it
// exercised: each test that injects a fault or an attack records a row (what
// was done, what came of it) in the file named by $DRIFTD_RELIABILITY_LOG,
// and Table turns the rows into docs/reliability.md. Without the variable,
// recording does nothing, so plain `go test` is unaffected.
package reliability

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// EnvLog names the file rows are appended to.
const EnvLog = "DRIFTD_RELIABILITY_LOG"

// Row is one exercised fault or attack.
type Row struct {
	// Area groups rows in the table: "state backend", "fuzz", "secrets"...
	Area string `json:"area"`
	// Fault is what was done, Outcome what driftd did about it, each a short
	// sentence; rows with the same three fields are counted together.
	Fault   string `json:"fault"`
	Outcome string `json:"outcome"`
	// Count is how many times (fuzz rows: inputs executed); 0 means 1.
	Count int64 `json:"count,omitempty"`
	// Test is the test (or fuzz target) that recorded the row.
	Test string `json:"test"`
}

// Record appends a row for t once t has passed: a failed test proved the
// opposite of its outcome, so it adds nothing to the table.
func Record(t testing.TB, area, fault, outcome string) {
	t.Helper()
	Times(t, area, fault, outcome).Add(1)
}

// Counter counts the times a test did one fault or attack.
type Counter struct{ n atomic.Int64 }

// Add counts n more times.
func (c *Counter) Add(n int) { c.n.Add(int64(n)) }

// Times is Record for a fault a test does repeatedly, in a loop or in
// parallel subtests: the row is appended once t and its subtests have
// passed, counting the Add calls made by then. A count of 0 records
// nothing (subtests that skipped did nothing).
func Times(t testing.TB, area, fault, outcome string) *Counter {
	t.Helper()
	c := &Counter{}
	path := os.Getenv(EnvLog)
	if path == "" {
		return c
	}
	t.Cleanup(func() {
		n := c.n.Load()
		if t.Failed() || t.Skipped() || n == 0 {
			return
		}
		row := Row{Area: area, Fault: fault, Outcome: outcome, Count: n, Test: t.Name()}
		if err := Append(path, row); err != nil {
			t.Error(err)
		}
	})
	return c
}

// Append adds row to the log at path. One short write with O_APPEND, so rows
// from parallel test processes do not interleave.
func Append(path string, row Row) error {
	b, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("reliability: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("reliability: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("reliability: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("reliability: %w", err)
	}
	return nil
}

// Read reads a log.
func Read(r io.Reader) ([]Row, error) {
	var rows []Row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var row Row
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("reliability: line %d: %w", n, err)
		}
		if row.Count == 0 {
			row.Count = 1
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// Table writes rows as a markdown table, one line per (area, fault,
// outcome) with the counts summed and the tests named, sorted by area and
// fault regardless of case ("GitHub" among "config" and "work dir").
func Table(w io.Writer, rows []Row) error {
	type key struct{ area, fault, outcome string }
	type agg struct {
		count int64
		tests []string
	}
	sums := map[key]*agg{}
	var keys []key
	for _, r := range rows {
		k := key{r.Area, r.Fault, r.Outcome}
		a := sums[k]
		if a == nil {
			a = &agg{}
			sums[k] = a
			keys = append(keys, k)
		}
		a.count += r.Count
		if !slices.Contains(a.tests, r.Test) {
			a.tests = append(a.tests, r.Test)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		x, y := a.area+"\x00"+a.fault+"\x00"+a.outcome, b.area+"\x00"+b.fault+"\x00"+b.outcome
		return cmp.Or(strings.Compare(strings.ToLower(x), strings.ToLower(y)), strings.Compare(x, y))
	})
	var b strings.Builder
	b.WriteString("| area | fault or attack | times | outcome | test |\n|---|---|---:|---|---|\n")
	for _, k := range keys {
		a := sums[k]
		slices.Sort(a.tests)
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s |\n", cell(k.area), cell(k.fault), a.count, cell(k.outcome), cell("`"+strings.Join(a.tests, "`, `")+"`"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell keeps a value inside its table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
