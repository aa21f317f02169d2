package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
	"github.com/driftd/driftd/reporters"
	"github.com/driftd/driftd/reporters/github"
	"github.com/driftd/driftd/reporters/slack"
	"github.com/driftd/driftd/reporters/webhook"
)

// delivery is the configured reporters behind one dispatcher, and where
// the previous report of a workspace comes from.
type delivery struct {
	dispatcher  *reporters.Dispatcher
	github      *github.Reporter
	slackDigest bool
}

// newDelivery builds the reporters of cfg. state keeps their bookkeeping
// (the store in the daemon, memory in a one-off scan); shard ("2/8") is the
// shard the run covers, "" without sharding.
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
			Timeout:    s.Timeout,
			Shard:      shard,
		}
		var (
			r   reporters.Reporter
			err error
		)
		if s.Digest {
			r, err = slack.NewDigest(sc, log, state)
		} else {
			r, err = slack.New(sc, log, state)
		}
		if err != nil {
			return nil, fmt.Errorf("slack reporter: %w", err)
		}
		d.slackDigest = s.Digest
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
		}, log, state)
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d]: %w", i, err)
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, nil
	}
	d.dispatcher = reporters.NewDispatcher(log, rs, opts...)
	return d, nil
}

func notify(n config.Notify) reporters.Notify {
	return reporters.Notify{New: n.New, Changed: n.Changed, Resolved: n.Resolved, Error: n.Error}
}

// previous returns the last report known for a workspace when there is no
// store: GitHub's issue is the source of truth.
func (d *delivery) previous(ctx context.Context, workspace string, log *slog.Logger) *drift.Report {
	if d == nil || d.github == nil {
		return nil
	}
	prev, err := d.github.Previous(ctx, workspace)
	if err != nil {
		log.Warn("reading previous state from GitHub", "workspace", workspace, "error", err)
		return nil
	}
	return prev
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
