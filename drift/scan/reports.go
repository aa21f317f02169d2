package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/internal/cachefile"
)

// ReportCache keeps, per workspace, the report of its last plan that had
// something to report, under that plan's key (runner.Result.PlanKey). A
// scan whose plan has the same key again, as a drifted workspace's plan
// does scan after scan until someone acts, skips `terraform show -json`
// and reuses the report. Reports are what driftd prints, every secret
// already redacted, so the cache holds no secret.
type ReportCache struct {
	dir string
	// build identifies this driftd executable: a new driftd may analyse
	// the same plan differently.
	build string
}

// NewReportCache returns a cache in dir, which it creates.
func NewReportCache(dir string) (*ReportCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("report cache: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("report cache: %w", err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return nil, fmt.Errorf("report cache: %w", err)
	}
	return &ReportCache{dir: dir, build: fmt.Sprintf("%q %d %d", exe, fi.Size(), fi.ModTime().UnixNano())}, nil
}

// cacheEntry is one workspace's file.
type cacheEntry struct {
	// Analysis is analysisKey of the options the report was made with.
	Analysis string       `json:"analysis"`
	Plan     string       `json:"plan"`
	Report   drift.Report `json:"report"`
}

// analysisKey identifies what, besides the plan, decides a report's
// content.
func (c *ReportCache) analysisKey(opts drift.Options) string {
	b, _ := json.Marshal(struct {
		Schema      int                `json:"schema"`
		Build       string             `json:"build"`
		Workspace   string             `json:"workspace"`
		RefreshOnly bool               `json:"refresh_only"`
		Ignore      []drift.IgnoreRule `json:"ignore"`
	}{drift.SchemaVersion, c.build, opts.Workspace, opts.RefreshOnly, opts.Ignore})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (c *ReportCache) path(workspace string) string {
	return filepath.Join(c.dir, workspace+".json")
}

// lookup returns the plan key and report kept for the workspace of opts,
// or "" and nil. A missing, unreadable or outdated entry is a miss.
func (c *ReportCache) lookup(opts drift.Options) (string, *drift.Report, error) {
	if c == nil {
		return "", nil, nil
	}
	var e cacheEntry
	found, err := cachefile.Load(c.path(opts.Workspace), &e) // numbers as drift.ReadPlan decodes them
	if err != nil {
		return "", nil, fmt.Errorf("report cache: %w", err)
	}
	if !found || e.Analysis != c.analysisKey(opts) || e.Plan == "" || e.Report.Workspace != opts.Workspace {
		return "", nil, nil
	}
	return e.Plan, &e.Report, nil
}

// store keeps r, made with opts from the plan of key planKey.
func (c *ReportCache) store(opts drift.Options, planKey string, r *drift.Report) error {
	if c == nil {
		return nil
	}
	b, err := json.Marshal(cacheEntry{Analysis: c.analysisKey(opts), Plan: planKey, Report: *r})
	if err != nil {
		return fmt.Errorf("report cache: %w", err)
	}
	// A concurrent lookup, or another driftd on the same cache, sees the
	// old entry or the new one, never half of one.
	if err := cachefile.Write(c.path(opts.Workspace), b); err != nil {
		return fmt.Errorf("report cache: %w", err)
	}
	return nil
}

// Prune removes the reports stored before cutoff: those of workspaces
// renamed or gone, and those reused ever since (the next scan of such a
// workspace runs show once more). It returns how many it removed.
func (c *ReportCache) Prune(cutoff time.Time) (int, error) {
	n, err := cachefile.Prune(c.dir, cutoff)
	if err != nil {
		return n, fmt.Errorf("report cache: %w", err)
	}
	return n, nil
}
