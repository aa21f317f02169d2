package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/reliability"
)

// lockError is terraform's "Error acquiring the state lock" as a backend
// that keeps the holder's information (s3, gcs, azurerm) prints it.
func lockError(id, op, who, version string, created time.Time) string {
	return fmt.Sprintf(`╷
│ Error: Error acquiring the state lock
│ 
│ Error message: ConditionalCheckFailedException: The conditional request failed
│ Lock Info:
│   ID:        %s
│   Path:      acme-tfstate/network/terraform.tfstate
│   Operation: %s
│   Who:       %s
│   Version:   %s
│   Created:   %s
│   Info:      
│ 
│ Terraform acquires a state lock to protect the state from being written
│ by multiple users at the same time.
╵
`, id, op, who, version, created.String())
}

func TestParseLockInfo(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 30, 22, 1, 2, 345678000, time.UTC)
	li, ok := parseLockInfo(diagnostics(lockError("2b6a3f5e-1c1e-2e8f-9d4c-0c7b1d6e9a11", "OperationTypePlan", "driftd@scanner-1", "1.11.4", created), nil))
	want := lockInfo{ID: "2b6a3f5e-1c1e-2e8f-9d4c-0c7b1d6e9a11", Path: "acme-tfstate/network/terraform.tfstate", Operation: "OperationTypePlan",
		Who: "driftd@scanner-1", Version: "1.11.4", Created: created}
	if !ok || li != want {
		t.Errorf("parseLockInfo = %+v, %v; want %+v", li, ok, want)
	}
	if _, ok := parseLockInfo("Error: Error acquiring the state lock\n\nError message: Workspace is already locked: default"); ok {
		t.Error("parsed a lock error without Lock Info")
	}
}

func TestLockRecordHeldBy(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)
	rec := lockRecord{Who: "driftd@scanner-1", Terraform: "1.11.4", Since: since}
	probe := since.Add(time.Hour)
	ours := lockInfo{ID: "x", Operation: "OperationTypePlan", Who: rec.Who, Version: rec.Terraform, Created: since.Add(time.Second)}
	tests := []struct {
		name string
		edit func(*lockInfo)
		want bool
	}{
		{"the killed plan's", func(*lockInfo) {}, true},
		{"created just before the record", func(l *lockInfo) { l.Created = since.Add(-time.Second) }, true},
		{"an apply's", func(l *lockInfo) { l.Operation = "OperationTypeApply" }, false},
		{"another host's", func(l *lockInfo) { l.Who = "ci@runner-7" }, false},
		{"another terraform's", func(l *lockInfo) { l.Version = "1.5.7" }, false},
		{"older than the scan", func(l *lockInfo) { l.Created = since.Add(-time.Hour) }, false},
		{"the probe's own (pg, http)", func(l *lockInfo) { l.Created = probe.Add(time.Millisecond) }, false},
	}
	for _, tt := range tests {
		li := ours
		tt.edit(&li)
		if got := rec.heldBy(li, probe); got != tt.want {
			t.Errorf("%s: heldBy = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRecoverLocks: the lock record of a scan whose driftd was killed is
// taken over by the next sweep; RecoverLocks probes the workspace's lock
// (a plan taking it without waiting and without refresh) and runs
// `terraform force-unlock -force ID`, with the workspace's backend config,
// only for the killed plan's own lock.
func TestRecoverLocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		op         string // "" = lock free
		configured bool
		wantUnlock bool
		wantKept   bool
		// For the reliability table: the state the lock is in, and what
		// becomes of it.
		fault, outcome string
	}{
		{name: "the killed plan's lock", op: "OperationTypePlan", configured: true, wantUnlock: true,
			fault: "the state lock still held", outcome: "the next sweep probes the lock and force-unlocks that lock ID only, with the workspace's backend config"},
		{name: "an apply holds it", op: "OperationTypeApply", configured: true,
			fault: "the state lock since taken by an apply", outcome: "probed; no force-unlock (not the killed plan's lock)"},
		{name: "free", configured: true, fault: "the state lock free", outcome: "probed; nothing unlocked"},
		{name: "workspace not configured", op: "OperationTypePlan", wantKept: true,
			fault: "the workspace no longer configured", outcome: "no probe; the record kept for a driftd that scans the workspace"},
	}
	for _, tt := range tests {
		recovered := reliability.Times(t, "killed driftd", "scan killed mid-plan with lock: true, its lock record left; "+tt.fault, tt.outcome)
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := fakeRunner(t, []string{"PATH=" + os.Getenv("PATH")}, Options{})
			logDir := t.TempDir()
			spec := fakeSpec(t)
			spec.BackendConfig = map[string]string{"bucket": "acme-tfstate"}
			spec.Env = map[string]string{"FAKE_LOG": logDir}
			since := time.Now().Add(-time.Minute).UTC() // as terraform's, no monotonic reading
			if tt.op != "" {
				info := filepath.Join(t.TempDir(), "lock-info")
				if err := os.WriteFile(info, []byte(lockError("lock-4242", tt.op, lockWho(), "1.99.0", since.Add(time.Second))), 0o600); err != nil {
					t.Fatal(err)
				}
				spec.Env["FAKE_LOCK_INFO"] = info
			}

			// The directory of a scan killed mid-plan.
			const id = "0123456789abcdef01234567"
			dead := filepath.Join(r.opts.WorkRoot, id)
			rec, _ := json.Marshal(lockRecord{Workspace: spec.Name, Identity: workspaceID(spec), Terraform: "1.99.0", Who: lockWho(), Since: since})
			for name, content := range map[string]string{"driftd.owner": `{"pid":999999999,"start":"1"}`, lockRecordFile: string(rec)} {
				if err := os.MkdirAll(dead, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dead, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
			var specs []Spec
			if tt.configured {
				specs = []Spec{spec}
			}
			if err := r.RecoverLocks(t.Context(), specs); err != nil {
				t.Fatal(err)
			}

			if tt.configured {
				plan := readLines(t, filepath.Join(logDir, "plan.args"))
				for _, a := range []string{"-lock=true", "-lock-timeout=0s", "-refresh=false"} {
					if !slices.Contains(plan, a) {
						t.Errorf("probe plan %v lacks %s", plan, a)
					}
				}
			}
			args, err := os.ReadFile(filepath.Join(logDir, "force-unlock.args"))
			if unlocked := err == nil; unlocked != tt.wantUnlock {
				t.Fatalf("force-unlock ran = %v, want %v", unlocked, tt.wantUnlock)
			}
			if tt.wantUnlock {
				if got := strings.Fields(string(args)); !slices.Equal(got, []string{"force-unlock", "-no-color", "-force", "lock-4242"}) {
					t.Errorf("force-unlock argv %v", got)
				}
				if b, err := os.ReadFile(filepath.Join(logDir, "backend")); err != nil || !strings.Contains(string(b), "acme-tfstate") {
					t.Errorf("force-unlock without the backend config: %q, %v", b, err)
				}
			}
			_, err = os.Stat(filepath.Join(r.locks.dir, id+".json"))
			if kept := err == nil; kept != tt.wantKept {
				t.Errorf("record kept = %v, want %v", kept, tt.wantKept)
			}
			if _, err := os.Stat(dead); !os.IsNotExist(err) {
				t.Errorf("killed scan's directory not removed: %v", err)
			}
			recovered.Add(1)
		})
	}
}
