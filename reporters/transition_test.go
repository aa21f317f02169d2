package reporters

import (
	"testing"

	"github.com/driftd/driftd/drift"
)

func rep(s drift.Status, fp string) *drift.Report {
	return &drift.Report{Workspace: "w", Status: s, Fingerprint: fp}
}

func TestTransition(t *testing.T) {
	t.Parallel()
	const (
		clean   = drift.StatusClean
		drifted = drift.StatusDrifted
		failed  = drift.StatusError
	)
	tests := []struct {
		name      string
		cur, prev *drift.Report
		want      Kind
	}{
		{"first sight clean", rep(clean, ""), nil, None},
		{"first sight drift", rep(drifted, "a"), nil, New},
		{"first sight error", rep(failed, ""), nil, Error},
		{"still clean", rep(clean, ""), rep(clean, ""), None},
		{"drift appears", rep(drifted, "a"), rep(clean, ""), New},
		{"same drift", rep(drifted, "a"), rep(drifted, "a"), None},
		{"changed drift", rep(drifted, "b"), rep(drifted, "a"), Changed},
		{"resolved", rep(clean, ""), rep(drifted, "a"), Resolved},
		{"error after drift", rep(failed, ""), rep(drifted, "a"), Error},
		{"error after clean", rep(failed, ""), rep(clean, ""), Error},
		{"still error", rep(failed, ""), rep(failed, "a"), StillError},
		{"recovered clean", rep(clean, ""), rep(failed, ""), Recovered},
		{"recovered new drift", rep(drifted, "a"), rep(failed, ""), New},
		{"recovered same drift", rep(drifted, "a"), rep(failed, "a"), Recovered},
		{"recovered changed drift", rep(drifted, "b"), rep(failed, "a"), Changed},
		{"drift gone during failure", rep(clean, ""), rep(failed, "a"), Resolved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Transition(tt.cur, tt.prev); got != tt.want {
				t.Errorf("Transition = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBookmarkKeepsFingerprintAcrossErrors(t *testing.T) {
	t.Parallel()
	var b Bookmark
	b = b.Advance(rep(drifted(), "a"))
	b = b.Advance(rep(drift.StatusError, ""))
	if b.Status != drift.StatusError || b.Fingerprint != "a" {
		t.Fatalf("after error: %+v", b)
	}
	if k := Transition(rep(drift.StatusError, ""), b.Report("w")); k != StillError {
		t.Errorf("second error = %v, want still_error", k)
	}
	if k := Transition(rep(drifted(), "a"), b.Report("w")); k != Recovered {
		t.Errorf("same drift after error = %v, want recovered", k)
	}
	b = b.Advance(rep(drift.StatusClean, ""))
	if b.Fingerprint != "" {
		t.Errorf("clean keeps fingerprint %q", b.Fingerprint)
	}
}

func drifted() drift.Status { return drift.StatusDrifted }

func TestNotifyWants(t *testing.T) {
	t.Parallel()
	n := Notify{New: true, Error: true}
	for k, want := range map[Kind]bool{None: false, New: true, Changed: false, Resolved: false, Error: true, StillError: false, Recovered: true} {
		if got := n.Wants(k); got != want {
			t.Errorf("Wants(%v) = %v, want %v", k, got, want)
		}
	}
}
