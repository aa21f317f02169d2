package reporters

import (
	"context"
	"fmt"

	"github.com/driftd/driftd/drift"
)

// Kind classifies a report against what a reporter told before. Reporters
// act on kinds, never on raw reports, so that "nobody is notified twice" is
// decided in one place.
type Kind int

const (
	// None: nothing a person needs to hear about (still clean, same drift).
	None Kind = iota
	// New: drift where there was none (or none known).
	New
	// Changed: drift with a different fingerprint than before.
	Changed
	// Resolved: drift gone.
	Resolved
	// Error: the scan failed after a successful one (or on first sight).
	Error
	// StillError: the scan failed again.
	StillError
	// Recovered: the scan succeeds again and shows nothing new: no drift,
	// or the same drift as before the failure.
	Recovered
)

var kindNames = [...]string{"none", "new", "changed", "resolved", "error", "still_error", "recovered"}

// String returns the kind's name as used in webhook events and logs.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// Transition classifies cur against prev, what was told before (nil when
// nothing was).
//
// A prev with Status error may carry the Fingerprint of the drift known
// before the failure (see Bookmark); then a failed scan in between does not
// make old drift look new, and drift gone during the failure is Resolved.
func Transition(cur, prev *drift.Report) Kind {
	if cur.Status == drift.StatusError {
		if prev != nil && prev.Status == drift.StatusError {
			return StillError
		}
		return Error
	}
	prevFP := ""
	if prev != nil && (prev.Status == drift.StatusDrifted || prev.Status == drift.StatusError) {
		prevFP = prev.Fingerprint
	}
	wasError := prev != nil && prev.Status == drift.StatusError
	drifted := cur.Status == drift.StatusDrifted
	switch {
	case prevFP == "" && drifted:
		return New
	case prevFP == "" && wasError:
		return Recovered
	case prevFP == "":
		return None
	case !drifted:
		return Resolved
	case cur.Fingerprint != prevFP:
		return Changed
	case wasError:
		return Recovered
	default:
		return None
	}
}

// Notify says which kinds a destination wants to hear about. Recovered is
// sent to those who asked for Error, since they were told about the failure.
type Notify struct {
	New      bool `json:"new"`
	Changed  bool `json:"changed"`
	Resolved bool `json:"resolved"`
	Error    bool `json:"error"`
}

// NotifyAll wants every kind.
var NotifyAll = Notify{New: true, Changed: true, Resolved: true, Error: true}

// Wants reports whether k is to be sent.
func (n Notify) Wants(k Kind) bool {
	switch k {
	case New:
		return n.New
	case Changed:
		return n.Changed
	case Resolved:
		return n.Resolved
	case Error, Recovered:
		return n.Error
	default:
		return false
	}
}

// Bookmark is what a reporter remembers of the last report it handled for
// a workspace: enough to classify the next one. Fingerprint survives failed
// scans (it is the last drift known), which is what Transition expects of
// an error prev.
type Bookmark struct {
	Status      drift.Status `json:"status"`
	Fingerprint string       `json:"fingerprint,omitempty"`
}

// Advance returns the bookmark after handling cur.
func (b Bookmark) Advance(cur *drift.Report) Bookmark {
	switch cur.Status {
	case drift.StatusError:
		return Bookmark{Status: drift.StatusError, Fingerprint: b.Fingerprint}
	case drift.StatusDrifted:
		return Bookmark{Status: drift.StatusDrifted, Fingerprint: cur.Fingerprint}
	default:
		return Bookmark{Status: cur.Status}
	}
}

// Report returns the minimal previous report the bookmark stands for.
func (b Bookmark) Report(workspace string) *drift.Report {
	return &drift.Report{SchemaVersion: drift.SchemaVersion, Workspace: workspace, Status: b.Status, Fingerprint: b.Fingerprint}
}

// LoadJSON reads reporter's bookkeeping for workspace from st into v. It
// reports false when nothing is stored.
func LoadJSON(ctx context.Context, st State, workspace, reporter string, v any) (bool, error) {
	b, err := loadRaw(ctx, st, workspace, reporter, v)
	return b != nil, err
}
