package main

import (
	"errors"
	"fmt"

	"github.com/driftd/driftd/drift/config"
)

func (a *app) validate(args []string) (int, error) {
	fs := a.newFlagSet("validate", "validate [--config FILE]")
	configPath := fs.String("config", a.defaultConfigPath(), "config file ($DRIFTD_CONFIG)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitError, err
	}
	if len(pos) == 1 {
		*configPath = pos[0]
	} else if len(pos) > 1 {
		return exitError, errors.New("want at most one config file")
	}
	cfg, err := a.loadConfig(*configPath)
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
	fmt.Fprintf(a.stdout, "%s: OK, %d workspace(s)\n", *configPath, len(cfg.Workspaces))
	return exitClean, nil
}
