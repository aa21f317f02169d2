package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/github"
	"github.com/driftd/driftd/reporters/slack"
	"github.com/driftd/driftd/reporters/webhook"
)

// delivery is the configured reporters behind one dispatcher.
type delivery struct {
	dispatcher *reporters.Dispatcher
	github     *github.Reporter
	// names are the reporters', for metrics.
	names []string
}

// newDelivery builds the reporters of cfg. state keeps what each has told
// (the store in the daemon and with --store, files in the cache dir for a
// one-off scan); shard ("2/8") is the shard the run covers, "" without
// sharding.
func newDelivery(cfg *config.Config, log *slog.Logger, state reporters.State, shard string, opts ...reporters.Option) (*delivery, error) {
	var rs []reporters.Reporter
	d := &delivery{}
	if g := cfg.Reporters.GitHub; g != nil {
		gc := github.Config{
			Repository:    g.Repository,
			BaseURL:       g.BaseURL,
			Token:         g.Token.Reveal(),
			Labels:        g.Labels,
			AssignOwners:  g.AssignOwners,
			MaxOpenIssues: g.MaxOpenIssues,
			ErrorIssues:   g.ErrorIssues,
			Timeout:       g.Timeout,
			State:         state,
		}
		if g.App != nil {
			gc.App = &github.App{AppID: g.App.AppID, InstallationID: g.App.InstallationID, PrivateKey: []byte(g.App.PrivateKey.Reveal())}
		}
		r, err := github.New(gc, log)
		if err != nil {
			return nil, fmt.Errorf("github reporter: %w", err)
		}
		d.github = r
		rs = append(rs, r)
	}
	if s := cfg.Reporters.Slack; s != nil {
		sc := slack.Config{
			WebhookURL: s.WebhookURL.Reveal(),
			Token:      s.Token.Reveal(),
			Channel:    s.Channel,
			APIURL:     s.APIURL,
			Notify:     notify(s.Notify),
			Owners:     s.Owners,
			Timeout:    s.Timeout,
			Shard:      shard,
		}
		var (
			r   reporters.Reporter
			err error
		)
		if s.Digest {
			r, err = slack.NewDigest(sc, log)
		} else {
			r, err = slack.New(sc, log)
		}
		if err != nil {
			return nil, fmt.Errorf("slack reporter: %w", err)
		}
		rs = append(rs, r)
	}
	for i, w := range cfg.Reporters.Webhooks {
		r, err := webhook.New(webhook.Config{
			Name:    w.Name,
			URL:     w.URL.Reveal(),
			Secret:  w.Secret.Reveal(),
			Headers: w.Headers,
			Notify:  notify(w.Notify),
			Timeout: w.Timeout,
		}, log)
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d]: %w", i, err)
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, nil
	}
	for _, r := range rs {
		d.names = append(d.names, r.Name())
	}
	d.dispatcher = reporters.NewDispatcher(log, rs, append([]reporters.Option{reporters.WithState(state)}, opts...)...)
	return d, nil
}

func notify(n config.Notify) reporters.Notify {
	return reporters.Notify{New: n.New, Changed: n.Changed, Resolved: n.Resolved, Error: n.Error}
}

// deliverRun delivers a whole scan run (one digest for Slack digest mode)
// and returns how many deliveries failed.
func (d *delivery) deliverRun(ctx context.Context, ds []reporters.Delivery) int {
	failed := 0
	for _, res := range d.dispatcher.DeliverAll(ctx, ds) {
		if res.Err != nil {
			failed++
		}
	}
	return failed
}

// forgetRemoved drops the reporter records of workspaces outside cfg, the
// whole config (never only a shard's or a run's selection), and outside
// also: the run's own (a `driftd check --report` directory). A failure is
// logged and changes nothing else: the records stay until the next try.
func forgetRemoved(ctx context.Context, st reporters.State, cfg *config.Config, log *slog.Logger, also ...string) {
	keep := make(map[string]bool, len(cfg.Workspaces)+len(also))
	for _, w := range cfg.Workspaces {
		keep[w.Name] = true
	}
	for _, ws := range also {
		keep[ws] = true
	}
	if _, err := reporters.Forget(ctx, st, log, func(ws string) bool { return keep[ws] }); err != nil {
		log.Warn("forgetting the notification records of workspaces no longer configured failed", "error", err)
	}
}
