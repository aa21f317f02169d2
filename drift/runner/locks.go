package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/driftd/driftd/internal/cachefile"
)

// With lock: true, terraform holds the state lock while it plans and
// releases it when plan ends, even when stopped by SIGINT. Killed (driftd
// killed with -9: terraform gets SIGKILL with it; a timeout's kill after
// the grace period), it cannot: a backend whose lock outlives its holder
// (s3, gcs, azurerm, http, kubernetes, HCP Terraform) keeps the state
// locked, and every apply fails until someone runs `terraform force-unlock`.
// (The local backend's lock and pg's advisory lock die with the process.)
//
// Terraform does not tell a process the id of its own lock; a later lock
// attempt's error does ("Error acquiring the state lock ... Lock Info:
// ID, Who, Operation, Version, Created"), for the backends that keep the
// holder's information. So, while it plans with the lock, a scan keeps a
// lockRecord in its directory: the workspace, terraform's version, who
// terraform says it is, and when plan started. A scan killed meanwhile
// leaves it there; the next driftd's sweep moves it to CacheDir/locks/,
// and RecoverLocks, for a workspace still configured, runs a probe: a plan
// taking the lock without waiting. If the lock is held by the killed
// scan's plan (same who, a plan of the same terraform version, created
// after the record and before the probe), it is released with
// `terraform force-unlock` with exactly that id. Any other holder's lock is
// left alone and logged: driftd never releases a lock it cannot prove its
// own, and a plan's lock is the only kind it may release (a plan writes no
// state).

// lockRecordFile, in a scan's directory, is its lockRecord.
const lockRecordFile = "driftd.lock.json"

// lockRecordMaxAge is how long an unresolved record (its workspace gone
// from the configuration) is kept and reported.
const lockRecordMaxAge = 30 * 24 * time.Hour

type lockRecord struct {
	Workspace string `json:"workspace"`
	// Identity is workspaceID: the same name and source.
	Identity  string    `json:"identity"`
	Terraform string    `json:"terraform"`
	Who       string    `json:"who"`
	Since     time.Time `json:"since"`
}

func newLockRecord(spec Spec, tfVersion string) ([]byte, error) {
	return json.Marshal(lockRecord{Workspace: spec.Name, Identity: workspaceID(spec), Terraform: tfVersion, Who: lockWho(), Since: time.Now().UTC()})
}

// lockWho is the Who terraform writes into its lock info, "user@host", as
// terraform (a Go program of the same user) computes it.
func lockWho() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// lockInfo is the "Lock Info:" block of terraform's lock error.
type lockInfo struct {
	ID, Path, Operation, Who, Version string
	Created                           time.Time
}

var lockInfoRE = regexp.MustCompile(`(?m)^\s*(ID|Path|Operation|Who|Version|Created):[ \t]*(.*?)\s*$`)

// parseLockInfo reads the Lock Info block of terraform's "Error acquiring
// the state lock" text.
func parseLockInfo(text string) (lockInfo, bool) {
	_, block, ok := strings.Cut(text, "Lock Info:")
	if !ok {
		return lockInfo{}, false
	}
	var li lockInfo
	for _, m := range lockInfoRE.FindAllStringSubmatch(block, -1) {
		switch m[1] {
		case "ID":
			li.ID = m[2]
		case "Path":
			li.Path = m[2]
		case "Operation":
			li.Operation = m[2]
		case "Who":
			li.Who = m[2]
		case "Version":
			li.Version = m[2]
		case "Created":
			// Go's time.Time.String(), as terraform prints it.
			t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", m[2])
			if err != nil {
				return lockInfo{}, false
			}
			li.Created = t
		}
	}
	return li, li.ID != "" && !li.Created.IsZero()
}

// clockSlack allows for terraform's Created being taken a moment before
// driftd wrote its record.
const clockSlack = 5 * time.Second

// heldBy reports whether li is the lock the recorded scan's plan took,
// as seen by a probe started at probeStart. Some backends (pg, http)
// report the probe's own lock info instead of the holder's: created after
// probeStart, it never matches.
func (rec lockRecord) heldBy(li lockInfo, probeStart time.Time) bool {
	return li.Operation == "OperationTypePlan" && li.Who == rec.Who && li.Version == rec.Terraform &&
		!li.Created.Before(rec.Since.Add(-clockSlack)) && li.Created.Before(probeStart)
}

// locks holds the records of killed scans, CacheDir/locks/<scan id>.json.
type locks struct{ dir string }

func newLocks(cacheDir string) (*locks, error) {
	l := &locks{dir: filepath.Join(cacheDir, "locks")}
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock records: %w", err)
	}
	return l, nil
}

// adopt moves the record a scan left in its directory, if any, into the
// pending records, and reports whether there was one.
func (l *locks) adopt(scanDir, scanID string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(scanDir, lockRecordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var rec lockRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return false, fmt.Errorf("lock record of scan %s: %w", scanID, err)
	}
	return true, cachefile.Write(filepath.Join(l.dir, scanID+".json"), b)
}

// RecoverLocks releases the state locks of killed scans (see above) whose
// workspace is among specs, the configured ones. A record whose workspace
// is not configured is reported on every call and dropped after 30 days; a
// probe that fails for another reason than the lock (backend unreachable)
// keeps its record for the next start.
func (r *Runner) RecoverLocks(ctx context.Context, specs []Spec) error {
	if _, err := cachefile.Prune(r.locks.dir, time.Now().Add(-lockRecordMaxAge)); err != nil {
		r.opts.Logger.WarnContext(ctx, "pruning old lock records failed", "err", err)
	}
	entries, err := os.ReadDir(r.locks.dir)
	if err != nil {
		return fmt.Errorf("lock records: %w", err)
	}
	byID := map[string]Spec{}
	for _, s := range specs {
		byID[workspaceID(s)] = s
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || ctx.Err() != nil {
			continue
		}
		path := filepath.Join(r.locks.dir, e.Name())
		var rec lockRecord
		if _, err := cachefile.Load(path, &rec); err != nil {
			errs = append(errs, err)
			continue
		}
		spec, ok := byID[rec.Identity]
		if !ok {
			r.opts.Logger.WarnContext(ctx, "a killed scan may have left a state lock held; its workspace is not in this configuration",
				"workspace", rec.Workspace, "since", rec.Since, "record", path)
			continue
		}
		done, err := r.recoverLock(ctx, rec, spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("workspace %q: state lock recovery: %w", rec.Workspace, err))
		}
		if done {
			errs = append(errs, removeIfExists(path))
		}
	}
	return errors.Join(errs...)
}

// recoverLock probes the lock of one killed scan's workspace and releases
// it if the scan's plan holds it; done says the record is settled.
func (r *Runner) recoverLock(ctx context.Context, rec lockRecord, spec Spec) (done bool, err error) {
	log := r.opts.Logger.With("workspace", rec.Workspace)
	probe := spec
	probe.Lock, probe.LockTimeout, probe.KnownPlan = true, 0, ""
	probeStart := time.Now()
	_, err = r.run(ctx, probe, runMode{probe: true})
	if err == nil {
		log.InfoContext(ctx, "the state lock a killed scan may have held is free")
		return true, nil
	}
	rerr, ok := errors.AsType[*Error](err)
	if !ok || rerr.Stage != StagePlan || !strings.Contains(rerr.Diagnostics, "Error acquiring the state lock") {
		return false, err
	}
	li, ok := parseLockInfo(rerr.Diagnostics)
	if !ok || !rec.heldBy(li, probeStart) {
		log.WarnContext(ctx, "the state is locked, but not provably by the killed scan's plan: left alone",
			"lock_id", li.ID, "who", li.Who, "operation", li.Operation, "created", li.Created)
		return true, nil
	}
	if _, err := r.run(ctx, spec, runMode{unlockID: li.ID}); err != nil {
		return false, err
	}
	log.WarnContext(ctx, "released the state lock a killed scan held", "lock_id", li.ID, "created", li.Created)
	return true, nil
}
