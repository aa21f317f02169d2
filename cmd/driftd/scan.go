package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/drift/store"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/filestate"
)

// scanFlags are shared by scan and check.
type scanFlags struct {
	output        string
	storePath     string
	failOnPending bool
	verbose       bool
	cacheDir      string
	workDir       string
	install       bool
	log           logFlags
}

func (f *scanFlags) register(a *app, fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&f.output, "output", "text", "output format: text, json, markdown")
	fs.BoolVar(&f.verbose, "verbose", false, "text and markdown: also show the values a replacement computes anew (known after apply)")
	fs.BoolVar(&f.failOnPending, "fail-on-pending", false, "exit 2 also when there is code not applied (not counting changes that follow from drift, data sources or rotation)")
	fs.StringVar(&f.cacheDir, "cache-dir", a.getenv("DRIFTD_CACHE_DIR"), "provider plugin, terraform install and report cache, and what reporters told (default: the user cache dir)")
	fs.StringVar(&f.workDir, "work-dir", a.getenv("DRIFTD_WORK_DIR"), "where per-scan directories are made, private to driftd's user (default: $XDG_RUNTIME_DIR/driftd, else the cache dir's work/)")
	fs.BoolVar(&f.install, "install-terraform", true, "download the terraform version a workspace asks for when none is found")
	fs.StringVar(&f.storePath, "store", "", "history file (as driftd serve keeps): reports and what each reporter told; default none, reporter bookkeeping kept in the cache dir")
}

func (f *scanFlags) validate() error {
	switch f.output {
	case "json":
		if f.verbose {
			return errors.New("--verbose is for text and markdown output: JSON has every value, those a replacement computes anew marked \"recomputed\"")
		}
		return nil
	case "text", "markdown":
		return nil
	}
	return fmt.Errorf("--output: want text, json or markdown, got %q", f.output)
}

func (a *app) getenv(name string) string {
	v, _ := a.lookupEnv(name)
	return v
}

func (a *app) lookupEnv(name string) (string, bool) {
	prefix := name + "="
	for _, kv := range a.environ {
		if strings.HasPrefix(kv, prefix) {
			return kv[len(prefix):], true
		}
	}
	return "", false
}

// loadConfig reads a config file, expanding ${VAR} and *_env from the
// app's environment, and logs its warnings.
func (a *app) loadConfig(ctx context.Context, path string, log *slog.Logger) (*config.Config, error) {
	cfg, err := config.LoadContext(ctx, path, config.Options{Env: a.lookupEnv})
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		log.Warn("config: "+w.Msg, "file", w.File, "line", w.Line, "field", w.Path)
	}
	return cfg, nil
}

func (a *app) defaultConfigPath() string {
	if p := a.getenv("DRIFTD_CONFIG"); p != "" {
		return p
	}
	return "workspaces.yaml"
}

func (a *app) scan(ctx context.Context, args []string) (int, error) {
	fs := a.newFlagSet("scan", "scan [flags] [NAME...]")
	configPath := fs.String("config", a.defaultConfigPath(), "config file ($DRIFTD_CONFIG)")
	concurrency := fs.Int("concurrency", 4, "workspaces scanned at once")
	noReport := fs.Bool("no-report", false, "print only; deliver to no reporter")
	shardFlag := fs.String("shard", "", "scan "+shardUsage)
	var tool toolFlags
	tool.register(fs)
	var f scanFlags
	f.register(a, fs)
	f.log.register(fs, "warn")
	names, err := parseInterleaved(fs, args)
	if err != nil {
		return exitError, err
	}
	if err := f.validate(); err != nil {
		return exitError, err
	}
	if *concurrency < 1 {
		return exitError, fmt.Errorf("--concurrency must be at least 1, got %d", *concurrency)
	}
	sh, err := a.resolveShard(*shardFlag, false)
	if err != nil {
		return exitError, err
	}
	log, err := f.log.logger(a)
	if err != nil {
		return exitError, err
	}
	cfg, err := a.loadConfig(ctx, *configPath, log)
	if err != nil {
		return exitError, err
	}
	wss, err := cfg.Select(names)
	if err != nil {
		return exitError, err
	}
	if err := tool.apply(wss); err != nil {
		return exitError, err
	}
	part := shardRun{Resolved: sh, total: len(wss)}
	report := cfg
	if *noReport {
		report = nil
	}
	reports, err := a.runScans(ctx, f, log, cfg, report, part.own(wss), *concurrency, part)
	if err != nil {
		return exitError, err
	}
	return exitCode(reports, f.failOnPending), nil
}

func (a *app) check(ctx context.Context, args []string) (int, error) {
	fs := a.newFlagSet("check", "check [flags] DIR")
	var f scanFlags
	f.register(a, fs)
	f.log.register(fs, "warn")
	configPath := fs.String("config", "", "config file whose reporters --report delivers to")
	report := fs.Bool("report", false, "deliver the report to the reporters of --config (default: print only)")
	refreshOnly := fs.Bool("refresh-only", false, "plan with -refresh-only: report drift only, ignore the code")
	timeout := fs.Duration("timeout", config.DefaultTimeout, "give up on the scan after this long")
	lock := fs.Bool("lock", false, "take the state lock while planning")
	pluginTLS := fs.Bool("plugin-tls", false, "keep Terraform's TLS to its providers (docs/configuration.md, Provider connections)")
	tfVersion := fs.String("terraform-version", "", "version constraint on terraform, or tofu with --tool tofu (default: any found)")
	tfWorkspace := fs.String("workspace", "", "Terraform workspace to plan (default: the default workspace)")
	var tool toolFlags
	tool.register(fs)
	var varFiles, vars, passEnv multiFlag
	fs.Var(&varFiles, "var-file", "a -var-file for terraform, relative to DIR (repeatable)")
	fs.Var(&vars, "var", "NAME=VALUE terraform variable (repeatable)")
	fs.Var(&passEnv, "pass-env", "name or glob of an environment variable terraform may see, e.g. AWS_* (repeatable)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitError, err
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitError, errors.New("want exactly one directory")
	}
	if err := f.validate(); err != nil {
		return exitError, err
	}
	if st, err := os.Stat(pos[0]); err != nil || !st.IsDir() {
		return exitError, fmt.Errorf("%s is not a directory", pos[0])
	}
	ws := config.Check(pos[0])
	ws.RefreshOnly, ws.Timeout, ws.Lock, ws.TerraformVersion = *refreshOnly, *timeout, *lock, *tfVersion
	ws.PluginTLS, ws.TerraformWorkspace = *pluginTLS, *tfWorkspace
	ws.VarFiles, ws.PassEnv = varFiles, passEnv
	for _, name := range passEnv {
		if msg := config.ReservedEnv(name); msg != "" {
			return exitError, fmt.Errorf("--pass-env %s: %s", name, msg)
		}
	}
	for _, kv := range vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return exitError, fmt.Errorf("--var %q: want NAME=VALUE", kv)
		}
		if ws.Vars == nil {
			ws.Vars = map[string]string{}
		}
		ws.Vars[k] = v
	}
	wss := []config.Workspace{ws}
	if err := tool.apply(wss); err != nil {
		return exitError, err
	}
	log, err := f.log.logger(a)
	if err != nil {
		return exitError, err
	}
	var cfg *config.Config
	if *report {
		if *configPath == "" {
			return exitError, errors.New("--report needs --config (the reporters to deliver to)")
		}
		if cfg, err = a.loadConfig(ctx, *configPath, log); err != nil {
			return exitError, err
		}
	}
	reports, err := a.runScans(ctx, f, log, cfg, cfg, wss, 1, shardRun{})
	if err != nil {
		return exitError, err
	}
	return exitCode(reports, f.failOnPending), nil
}

// runScans scans, prints, and delivers the reports to the reporters of
// report (none when nil). cfg, when set, is the config the workspaces come
// from; wss are part's.
func (a *app) runScans(ctx context.Context, f scanFlags, log *slog.Logger, cfg, report *config.Config, wss []config.Workspace, concurrency int, part shardRun) ([]*drift.Report, error) {
	log = part.log(log)
	if part.Sharded() {
		log.Info("scanning one shard", "from", part.From, "workspaces", len(wss), "of", part.total)
	}
	all := wss
	if cfg != nil {
		all = append(slices.Clone(cfg.Workspaces), wss...)
	}
	r, err := a.sweep(ctx, f, cfg, log, all)
	if err != nil {
		return nil, err
	}
	s, err := a.scannerFor(r, log)
	if err != nil {
		return nil, err
	}
	var p *progress
	if a.interactive {
		p = startProgress(a.stderr, len(wss), a.now)
		s.OnEvent = p.event
	}
	reports := s.All(ctx, wss, concurrency)
	if p != nil {
		p.close() // before the report is printed
	}
	if err := a.print(f, reports, part.summary()); err != nil {
		return reports, err
	}
	if report == nil {
		return reports, nil
	}
	return reports, a.deliver(ctx, f, report, reports, filepath.Join(r.CacheDir(), "notify"), log, part)
}

// deliver hands a one-off scan's reports to the configured reporters.
// What each reporter told is kept in --store when given, else in files
// under notifyDir, so that the next scan knows what is still owed.
func (a *app) deliver(ctx context.Context, f scanFlags, cfg *config.Config, reports []*drift.Report, notifyDir string, log *slog.Logger, part shardRun) error {
	var (
		state reporters.State
		st    *store.Store
	)
	if f.storePath != "" {
		var err error
		if st, err = store.Open(f.storePath, store.Options{MaxAge: cfg.Server.Retention.MaxAge, MaxScans: cfg.Server.Retention.MaxScans}); err != nil {
			return err
		}
		defer st.Close()
		state = st
	} else {
		fst, err := filestate.Open(notifyDir)
		if err != nil {
			return err
		}
		state = fst
	}
	ran := make([]string, len(reports))
	for i, r := range reports {
		ran[i] = r.Workspace
	}
	forgetRemoved(ctx, state, cfg, log, ran...)
	d, err := newDelivery(cfg, log, state, part.String())
	if err != nil || d == nil {
		return err
	}
	ds := make([]reporters.Delivery, 0, len(reports))
	for _, r := range reports {
		if st != nil {
			if _, err := st.SaveReport(ctx, r); err != nil {
				return err
			}
		}
		ds = append(ds, reporters.Delivery{Cur: r})
	}
	if failed := d.deliverRun(ctx, ds); failed > 0 {
		return fmt.Errorf("%d report deliveries failed (see the log)", failed)
	}
	return nil
}

func (a *app) print(f scanFlags, reports []*drift.Report, sh *render.Shard) error {
	switch f.output {
	case "json":
		return render.JSON(a.stdout, reports, render.JSONOptions{Now: a.now(), Shard: sh})
	case "markdown":
		return writeMarkdown(a.stdout, reports, render.MarkdownOptions{Verbose: f.verbose})
	}
	return render.Text(a.stdout, reports, render.TextOptions{Color: isTerminal(a.stdout), Shard: sh, Verbose: f.verbose})
}

func writeMarkdown(w io.Writer, reports []*drift.Report, opt render.MarkdownOptions) error {
	for i, r := range reports {
		if i > 0 {
			if _, err := io.WriteString(w, "\n---\n\n"); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, render.Markdown(r, opt)); err != nil {
			return err
		}
	}
	return nil
}

// exitCode follows terraform plan -detailed-exitcode: an error anywhere is
// 1, else drift anywhere (or, with failOnPending, code not applied) is 2,
// else 0.
func exitCode(reports []*drift.Report, failOnPending bool) int {
	code := exitClean
	for _, r := range reports {
		switch {
		case r.Status == drift.StatusError:
			return exitError
		case r.Status == drift.StatusDrifted, failOnPending && r.PendingCode() > 0:
			code = exitDrift
		}
	}
	return code
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
