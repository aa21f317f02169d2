package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/driftd/driftd/internal/reliability"
)

// bombs are files whose decoded form is far larger than the file: each
// must be refused with memory in proportion to its size.
var bombs = map[string]func() string{
	// Nested aliases, each ten times the one before: 10^9 values.
	"billion laughs": func() string {
		var b strings.Builder
		b.WriteString("version: 1\nx0: &a0 [1,1,1,1,1,1,1,1,1,1]\n")
		for i := 1; i < 9; i++ {
			fmt.Fprintf(&b, "x%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
		}
		b.WriteString("workspaces:\n  - name: a\n    dir: .\n    vars: {bomb: *a8}\n")
		return b.String()
	},
	// Plain aliases to one large map, one per workspace: the shape that
	// drove validate past 16 GB.
	"aliases to a large map": func() string {
		var b strings.Builder
		b.WriteString("version: 1\nworkspaces:\n  - name: w0\n    dir: .\n    env: &big\n")
		repeat(&b, 0, 2000, "      K%d: v\n")
		repeat(&b, 1, 2000, "  - {name: w%d, dir: ., env: *big}\n")
		return b.String()
	},
	// No alias at all: large defaults copied into many workspaces.
	"large defaults": func() string {
		var b strings.Builder
		b.WriteString("version: 1\ndefaults:\n  env:\n")
		repeat(&b, 0, 2000, "    K%d: v\n")
		b.WriteString("workspaces:\n")
		repeat(&b, 0, 2000, "  - {name: w%d, dir: .}\n")
		return b.String()
	},
}

// repeat writes format with each i from from to to-1.
func repeat(b *strings.Builder, from, to int, format string) {
	for i := from; i < to; i++ {
		fmt.Fprintf(b, format, i)
	}
}

// TestBombs checks the work done and the memory taken by each bomb: the
// values decoded stay within the budget, the bytes allocated within a
// fixed multiple of it. (Not parallel: the allocation count is the
// process's.)
func TestBombs(t *testing.T) {
	refused := reliability.Times(t, "config", "config bomb: a small file that aliases or defaults expand to millions of values (nested aliases, aliases to a large map, large defaults)",
		"refused as too complex; memory and nodes visited in proportion to the file and the budget")
	for name, bomb := range bombs {
		t.Run(name, func(t *testing.T) {
			data := []byte(bomb())
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			d := newDecoder(context.Background(), "testdata/bomb.yml", ".", data, Options{})
			d.parse(data)
			runtime.ReadMemStats(&after)

			if !strings.Contains(d.errs.Error(), "document too complex: aliases and defaults expand it to more than") {
				t.Errorf("errors: %v", d.errs)
			}
			if d.budget >= 0 || d.stop != errBudget {
				t.Errorf("budget %d of %d left, stop %v", d.budget, d.limit, d.stop)
			}
			// The walk stops soon after the budget runs out: it visits at
			// most the file's own nodes plus what the budget allowed.
			if own := d.size(rootOf(t, data)); d.visits > own+d.limit {
				t.Errorf("visited %d nodes; the file has %d, the budget allowed %d more", d.visits, own, d.limit)
			}
			// Half a kilobyte per value allowed: a map entry decoded and
			// copied, the yaml.v3 nodes, the error.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(512*d.limit) {
				t.Errorf("allocated %d MiB for a %d KiB file (limit %d values)", alloc>>20, len(data)>>10, d.limit)
			} else {
				t.Logf("%d KiB file: allocated %d MiB, visited %d nodes", len(data)>>10, alloc>>20, d.visits)
			}
			refused.Add(1)
		})
	}
}

func rootOf(t *testing.T, data []byte) *yaml.Node {
	t.Helper()
	d := newDecoder(context.Background(), "x.yml", ".", data, Options{})
	n := d.document(data)
	if n == nil {
		t.Fatalf("not a document: %v", d.errs)
	}
	return n
}

// TestBudgetAllowsOrdinaryFiles: a file as large as the bombs, spelt out
// without aliases, and modest use of aliases and defaults, are fine.
func TestBudgetAllowsOrdinaryFiles(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("version: 1\ndefaults:\n  env: &common\n")
	repeat(&b, 0, 20, "    K%d: v\n")
	b.WriteString("workspaces:\n")
	repeat(&b, 0, 1000, "  - name: w%d\n    dir: .\n    backend_config: *common\n    vars: {a: 1, b: [1, 2, 3], c: {d: e}}\n")
	cfg, err := Parse("testdata/big.yml", []byte(b.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Workspaces) != 1000 || len(cfg.Workspaces[999].Env) != 20 || len(cfg.Workspaces[999].BackendConfig) != 20 {
		t.Errorf("decoded %d workspaces", len(cfg.Workspaces))
	}
}

func TestFileTooLarge(t *testing.T) {
	t.Parallel()
	data := []byte("version: 1\n# " + strings.Repeat("x", MaxFileSize) + "\n")
	_, err := Parse("big.yml", data, nil)
	if err == nil || err.Error() != "big.yml: the file is larger than 4 MiB, the most a configuration may be" {
		t.Errorf("err = %v", err)
	}
	p := filepath.Join(t.TempDir(), "big.yml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("Load: %v", err)
	}
	reliability.Record(t, "config", "config file larger than 4 MiB", "refused before parsing, naming the file and the limit")
}

// TestLoadFIFO: a config path naming a FIFO no one writes to is refused
// at once; opening it waited for a writer forever, deaf to SIGINT and
// SIGTERM. The same holds for secret files.
func TestLoadFIFO(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "w.yml")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := LoadContext(t.Context(), p, Options{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Errorf("err = %v, want it to say the file is not a regular file", err)
		}
	case <-time.After(time.Minute): // a safety net, not a timing
		t.Fatal("Load still waits for a writer to the FIFO")
	}
	reliability.Record(t, "signals", "config path naming a FIFO no one writes to", "refused at once as not a regular file, instead of waiting deaf to signals")
}

// countingContext is done after its Err has been asked n times.
type countingContext struct {
	context.Context
	n, asked int
}

func (c *countingContext) Err() error {
	if c.asked++; c.asked > c.n {
		return context.Canceled
	}
	return nil
}

// TestLoadStopsWhenCanceled: a context done in the middle of a large
// file stops the walk at the next check, long before its end.
func TestLoadStopsWhenCanceled(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("version: 1\nworkspaces:\n")
	repeat(&b, 0, 2000, "  - {name: w%d, dir: ., vars: {a: 1, b: 2}}\n")
	data := []byte(b.String())

	full := newDecoder(context.Background(), "w.yml", ".", data, Options{})
	full.parse(data)
	if full.stop != nil || len(full.errs) > 0 {
		t.Fatalf("uncanceled: %v %v", full.stop, full.errs)
	}

	// Done at the 10th look: after the yaml parse and ten checks.
	ctx := &countingContext{Context: context.Background(), n: 10}
	d := newDecoder(ctx, "w.yml", ".", data, Options{})
	d.parse(data)
	if !errors.Is(d.interrupted(), context.Canceled) {
		t.Errorf("interrupted = %v", d.interrupted())
	}
	if limit := 10 * checkEvery; d.visits > limit || d.visits*10 > full.visits {
		t.Errorf("canceled walk visited %d nodes of %d", d.visits, full.visits)
	}
	if len(d.errs) > 0 {
		t.Errorf("errors after cancellation: %v", d.errs)
	}

	_, err := ParseContext(&countingContext{Context: context.Background(), n: 10}, "w.yml", data, Options{})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "reading w.yml: ") {
		t.Errorf("ParseContext: %v", err)
	}
	reliability.Record(t, "signals", "load of a 2,000-workspace config canceled (SIGINT, SIGTERM) midway",
		"the walk stops at its next check, a tenth of the file in at most; the error says canceled")
}

// doneContext is done from the start, but says so only from its second
// Err: the decoder starts parsing, then finds it done.
type doneContext struct {
	context.Context
	asked int
}

func (c *doneContext) Done() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

func (c *doneContext) Err() error {
	if c.asked++; c.asked > 1 {
		return context.Canceled
	}
	return nil
}

// TestParseYAMLInterrupted: yaml.v3 cannot be stopped, and takes seconds
// over a file of the largest size allowed; a done context does not wait
// for it, and nothing of the file is decoded.
func TestParseYAMLInterrupted(t *testing.T) {
	t.Parallel()
	data := []byte("version: 1\nworkspaces:\n" + strings.Repeat("  - a\n", (MaxFileSize-30)/6))
	d := newDecoder(&doneContext{Context: context.Background()}, "w.yml", ".", data, Options{})
	d.parse(data)
	if !errors.Is(d.interrupted(), context.Canceled) || d.visits != 0 || len(d.errs) != 0 {
		t.Errorf("interrupted %v after %d nodes, errors %v", d.interrupted(), d.visits, d.errs)
	}
	reliability.Record(t, "signals", "load of a 4 MiB config canceled while the YAML parser runs", "returns without waiting for the parser; nothing decoded")
}
