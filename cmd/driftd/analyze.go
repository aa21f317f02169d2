package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/drift/runner"
	"github.com/driftd/driftd/drift/scan"
)

// analyze reports on a plan another pipeline made: the JSON of
// `terraform show -json PLANFILE`, from a file or standard input.
func (a *app) analyze(ctx context.Context, args []string) (int, error) {
	fs := a.newFlagSet("analyze", "analyze [flags] [FILE|-]")
	var f scanFlags
	fs.StringVar(&f.output, "output", "text", "output format: text, json, markdown")
	fs.BoolVar(&f.failOnPending, "fail-on-pending", false, "exit 2 also when there is code not applied (not counting changes that follow from drift or rotation)")
	fs.BoolVar(&f.verbose, "verbose", false, "text and markdown: also show the values a replacement computes anew (known after apply)")
	fs.StringVar(&f.cacheDir, "cache-dir", a.getenv("DRIFTD_CACHE_DIR"), "where --report keeps what reporters told (default: the user cache dir)")
	fs.StringVar(&f.storePath, "store", "", "history file (as driftd serve keeps) for --report: reports and what each reporter told")
	f.log.register(fs, "warn")
	name := fs.String("workspace", "", "the workspace the plan is of: its name in the report, and with --config its ignore rules, owners and reporters")
	configPath := fs.String("config", "", "config file holding --workspace")
	report := fs.Bool("report", false, "deliver the report to the reporters of --config (default: print only)")
	refreshOnly := fs.Bool("refresh-only", false, "the plan was made with -refresh-only")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitError, err
	}
	if len(pos) > 1 {
		fs.Usage()
		return exitError, errors.New("want at most one file (- or none: standard input)")
	}
	if err := f.validate(); err != nil {
		return exitError, err
	}
	log, err := f.log.logger(a)
	if err != nil {
		return exitError, err
	}

	var cfg *config.Config
	opts := drift.Options{Workspace: *name, RefreshOnly: *refreshOnly, StartedAt: a.now()}
	switch {
	case *report && *configPath == "":
		return exitError, errors.New("--report needs --config (the reporters to deliver to) and --workspace")
	case *configPath != "" && *name == "":
		return exitError, errors.New("--config needs --workspace: the workspace of the file the plan is of")
	case *configPath != "":
		if cfg, err = a.loadConfig(ctx, *configPath, log); err != nil {
			return exitError, err
		}
		wss, err := cfg.Select([]string{*name})
		if err != nil {
			return exitError, fmt.Errorf("--workspace: %w", err)
		}
		ws := wss[0]
		// Not its refresh_only: that says how driftd plans it, and this
		// plan was made elsewhere.
		opts.Owners, opts.Ignore = ws.Owners, ws.Ignore
	case *name != "" && config.CheckName(*name) != *name:
		return exitError, fmt.Errorf("--workspace %q: use lowercase letters, digits, \".\", \"_\" and \"-\", starting with a letter or digit (%q would do)", *name, config.CheckName(*name))
	}

	src := "-"
	if len(pos) == 1 {
		src = pos[0]
	}
	plan, err := a.readPlan(src)
	if err != nil {
		return exitError, err
	}
	if opts.Workspace == "" {
		opts.Workspace = "plan"
		if src != "-" {
			opts.Workspace = config.CheckName(strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)))
		}
	}

	r := drift.Analyze(plan, opts)
	r.ScanID = scan.NewID()
	reports := []*drift.Report{r}
	if err := a.print(f, reports, nil); err != nil {
		return exitError, err
	}
	if *report {
		notifyDir, err := notifyDir(f.cacheDir, a.environ)
		if err != nil {
			return exitError, err
		}
		if err := a.deliver(ctx, f, cfg, reports, notifyDir, log, shardRun{}); err != nil {
			return exitError, err
		}
	}
	return exitCode(reports, f.failOnPending), nil
}

// readPlan reads the JSON of `terraform show -json PLANFILE` from the file
// src, or standard input for "-", and checks that it is one.
func (a *app) readPlan(src string) (*tfjson.Plan, error) {
	in, name := a.stdin, "standard input"
	if src == "-" {
		if isTerminal(in) {
			return nil, errors.New("standard input is a terminal: pipe the output of `terraform show -json PLANFILE` into driftd analyze, or name a file")
		}
	} else {
		file, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		in, name = file, src
	}
	counted := &countReader{r: in}
	plan, err := drift.ReadPlan(counted)
	switch {
	case err != nil && counted.n == 0:
		return nil, fmt.Errorf("%s: empty: expected the output of `terraform show -json PLANFILE`", name)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	case plan.PlannedValues == nil:
		// What `show -json` prints for a state, or for no plan file.
		return nil, fmt.Errorf("%s: not a plan: no planned_values (the output of `terraform show -json` without a plan file describes the state); run `terraform show -json PLANFILE` on a saved plan", name)
	}
	return plan, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// notifyDir is where reporters' bookkeeping is kept without a store, as
// scan and check keep it: under the cache dir.
func notifyDir(cacheDir string, environ []string) (string, error) {
	if cacheDir == "" {
		dir, err := runner.DefaultCacheDir(environ)
		if err != nil {
			return "", err
		}
		cacheDir = dir
	}
	abs, err := filepath.Abs(cacheDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(abs, "notify"), nil
}
