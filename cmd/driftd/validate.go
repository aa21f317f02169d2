package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/driftd/driftd/drift/config"
)

func (a *app) validate(ctx context.Context, args []string) (int, error) {
	fs := a.newFlagSet("validate", "validate [--offline] [--config FILE]")
	configPath := fs.String("config", a.defaultConfigPath(), "config file ($DRIFTD_CONFIG)")
	offline := fs.Bool("offline", false, "check without the environment the config runs in (CI): unset variables and secret files are not errors")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitError, err
	}
	if len(pos) == 1 {
		*configPath = pos[0]
	} else if len(pos) > 1 {
		return exitError, errors.New("want at most one config file")
	}
	cfg, err := config.LoadContext(ctx, *configPath, config.Options{Env: a.lookupEnv, Offline: *offline})
	if err != nil {
		var list config.Errors
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintln(a.stderr, e)
			}
			fmt.Fprintf(a.stderr, "%s: %d error(s)\n", *configPath, len(list))
			return exitError, nil
		}
		return exitError, err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(a.stderr, w)
	}
	note := ""
	if *offline {
		note = " (offline: environment variables and secret files not checked)"
	}
	fmt.Fprintf(a.stdout, "%s: OK, %d workspace(s)%s\n", *configPath, len(cfg.Workspaces), note)
	return exitClean, nil
}
