// Package runner runs Terraform for one scan of one workspace: it finds or
// installs the terraform binary, prepares an isolated work directory, runs
// init, plan -out and show -json through terraform-exec, and returns the
// parsed plan. It never applies and never writes state; every process it
// starts is killed when the scan ends, however it ends.
package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/gitsource"
	"github.com/driftd/driftd/drift/planfile"
	"github.com/driftd/driftd/drift/workdir"
)

// Options configure a Runner.
type Options struct {
	// CacheDir holds the provider plugin cache (CacheDir/plugins) and
	// installed terraform binaries (CacheDir/terraform/<version>/).
	// Default: $XDG_CACHE_HOME/driftd, else ~/.cache/driftd.
	CacheDir string
	// WorkRoot is where per-scan directories go (see workdir.Options.Root).
	// Sweep treats it as driftd's own; New refuses one that is not private
	// to driftd's user (workdir.EnsureRoot). Default:
	// workdir.DefaultRoot(Environ, CacheDir).
	WorkRoot string
	// GitDir holds the mirrors of git sources. Default: CacheDir/git.
	GitDir string
	// Environ is driftd's own environment; scans inherit only allow-listed
	// parts of it. Default: os.Environ().
	Environ []string
	// DenyEnv names the variables (or globs) driftd reads its own secrets
	// from; they never reach Terraform.
	DenyEnv []string
	// KillGrace is how long terraform gets to exit after SIGINT on timeout or
	// cancellation before it is killed. Default: 10s.
	KillGrace time.Duration
	// AllowInstall lets the Runner download a terraform release that is not
	// on PATH or in the cache.
	AllowInstall bool
	// Guard, when set, is told of every scan in flight, so that provider
	// plugins die with a killed driftd (see StartGuard).
	Guard *Guard
	// InstallTimeout bounds one download. Default: 2m.
	InstallTimeout time.Duration
	Logger         *slog.Logger
}

// Spec is what the Runner needs to know about a workspace; the caller fills
// it from the workspace's configuration.
type Spec struct {
	workdir.Spec
	// Tool is Terraform ("" too) or Tofu.
	Tool string
	// Binary is the executable to run; "" looks for Tool on PATH and in
	// the install cache. It must say it is Tool.
	Binary string
	// TerraformVersion is a version constraint on Tool's version; ""
	// accepts any version.
	TerraformVersion string
	// Workspace is the Terraform workspace to plan, selected with
	// `terraform workspace select`; "" is the default workspace.
	Workspace string
	// VarFiles are passed as -var-file, relative to the workspace directory
	// unless absolute.
	VarFiles []string
	// BackendConfig entries are passed to init through a -backend-config
	// file, keeping their values off the process list.
	BackendConfig map[string]string
	// Timeout bounds the whole scan; 0 means no limit.
	Timeout     time.Duration
	RefreshOnly bool
	// Lock makes plan take the state lock (-lock=true), waiting up to
	// LockTimeout for it.
	Lock        bool
	LockTimeout time.Duration
	// Parallelism is plan's -parallelism; 0 keeps Terraform's default.
	Parallelism int
	// PluginTLS keeps go-plugin's mutual TLS between Terraform and its
	// providers, which driftd otherwise turns off where that is safe (see
	// pluginSocketDir).
	PluginTLS bool
	// KnownPlan is the Result.PlanKey of a plan whose report the caller
	// kept. A scan whose plan has this key skips `terraform show -json` and
	// returns PlanKnown and no Plan.
	KnownPlan string
}

// The tools a Spec may plan with. Both take the same arguments and print
// the same JSON as far as driftd is concerned (docs/opentofu.md).
const (
	Terraform = "terraform"
	Tofu      = "tofu"
)

func (s Spec) tool() string {
	if s.Tool == "" {
		return Terraform
	}
	return s.Tool
}

// Result is a successful scan.
type Result struct {
	Plan             *tfjson.Plan
	TerraformVersion string
	Duration         time.Duration
	// ScanID identifies the scan in logs (see workdir.Dir.ScanID).
	ScanID string
	// Commit is the git commit planned, for git sources.
	Commit string
	// InitReused says init was skipped: the workspace's data dir from an
	// earlier scan was reused (see dataDirs).
	InitReused bool
	// InitShared says init was skipped: the data dir was made from another
	// workspace's init of the same dependency lock file (see initSets).
	InitShared bool
	// ShowSkipped says `terraform show -json` did not run: the plan file
	// recorded nothing to report, and Plan holds only the version, or
	// PlanKnown.
	ShowSkipped bool
	// PlanKey identifies the plan and the binaries that render it (see
	// showKey); empty for a plan with nothing to report, or one driftd
	// could not read.
	PlanKey string
	// PlanKnown says PlanKey is Spec.KnownPlan: show was skipped and Plan
	// is nil, the caller's report of that plan being this scan's.
	PlanKnown bool
	// DataReads are what the data sources read at the last apply, from the
	// plan file (drift.Options.PreviousReads); nil when show did not run or
	// the plan file did not say.
	DataReads drift.DataReads
}

// Runner runs scans. It is safe for concurrent use.
type Runner struct {
	opts  Options
	cache *pluginCache
	data  *dataDirs
	sets  *initSets
	locks *locks

	// scans sizes each scan's GOMAXPROCS (see procs.go); cores, when set,
	// stands in for runtime.GOMAXPROCS(0) in tests.
	scans scanCount
	cores func() int

	binMu    sync.Mutex
	bins     map[binaryKey]binary
	versions map[binaryFile]string // terraform versions already asked

	// mirrors is made on first use, so that driftd without git sources
	// needs no git binary.
	mirrorsMu sync.Mutex
	mirrors   *gitsource.Mirrors
}

// New returns a Runner, creating its cache directories.
func New(opts Options) (*Runner, error) {
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	if opts.CacheDir == "" {
		dir, err := DefaultCacheDir(opts.Environ)
		if err != nil {
			return nil, err
		}
		opts.CacheDir = dir
	}
	if opts.WorkRoot == "" {
		opts.WorkRoot = workdir.DefaultRoot(opts.Environ, opts.CacheDir)
	}
	// Terraform runs in the scan's directory: a relative TF_DATA_DIR or
	// plugin cache would land there and be lost with it.
	for _, p := range []*string{&opts.CacheDir, &opts.WorkRoot} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	if opts.GitDir == "" {
		opts.GitDir = filepath.Join(opts.CacheDir, "git")
	}
	if err := workdir.EnsureRoot(opts.WorkRoot); err != nil {
		return nil, err
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = 10 * time.Second
	}
	if opts.InstallTimeout <= 0 {
		opts.InstallTimeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cache, err := newPluginCache(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	data, err := newDataDirs(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	sets, err := newInitSets(opts.CacheDir, cache.dir)
	if err != nil {
		return nil, err
	}
	locks, err := newLocks(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	return &Runner{opts: opts, cache: cache, data: data, sets: sets, locks: locks, bins: map[binaryKey]binary{}, versions: map[binaryFile]string{}}, nil
}

// DefaultCacheDir is the cache directory of a Runner without
// Options.CacheDir in the environment environ: $XDG_CACHE_HOME/driftd,
// else ~/.cache/driftd.
func DefaultCacheDir(environ []string) (string, error) {
	var xdg, home string
	for _, kv := range environ {
		switch k, v, _ := cutEnv(kv); k {
		case "XDG_CACHE_HOME":
			xdg = v
		case "HOME":
			home = v
		}
	}
	if filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "driftd"), nil
	}
	if home == "" {
		return "", errors.New("runner: no CacheDir given and neither XDG_CACHE_HOME nor HOME is set")
	}
	return filepath.Join(home, ".cache", "driftd"), nil
}

func cutEnv(kv string) (k, v string, ok bool) { return strings.Cut(kv, "=") }

// scan carries one Plan call's state.
type scan struct {
	r      *Runner
	spec   Spec
	start  time.Time
	parent context.Context // the caller's: done means canceled
	ctx    context.Context // parent plus spec.Timeout
	scanID string
	commit string
	// tool is the binary's: Terraform or Tofu.
	tool    string
	secrets []string
	// sensitive, once the work directory exists, returns secrets with the
	// values of the configuration's sensitive variables: read only when a
	// scan fails, the only time they are needed.
	sensitive func() []string
	stage     Stage
	stderr    capBuffer
}

// CacheDir is the directory of the Runner's caches (Options.CacheDir, or
// its default).
func (r *Runner) CacheDir() string { return r.opts.CacheDir }

// Plan scans one workspace. Errors are *Error.
func (r *Runner) Plan(ctx context.Context, spec Spec) (*Result, error) {
	return r.run(ctx, spec, runPlan)
}

// runMode is what a run does once terraform is initialised.
type runMode struct {
	// probe plans without refresh, for lock recovery (see recoverLock).
	probe bool
	// unlockID, when set, makes the run `terraform force-unlock` that lock
	// instead of planning.
	unlockID string
}

var runPlan = runMode{}

func (r *Runner) run(ctx context.Context, spec Spec, mode runMode) (*Result, error) {
	defer r.scans.start()()
	s := &scan{r: r, spec: spec, start: time.Now(), parent: ctx, ctx: ctx}
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		s.ctx, cancel = context.WithTimeout(ctx, spec.Timeout)
		defer cancel()
	}
	log := r.opts.Logger.With("workspace", spec.Name)

	s.stage = StageInstall
	bin, err := r.binary(s.ctx, spec)
	if err != nil {
		return nil, s.fail(err)
	}
	s.tool = bin.tool

	s.stage = StageWorkdir
	wopts := workdir.Options{
		Root:           r.opts.WorkRoot,
		Environ:        r.opts.Environ,
		DenyEnv:        r.opts.DenyEnv,
		PluginCacheDir: r.cache.dir,
	}
	if spec.Git != nil {
		if spec.Git.Auth.Token != "" {
			s.secrets = []string{spec.Git.Auth.Token}
		}
		if wopts.Mirrors, err = r.gitMirrors(); err != nil {
			s.stage = StageGit
			return nil, s.fail(err)
		}
	}
	dir, err := workdir.Prepare(s.ctx, spec.Spec, wopts)
	if err != nil {
		if _, ok := errors.AsType[*workdir.GitError](err); ok {
			s.stage = StageGit
		}
		return nil, s.fail(err)
	}
	s.scanID, s.commit = dir.ScanID, dir.Commit
	// Until the scan's processes are reaped (the defer below runs after
	// reap's, defers being LIFO).
	r.opts.Guard.watch(dir.ScanID)
	defer r.opts.Guard.unwatch(dir.ScanID)
	log = log.With("scan_id", dir.ScanID)
	if dir.Commit != "" {
		log = log.With("commit", dir.Commit)
	}
	defer func() {
		if err := dir.Close(); err != nil {
			log.Warn("scan directory cleanup failed", "err", err)
		}
	}()

	env, vars, dropped := splitEnv(dir.Env)
	if len(dropped) > 0 {
		log.Warn("environment variables managed by terraform-exec were dropped", "names", dropped)
	}
	if s.tool == Tofu {
		// OpenTofu also looks for its CLI configuration and plugins in the
		// XDG directories, where the operator's settings may be.
		for _, kv := range r.opts.Environ {
			if k, v, _ := cutEnv(kv); k == "XDG_CONFIG_HOME" || k == "XDG_DATA_HOME" {
				if _, set := env[k]; !set {
					env[k] = v
				}
			}
		}
	}
	for k, v := range quietEnv {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	if _, set := env["GOMAXPROCS"]; !set {
		env["GOMAXPROCS"] = r.scanProcs()
	}
	// See pluginCache: no init may rewrite a package that plans are using.
	env["TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE"] = "1"
	tmp, plainPlugins := pluginSocketDir(runtime.GOOS, dir.Base(), spec)
	if plainPlugins {
		if err := os.Mkdir(tmp, 0o700); err != nil {
			return nil, s.fail(fmt.Errorf("create plugin socket dir: %w", err))
		}
		env["TMPDIR"] = tmp
	}
	s.secrets = secretValues(dir.Env, spec)
	s.sensitive = func() []string { return withSensitive(s.secrets, dir.Path, spec.VarFiles, vars) }

	tf, err := tfexec.NewTerraform(dir.Path, bin.path)
	if err == nil {
		err = tf.SetEnv(env)
	}
	if err == nil {
		err = tf.SetWaitDelay(r.opts.KillGrace)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	tf.SetDisablePluginTLS(plainPlugins)
	tf.SetStderr(&s.stderr)
	version, err := r.version(s.ctx, bin, tf)
	if err != nil {
		return nil, s.fail(err)
	}

	// The workspace's own data dir when no other scan holds it, else a
	// private one in the scan's directory, initialised afresh.
	dataDir, privatePlugins := dir.DataDir, filepath.Join(dir.Base(), "plugins")
	key, err := initKey(s.tool, version, dir.Tree, dir.Path, spec.BackendConfig)
	if err != nil {
		return nil, s.fail(err)
	}
	dd, err := r.data.acquire(spec, key)
	if err != nil {
		return nil, s.fail(err)
	}
	if dd != nil {
		defer dd.release()
		dataDir, privatePlugins = dd.path(), dd.pluginDir()
	} else {
		log.Info("workspace data dir in use by another scan; initialising a private one")
	}
	// Runs before dd.release and dir.Close (defers are LIFO): nothing of
	// this scan may still be running when the data dir is handed on or the
	// directory removed. (The version probe above has no children.)
	defer r.reap(s.ctx, dir.ScanID, log)()

	env["TF_DATA_DIR"] = dataDir
	if err := tf.SetEnv(env); err != nil {
		return nil, s.fail(err)
	}

	initOpts, err := initOptions(dir, spec)
	if err != nil {
		return nil, s.fail(err)
	}
	planOpts, err := planOptions(dir, spec, vars)
	if err != nil {
		return nil, s.fail(err)
	}
	if mode.probe {
		planOpts = append(planOpts, tfexec.Refresh(false))
	}

	in := initRun{tf: tf, dir: dir.Path, dataDir: dataDir, opts: initOpts, env: env, privatePlugins: privatePlugins, data: dd, log: log}
	reused, shared := dd != nil && dd.reusable, false
	if reused {
		s.stage = StageInit
		if err := dd.restore(dir.Path); err != nil {
			return nil, s.fail(err)
		}
		log.Debug("init skipped: data dir reused")
	} else {
		if dd != nil {
			if in.setKey, err = initSetKey(s.tool, version, dir.Path, spec.BackendConfig); err != nil {
				return nil, s.fail(err)
			}
		}
		if shared, err = s.init(in); err != nil {
			return nil, s.fail(err)
		}
	}

	if err := s.selectWorkspace(tf, dataDir); err != nil {
		return nil, s.fail(err)
	}
	if mode.unlockID != "" {
		s.stage = StageUnlock
		s.stderr.Reset()
		if err := tf.ForceUnlock(s.ctx, mode.unlockID); err != nil {
			return nil, s.fail(err)
		}
		return &Result{TerraformVersion: version, Duration: time.Since(s.start), ScanID: dir.ScanID, Commit: dir.Commit}, nil
	}

	s.stage = StagePlan
	if spec.Lock && !mode.probe {
		// Until plan returns, terraform may hold the state lock: if driftd
		// is killed meanwhile, the record lets the next one release it.
		rec, err := newLockRecord(spec, version)
		if err == nil {
			err = dir.WriteFile(lockRecordFile, rec)
		}
		if err != nil {
			return nil, s.fail(err)
		}
		defer func() {
			// terraform stopped by a timeout or cancellation may have
			// been killed holding the lock: the next start checks.
			if s.ctx.Err() != nil {
				if _, err := r.locks.adopt(dir.Base(), dir.ScanID); err != nil {
					log.Warn("lock record of a stopped scan not kept", "err", err)
				}
			}
			os.Remove(filepath.Join(dir.Base(), lockRecordFile))
		}()
	}
	s.stderr.Reset()
	t0 := time.Now()
	_, err = tf.Plan(s.ctx, planOpts...)
	if err != nil && s.ctx.Err() == nil && (shared || reused && needsInit(s.stderr.String())) {
		if shared {
			// Whatever the cause, a plan on a data dir of another
			// workspace's making gets one more try after a real init.
			log.Info("plan failed on a data dir made from another workspace's init; running init")
		} else {
			// What the data dir points at changed under it (a plugin
			// cache emptied by hand): init afresh, once.
			log.Warn("reused data dir is out of date; running init")
		}
		reused, shared, in.setKey = false, false, ""
		if err := dd.reset(); err != nil {
			return nil, s.fail(err)
		}
		if _, err := s.init(in); err != nil {
			return nil, s.fail(err)
		}
		if err := s.selectWorkspace(tf, dataDir); err != nil {
			return nil, s.fail(err)
		}
		s.stage = StagePlan
		s.stderr.Reset()
		t0 = time.Now()
		_, err = tf.Plan(s.ctx, planOpts...)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	log.Debug("plan done", "took", time.Since(t0))

	s.stage = StageShow
	showEnv := env
	if plainPlugins {
		// show is driftd's own exec; tf.SetEnv refuses this name.
		showEnv = maps.Clone(env)
		showEnv["TF_DISABLE_PLUGIN_TLS"] = "1"
	}
	plan, key, shown, err := s.readPlan(tf, showEnv, dir.PlanFile, dataDir, log)
	if err != nil {
		return nil, s.fail(err)
	}
	var reads drift.DataReads
	if shown {
		if reads, err = planfile.DataReads(dir.PlanFile); err != nil {
			// Analysis then puts no change down to a data source.
			log.Warn("plan file's previous state not read; changes that follow from data sources will read as code", "err", err)
		}
	}
	known := key != "" && key == spec.KnownPlan
	res := &Result{Plan: plan, TerraformVersion: version, Duration: time.Since(s.start), ScanID: dir.ScanID, Commit: dir.Commit,
		InitReused: reused, InitShared: shared, ShowSkipped: !shown, PlanKey: key, PlanKnown: known, DataReads: reads}
	log.Info("scan planned", "terraform", version, "init_reused", reused, "init_shared", shared, "show_skipped", !shown,
		"plan_known", known, "took", res.Duration)
	return res, nil
}

// readPlan returns the saved plan as terraform-json's Plan, and its
// showKey unless it has nothing to report. A plan file that records no
// drift and no change of any kind needs no `terraform show -json` (a
// terraform and a provider start each, for schemas): its Plan is empty but
// for the version. Nor does a plan of key Spec.KnownPlan, whose Plan is
// nil. shown says show ran.
//
// OpenTofu's plan file is OpenTofu's own: planfile reads Terraform's, and
// a plan it misread as clean would be drift unreported. So tofu plans
// always go through show, which is the contract both tools keep.
func (s *scan) readPlan(tf *tfexec.Terraform, env map[string]string, path, dataDir string, log *slog.Logger) (plan *tfjson.Plan, key string, shown bool, err error) {
	var sum planfile.Summary
	if s.tool == Tofu {
		err = errors.New("an OpenTofu plan file")
	} else {
		sum, err = planfile.Summarize(path)
	}
	switch {
	case err != nil:
		log.Debug("plan file not read directly; running show", "err", err)
	case sum.Clean:
		return &tfjson.Plan{TerraformVersion: sum.TerraformVersion}, "", false, nil
	default:
		key, err = showKey(sum.Key, s.tool, tf.ExecPath(), dataDir)
		switch {
		case err != nil:
			log.Debug("no plan key; running show", "err", err)
			key = ""
		case key == s.spec.KnownPlan:
			return nil, key, false, nil
		}
	}
	s.stderr.Reset()
	plan, err = showJSON(s.ctx, tf.ExecPath(), tf.WorkingDir(), env, &s.stderr, s.r.opts.KillGrace, path)
	return plan, key, true, err
}

// selectWorkspace makes the spec's Terraform workspace, or the default,
// the one plan reads. `terraform workspace select` writes only the data
// dir's environment file, and refuses a workspace that does not exist;
// TF_WORKSPACE (which terraform-exec refuses to pass anyway) would plan an
// empty state for it, and create its directory beside the code.
func (s *scan) selectWorkspace(tf *tfexec.Terraform, dataDir string) error {
	if s.spec.Workspace == "" {
		// A reused data dir keeps what an earlier scan selected.
		if err := os.Remove(filepath.Join(dataDir, "environment")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	s.stage = StageWorkspace
	s.stderr.Reset()
	return tf.WorkspaceSelect(s.ctx, s.spec.Workspace)
}

// gitMirrors returns the Runner's git mirrors, making them on first use.
func (r *Runner) gitMirrors() (*gitsource.Mirrors, error) {
	r.mirrorsMu.Lock()
	defer r.mirrorsMu.Unlock()
	if r.mirrors == nil {
		m, err := gitsource.New(r.opts.GitDir, r.opts.Logger)
		if err != nil {
			return nil, err
		}
		r.mirrors = m
	}
	return r.mirrors, nil
}

// initRun is what an init of one scan needs.
type initRun struct {
	tf      *tfexec.Terraform
	dir     string
	dataDir string // TF_DATA_DIR
	opts    []tfexec.InitOption
	env     map[string]string
	// privatePlugins is the plugin cache for a retry that avoids the shared
	// one.
	privatePlugins string
	data           *dataDir // nil: a private data dir, not kept
	// setKey names the init set that may stand in for init; "" for none.
	setKey string
	log    *slog.Logger
}

// init runs terraform init holding the plugin cache lock, unless the init
// set named by in.setKey stands in for it (fromSet). The set is looked up
// under the lock, so that scans waiting for the first init of a provider set
// use what it recorded. When the shared cache's copy of a provider does not
// match the dependency lock file (a provider rebuilt under the same version,
// a corrupt cache), init is retried once with a private plugin cache. A
// successful init of a kept data dir is recorded for reuse.
func (s *scan) init(in initRun) (fromSet bool, err error) {
	s.stage = StageInit
	t0 := time.Now()
	shared, done, err := s.r.cache.acquire(s.ctx, in.dir)
	if err != nil {
		return false, err
	}
	in.log.Debug("plugin cache locked", "shared", shared, "waited", time.Since(t0))
	if in.setKey != "" && s.applySet(in) {
		done(true)
		in.log.Debug("init skipped: data dir made from an init set")
		s.keepDataDir(in)
		return true, nil
	}
	s.stderr.Reset()
	err = in.tf.Init(s.ctx, in.opts...)
	if err == nil && in.setKey != "" {
		if _, rerr := s.r.sets.record(in.setKey, in.dataDir, in.dir); rerr != nil {
			in.log.Warn("init not recorded for other workspaces", "err", rerr)
		}
	}
	done(err == nil)
	if err != nil && s.ctx.Err() == nil {
		if provider, ok := cacheMismatch(s.stderr.String()); ok {
			in.log.Warn("the plugin cache's copy of a provider does not match the dependency lock file; installing it privately for this workspace",
				"provider", provider)
			err = s.initPrivate(in)
		}
	}
	in.log.Debug("init done", "took", time.Since(t0))
	if err != nil {
		return false, err
	}
	s.keepDataDir(in)
	return false, nil
}

// applySet makes the data dir from the init set of in.setKey and reports
// whether it did; anything amiss leaves the data dir empty for a real init.
func (s *scan) applySet(in initRun) bool {
	set, err := s.r.sets.load(in.setKey)
	if err == nil && set != nil {
		if err = set.apply(in.dataDir, in.dir); err == nil {
			s.r.sets.used(in.setKey)
			return true
		}
	}
	if err != nil {
		in.log.Warn("init set not used", "err", err)
		if rerr := in.data.reset(); rerr != nil {
			in.log.Warn("data dir reset failed", "err", rerr)
		}
	}
	return false
}

// keepDataDir records a kept data dir's init for reuse by the workspace's next
// scan.
func (s *scan) keepDataDir(in initRun) {
	if in.data == nil {
		return
	}
	if err := in.data.commit(in.dir); err != nil {
		// The scan goes on; the next one inits again.
		in.log.Warn("data dir not kept for reuse", "err", err)
	}
}

// initPrivate runs init with a plugin cache of the workspace's own, which
// needs no lock.
func (s *scan) initPrivate(in initRun) error {
	if err := os.RemoveAll(in.privatePlugins); err != nil {
		return err
	}
	if err := os.MkdirAll(in.privatePlugins, 0o700); err != nil {
		return err
	}
	env := maps.Clone(in.env)
	env["TF_PLUGIN_CACHE_DIR"] = in.privatePlugins
	if err := in.tf.SetEnv(env); err != nil {
		return err
	}
	defer in.tf.SetEnv(in.env) //nolint:errcheck // accepted once above
	s.stderr.Reset()
	return in.tf.Init(s.ctx, in.opts...)
}

// cacheMismatchRE matches Terraform's complaint about a cached provider
// whose checksum is not in the lock file, naming the provider.
var cacheMismatchRE = regexp.MustCompile(`(?s)(\S+/\S+/\S+ v?\d\S*)[^.]*?doesn't\s+match\s+any\s+of\s+the\s+checksums`)

// cacheMismatch reports whether init failed on a cached provider that does
// not match the lock file, and which provider ("" when unknown).
func cacheMismatch(stderr string) (provider string, ok bool) {
	if !strings.Contains(strings.Join(strings.Fields(stderr), " "), "doesn't match any of the checksums") {
		return "", false
	}
	if m := cacheMismatchRE.FindStringSubmatch(stderr); m != nil {
		return m[1], true
	}
	return "", true
}

// reap makes sure no process of the scan survives it: once ctx is done it
// waits KillGrace (terraform-exec's own SIGINT-then-kill of terraform) and
// then kills whatever still carries the scan id, and the returned func does
// the same when the scan ends, whatever the outcome.
func (r *Runner) reap(ctx context.Context, scanID string, log *slog.Logger) func() {
	needle := workdir.ScanIDEnv + "=" + scanID
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(r.opts.KillGrace + time.Second)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			if n := killScan(needle); n > 0 {
				log.Warn("killed processes of a stopped scan", "count", n)
			}
		}
	}()
	return func() {
		close(done)
		if n := killScan(needle); n > 0 {
			log.Warn("killed processes left behind by terraform", "count", n)
		}
	}
}

// fail turns err into an *Error for the current stage, or for a timeout or
// cancellation when the context explains the failure.
func (s *scan) fail(err error) *Error {
	e := &Error{Workspace: s.spec.Name, Stage: s.stage, ScanID: s.scanID, Commit: s.commit, Elapsed: time.Since(s.start), Err: err}
	switch {
	case s.parent.Err() != nil:
		e.Stage = StageCanceled
		e.Err = errors.Join(s.parent.Err(), err)
		e.Diagnostics = fmt.Sprintf("canceled after %s during %s", e.Elapsed.Round(time.Millisecond), s.stage)
	case errors.Is(s.ctx.Err(), context.DeadlineExceeded):
		e.Stage = StageTimeout
		e.Err = errors.Join(context.DeadlineExceeded, err)
		e.Diagnostics = fmt.Sprintf("timed out after %s during %s (stopped after %s)", s.spec.Timeout, s.stage, e.Elapsed.Round(time.Millisecond))
	default:
		text := s.stderr.String()
		if strings.TrimSpace(text) == "" || s.stage == StageInstall || s.stage == StageWorkdir || s.stage == StageGit {
			text = err.Error()
		}
		secrets := s.secrets
		if s.sensitive != nil {
			secrets = s.sensitive()
		}
		e.Diagnostics = diagnostics(text, secrets)
	}
	return e
}

// quietEnv is the environment every scan gets unless the workspace sets the
// name itself. Provider SDKs log at TRACE by default and leave filtering to
// terraform, which discards the lines unless TF_LOG is set (terraform-exec
// clears it): formatting and parsing them cost about a fifth of a plan's CPU
// (docs/performance.md). Checkpoint is HashiCorp's version check over the
// network, which a scanner has no use for.
var quietEnv = map[string]string{
	"CHECKPOINT_DISABLE":         "1",
	"TF_LOG_SDK":                 "off",
	"TF_LOG_SDK_PROTO":           "off",
	"TF_LOG_SDK_FRAMEWORK":       "off",
	"TF_LOG_SDK_HELPER_SCHEMA":   "off",
	"TF_LOG_SDK_HELPER_RESOURCE": "off",
	"TF_LOG_SDK_MUX":             "off",
}

// QuietEnv returns the variables every scan gets unless its workspace sets
// them (see quietEnv), for a benchmark to give bare terraform the same.
func QuietEnv() map[string]string { return maps.Clone(quietEnv) }

// splitEnv separates the scan environment into what terraform-exec accepts
// through SetEnv and the TF_VAR_ entries, which it refuses there and which go
// to a var file instead. Other names terraform-exec manages itself
// (TF_IN_AUTOMATION, TF_INPUT: it sets the former and passes -input=false;
// TF_LOG*, TF_CLI_ARGS*, TF_WORKSPACE ...) are dropped; dropped lists the
// unexpected ones.
func splitEnv(environ []string) (env, vars map[string]string, dropped []string) {
	env = map[string]string{}
	vars = map[string]string{}
	for _, kv := range environ {
		k, v, _ := cutEnv(kv)
		if name, ok := strings.CutPrefix(k, "TF_VAR_"); ok {
			vars[name] = v
			continue
		}
		env[k] = v
	}
	for _, k := range tfexec.ProhibitedEnv(env) {
		delete(env, k)
		if k != "TF_IN_AUTOMATION" && k != "TF_INPUT" {
			dropped = append(dropped, k)
		}
	}
	sort.Strings(dropped)
	return env, vars, dropped
}

// initOptions builds init's options; backend config goes to a file in the
// scan's directory.
func initOptions(dir *workdir.Dir, spec Spec) ([]tfexec.InitOption, error) {
	var opts []tfexec.InitOption
	if len(spec.BackendConfig) > 0 {
		const name = "driftd.tfbackend"
		if err := writeBackendConfig(dir, name, spec.BackendConfig); err != nil {
			return nil, err
		}
		opts = append(opts, tfexec.BackendConfig(filepath.Join(dir.Base(), name)))
	}
	return opts, nil
}

// planOptions builds plan's options. vars (from TF_VAR_ entries) go to a var
// file in the scan's directory, passed last.
func planOptions(dir *workdir.Dir, spec Spec, vars map[string]string) ([]tfexec.PlanOption, error) {
	opts := []tfexec.PlanOption{tfexec.Out(dir.PlanFile), tfexec.Lock(spec.Lock)}
	if spec.Lock && spec.LockTimeout > 0 {
		opts = append(opts, tfexec.LockTimeout(spec.LockTimeout.String()))
	}
	if spec.Parallelism > 0 {
		opts = append(opts, tfexec.Parallelism(spec.Parallelism))
	}
	if spec.RefreshOnly {
		opts = append(opts, tfexec.RefreshOnly(true))
	}
	for _, f := range spec.VarFiles {
		opts = append(opts, tfexec.VarFile(f))
	}
	if len(vars) > 0 {
		const name = "driftd.tfvars.json"
		b, err := json.Marshal(vars)
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(name, b); err != nil {
			return nil, fmt.Errorf("write var file: %w", err)
		}
		opts = append(opts, tfexec.VarFile(filepath.Join(dir.Base(), name)))
	}
	return opts, nil
}

// writeBackendConfig writes entries as a .tfbackend (HCL) file of string
// attributes into the scan's directory.
func writeBackendConfig(dir *workdir.Dir, name string, cfg map[string]string) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		if !hclIdentRE.MatchString(k) {
			return fmt.Errorf("backend config: invalid key %q", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, hclString(cfg[k]))
	}
	if err := dir.WriteFile(name, b.Bytes()); err != nil {
		return fmt.Errorf("write backend config: %w", err)
	}
	return nil
}

// secretValues lists the values to redact from diagnostics: the scan's
// credentials, not every value it was given. A value is one when its name
// says so (credentialName: environment variables, vars, backend config
// keys), when it is the password in a URL (a proxy's, a database's), or
// when it is the git token. Other values (a region, "prod", "read") stay:
// blanking them inside unrelated words made errors unreadable, and they
// are in the config file for anyone to read.
func secretValues(environ []string, spec Spec) []string {
	var out []string
	add := func(name, v string) {
		if credentialName(name) {
			out = append(out, v)
		}
		if u, err := url.Parse(v); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				out = append(out, pw)
			}
		}
	}
	for _, kv := range environ {
		k, v, _ := cutEnv(kv)
		add(strings.TrimPrefix(k, "TF_VAR_"), v)
		if k == "TF_ENCRYPTION" {
			out = append(out, encryptionSecrets(v)...)
		}
	}
	for k, v := range spec.BackendConfig {
		add(k, v)
	}
	if spec.Git != nil && spec.Git.Auth.Token != "" {
		out = append(out, spec.Git.Auth.Token)
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// encryptionSecrets are the values to hide of OpenTofu's TF_ENCRYPTION,
// its state and plan encryption settings (HCL or JSON) with passphrases
// and keys: the whole value, and each quoted string in it long enough to be
// a passphrase or key (pbkdf2 wants 16 characters; names of methods and
// key providers are shorter).
func encryptionSecrets(v string) []string {
	out := []string{v}
	for _, m := range quotedRE.FindAllStringSubmatch(v, -1) {
		if len(m[1]) >= 12 {
			out = append(out, m[1])
		}
	}
	return out
}

var quotedRE = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)

// credentialWords are the words of a name that say its value is a
// credential: AWS_SECRET_ACCESS_KEY, TF_TOKEN_app_terraform_io,
// db_password, GOOGLE_CREDENTIALS, authToken.
var credentialWords = map[string]bool{
	"secret": true, "secrets": true, "token": true, "tokens": true, "password": true, "passwords": true,
	"passwd": true, "pass": true, "passphrase": true, "credential": true, "credentials": true, "creds": true,
	"apikey": true, "auth": true, "bearer": true, "cookie": true, "dsn": true,
}

// credentialName reports whether a variable or key of that name holds a
// credential by its words (split at "_", "-", "." and case changes). "key"
// counts with another word (access_key, api_key, sse_customer_key) but not
// alone: the s3 and azurerm backends' key is the state's path.
func credentialName(name string) bool {
	words := nameWords(name)
	for _, w := range words {
		if credentialWords[w] || w == "key" && len(words) > 1 {
			return true
		}
	}
	return false
}

// nameWords splits a name into lowercase words: "authToken" and
// "AUTH_TOKEN" are both auth, token.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	prevLower := false
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			if len(cur) > 0 {
				words = append(words, string(cur))
			}
			cur, prevLower = nil, false
			continue
		case unicode.IsUpper(r) && prevLower:
			words = append(words, string(cur))
			cur = nil
		}
		prevLower = unicode.IsLower(r)
		cur = append(cur, unicode.ToLower(r))
	}
	if len(cur) > 0 {
		words = append(words, string(cur))
	}
	return words
}

// capBuffer keeps the first capBufferMax bytes written to it; Terraform's
// diagnostics come first and a runaway stderr must not grow without bound.
type capBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const capBufferMax = 256 << 10

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := capBufferMax - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *capBuffer) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
}
