package reporters

import (
	"time"

	"github.com/driftd/driftd/drift"
)

// Told is what one reporter has told about one workspace: the Dispatcher
// keeps it in State under the reporter's name and writes it only after the
// destination accepted a notification. It is the reporter's notification
// log (as Alertmanager's nflog): the next report is classified against it,
// so a failed delivery stays owed and a reporter with no record starts from
// nothing told.
type Told struct {
	Bookmark
	// Drift is the drift last told (kept across failed scans, as the
	// fingerprint is), so that a change can say what changed.
	Drift []drift.ResourceChange `json:"drift,omitempty"`
	// Scanned is when the scan last handled was started: an older report
	// delivered late (a slow concurrent `driftd scan`) is not told.
	Scanned time.Time `json:"scanned,omitzero"`
	// Thread is where the workspace's current conversation is (Slack).
	Thread
	// Link is the page the reporter keeps for the workspace (the GitHub
	// issue), and Title that page's title, for the status page after a
	// restart.
	Link  string `json:"issue_url,omitempty"`
	Title string `json:"issue_title,omitempty"`
}

// Thread is a message later messages about the same drift reply to.
type Thread struct {
	TS      string `json:"thread_ts,omitempty"`
	Channel string `json:"channel,omitempty"`
}

// Report returns the report that Told stands for: nil when nothing was
// told, else the status, fingerprint and drift told.
func (t Told) Report(workspace string) *drift.Report {
	if t.Status == "" {
		return nil
	}
	r := t.Bookmark.Report(workspace)
	r.Drift = t.Drift
	return r
}

// advance returns the record after cur was told with receipt rc.
func (t Told) advance(cur *drift.Report, rc Receipt) Told {
	out := Told{Bookmark: t.Bookmark.Advance(cur), Scanned: cur.StartedAt, Thread: t.Thread, Link: rc.Link, Title: rc.Title}
	switch cur.Status {
	case drift.StatusDrifted:
		out.Drift = cur.Drift
	case drift.StatusError:
		out.Drift = t.Drift
	case drift.StatusClean:
		out.Thread = Thread{} // the next drift starts a conversation of its own
	}
	if rc.Thread.TS != "" {
		out.Thread = rc.Thread
	}
	return out
}

// episodeName is the State entry of a workspace's drift episode. Reporter
// names never take it: webhooks are "webhook[...]", and config reserves
// github and slack.
const episodeName = "drift"

// Episode is a workspace's drift history as the Dispatcher keeps it, shared
// by every reporter: when the current (or last) drift was first seen and
// when it went away. It does not move when a reporter fails or is added,
// or the daemon restarts.
type Episode struct {
	// FirstSeen is when the current drift, or the last one when Resolved
	// is set, was first detected; zero when the workspace never drifted.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	// Resolved is when that drift went away; zero while it lasts.
	Resolved time.Time `json:"resolved,omitzero"`
	// Before is when the drift before the current one went away: set
	// while drift is back.
	Before time.Time `json:"resolved_before,omitzero"`
	// Scanned is the start of the last scan handled.
	Scanned time.Time `json:"scanned,omitzero"`
}

// advance returns the episode after cur, detected at at (the scan's start).
// A failed scan changes nothing: it says nothing about drift.
func (e Episode) advance(cur *drift.Report, at time.Time) Episode {
	if at.Before(e.Scanned) {
		return e // a late report of an older scan
	}
	next := e
	switch cur.Status {
	case drift.StatusDrifted:
		if e.FirstSeen.IsZero() || !e.Resolved.IsZero() {
			next = Episode{FirstSeen: at, Before: e.Resolved}
		}
	case drift.StatusClean:
		if !e.FirstSeen.IsZero() && e.Resolved.IsZero() {
			next.Resolved, next.Before = at, time.Time{}
		}
	}
	if next == e {
		return e // nothing to write
	}
	next.Scanned = at
	return next
}

// Notification is what a reporter is asked to tell: one workspace's
// transition, with what it told before and the workspace's history.
type Notification struct {
	Kind Kind
	Cur  *drift.Report
	// Prev is what this reporter told before (status, fingerprint and the
	// drift it showed); nil when it has told nothing.
	Prev *drift.Report
	// FirstSeen is when the workspace's current drift (the one just
	// resolved, for Kind Resolved) was first detected; zero when unknown.
	FirstSeen time.Time
	// Resolved is when that drift went away: set once it did.
	Resolved time.Time
	// Before is when the drift before the current one went away: set when
	// drift is back (see Back).
	Before time.Time
	// Thread is where the reporter's conversation about the workspace is.
	Thread Thread
	// Links are the pages Linkers keep for the workspace (the issue).
	Links Links
}

// Back reports whether n is drift that appeared again after it was
// resolved: distinct from a first alert.
func (n Notification) Back() bool {
	return n.Kind == New && !n.Before.IsZero()
}

// Changes says what changed between the drift told before and cur.
func (n Notification) Changes() Changes {
	return Diff(n.Prev, n.Cur)
}

// Receipt is what a reporter reports back about a notification.
type Receipt struct {
	// Sent says whether anything reached the destination (a message, an
	// issue or comment); counters count only what was.
	Sent bool
	// Thread is set when the notification started a conversation that
	// later messages about the same drift should reply to.
	Thread Thread
	// Link is the page the destination keeps for the workspace now ("":
	// none), and Title its title.
	Link, Title string
}
