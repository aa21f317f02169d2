// Command driftd finds Terraform drift: objects changed outside Terraform,
// kept apart from code merged but not applied.
//
//	driftd scan [NAME...]   scan the workspaces of a config file
//	driftd check DIR        scan one directory, no config file needed
//	driftd analyze [FILE|-] report on a plan made elsewhere (terraform show -json)
//	driftd validate         check a config file
//	driftd install-terraform --version V --dir DIR
//	driftd version
//
// Exit codes follow terraform plan -detailed-exitcode: 0 clean, 2 drift
// found, 1 error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // CRON_TZ= schedules work in minimal images too

	"github.com/driftd/driftd/drift/runner"
	"github.com/driftd/driftd/drift/scan"
)

// Exit codes.
const (
	exitClean = 0
	exitError = 1
	exitDrift = 2
)

func main() {
	// Scans start a copy of this binary as their guard (runner.StartGuard).
	runner.RunGuard()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(newApp(os.Stdout, os.Stderr, os.Environ()).run(ctx, os.Args[1:]))
}

// app is one invocation of the CLI; tests build their own.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	now            func() time.Time
	// interactive says whether stderr is a terminal: progress and colour.
	interactive bool
	// beforeCommand, when set, runs as a command starts: tests make it
	// panic.
	beforeCommand func(cmd string)
	// beforeReload, when set, runs as serve's reload starts: tests make
	// it panic.
	beforeReload func()

	guardOnce sync.Once
	guardProc *runner.Guard
}

func newApp(stdout, stderr io.Writer, environ []string) *app {
	return &app{
		stdin:       os.Stdin,
		stdout:      stdout,
		stderr:      stderr,
		environ:     environ,
		now:         time.Now,
		interactive: isTerminal(stderr),
	}
}

const usage = `Usage: driftd <command> [flags]

Commands:
  scan [NAME...]   scan all (or the named) workspaces of --config
  check DIR        scan one Terraform directory
  analyze [FILE|-] report on the output of 'terraform show -json PLANFILE'
                   made elsewhere
  serve            run the daemon: scheduled scans, history, status page, metrics
  validate         check a config file and list every error
  install-terraform --version V --dir DIR
                   download a terraform release (checksum and signature verified)
  version          print the version

Exit codes: 0 clean, 2 drift found, 1 error.
Run 'driftd <command> -h' for a command's flags.
`

func (a *app) run(ctx context.Context, args []string) (code int) {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitError
	}
	cmd, rest := args[0], args[1:]
	defer a.closeGuard()
	// An unrecovered panic exits 2, which reads as "drift found".
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(a.stderr, "driftd %s: panic: %v\n\n%s", cmd, v, debug.Stack())
			code = exitError
		}
	}()
	if a.beforeCommand != nil {
		a.beforeCommand(cmd)
	}
	var err error
	switch cmd {
	case "scan":
		code, err = a.scan(ctx, rest)
	case "check":
		code, err = a.check(ctx, rest)
	case "analyze":
		code, err = a.analyze(ctx, rest)
	case "serve":
		code, err = a.serve(ctx, rest)
	case "validate":
		code, err = a.validate(ctx, rest)
	case "install-terraform":
		code, err = a.installTerraform(ctx, rest)
	case "version", "--version", "-version":
		currentBuild().write(a.stdout)
	case "help", "-h", "--help":
		fmt.Fprint(a.stdout, usage)
	default:
		fmt.Fprintf(a.stderr, "driftd: unknown command %q\n\n%s", cmd, usage)
		return exitError
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitClean
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "driftd %s: %v\n", cmd, err)
		return exitError
	}
	return code
}

// guard starts, once per invocation, the process that kills the scans'
// provider plugins if driftd is killed (runner.StartGuard).
func (a *app) guard(log *slog.Logger) *runner.Guard {
	a.guardOnce.Do(func() {
		g, err := runner.StartGuard()
		if err != nil {
			log.Warn("no guard process: provider plugins may outlive a killed driftd until the next one starts", "error", err)
		}
		a.guardProc = g
	})
	return a.guardProc
}

// closeGuard stops the guard, if one was started: every scan has ended.
func (a *app) closeGuard() {
	a.guardOnce.Do(func() {}) // no guard from now on; and see guardProc set
	_ = a.guardProc.Close()
}

// logFlags are the flags every command that logs shares.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet, defLevel string) {
	fs.StringVar(&l.level, "log-level", defLevel, "log level: debug, info, warn, error")
	fs.StringVar(&l.format, "log-format", "auto", "log format: text, json, auto (json unless on a terminal)")
}

func (l *logFlags) logger(a *app) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(l.format) {
	case "json":
		h = slog.NewJSONHandler(a.stderr, opts)
	case "text":
		h = slog.NewTextHandler(a.stderr, opts)
	case "auto":
		h = slog.NewJSONHandler(a.stderr, opts)
		if a.interactive {
			h = slog.NewTextHandler(a.stderr, opts)
		}
	default:
		return nil, fmt.Errorf("--log-format: want text, json or auto, got %q", l.format)
	}
	// Every line logged within a scan names the workspace and scan.
	return slog.New(scan.LogHandler(h)), nil
}

// isTerminal reports whether a reader or writer is a terminal.
func isTerminal(rw any) bool {
	f, ok := rw.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newFlagSet makes a flag set that reports errors instead of exiting.
func (a *app) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "Usage: driftd %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterleaved parses flags that may follow positional arguments
// (`driftd check ./dir --output json`), which the flag package alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
