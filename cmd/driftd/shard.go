package main

import (
	"log/slog"

	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/drift/render"
	"github.com/driftd/driftd/drift/shard"
)

const shardUsage = "only shard I of N (I from 0), e.g. 0/4; also $DRIFTD_SHARD=I/N, or $JOB_COMPLETION_INDEX with $DRIFTD_SHARDS=N"

// resolveShard reads the shard from --shard and the environment; pod lets
// a StatefulSet pod's ordinal count (serve).
func (a *app) resolveShard(flag string, pod bool) (shard.Resolved, error) {
	return shard.Resolve(shard.Sources{Flag: flag, Lookup: a.lookupEnv, PodOrdinal: pod})
}

// shardRun is the shard a run covers and how many workspaces it would
// cover unsharded. The zero value is an unsharded run.
type shardRun struct {
	shard.Resolved
	total int
}

// own returns the workspaces of the shard.
func (s shardRun) own(wss []config.Workspace) []config.Workspace {
	if !s.Sharded() {
		return wss
	}
	return shard.Filter(s.Shard, wss, func(ws config.Workspace) string { return ws.Name })
}

// ownConfig returns cfg with only the shard's workspaces; cfg itself is
// left as it is.
func (s shardRun) ownConfig(cfg *config.Config) *config.Config {
	c := *cfg
	c.Workspaces = s.own(cfg.Workspaces)
	return &c
}

// log names the shard on every line logged through l.
func (s shardRun) log(l *slog.Logger) *slog.Logger {
	if !s.Sharded() {
		return l
	}
	return l.With("shard", s.String())
}

// summary is what the scan summary says about the shard: nil when the run
// is not sharded.
func (s shardRun) summary() *render.Shard {
	if !s.Sharded() {
		return nil
	}
	return &render.Shard{Index: s.Index, Count: s.Count, Total: s.total}
}
