package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/driftd/driftd/drift"
	bolt "go.etcd.io/bbolt"
)

// maxScanError bounds Scan.Error: history keeps a hint, the last full report
// keeps the whole text.
const maxScanError = 1024

// Scan summarises one finished scan of one workspace.
type Scan struct {
	// ID is unique across the store and grows with every scan saved.
	ID               uint64        `json:"id"`
	Workspace        string        `json:"workspace"`
	StartedAt        time.Time     `json:"started_at"`
	Duration         time.Duration `json:"duration_ns"`
	Status           drift.Status  `json:"status"`
	Drifted          int           `json:"drifted"`
	Pending          int           `json:"pending"`
	Fingerprint      string        `json:"fingerprint,omitempty"`
	Commit           string        `json:"commit,omitempty"`
	TerraformVersion string        `json:"terraform_version,omitempty"`
	// Error is the report's error, cut to 1 KiB.
	Error string `json:"error,omitempty"`
}

// Summary is where a workspace stands, kept current by SaveReport.
type Summary struct {
	Workspace string `json:"workspace"`
	Last      Scan   `json:"last"`
	// DriftingSince is when the current unbroken run of drifted scans began;
	// zero when the last conclusive scan was clean. A failed scan neither
	// breaks nor starts a run: it says nothing about drift.
	DriftingSince time.Time `json:"drifting_since,omitzero"`
	// LastClean is when the most recent clean scan started.
	LastClean time.Time `json:"last_clean,omitzero"`
}

// historyFill is how full bbolt packs a page of scan history before
// starting the next. Rows are only appended (IDs grow) and pruned from the
// front, so full pages stay full; bbolt's default of half full would
// double the file.
const historyFill = 1.0

// SaveReport records one finished scan: its summary and (replacing the
// previous) the workspace's last full report, in one transaction, then
// applies retention to that workspace's history. It returns the stored
// summary with its ID.
func (s *Store) SaveReport(ctx context.Context, r *drift.Report) (Scan, error) {
	scans, err := s.SaveReports(ctx, []*drift.Report{r})
	if err != nil {
		return Scan{}, err
	}
	return scans[0], nil
}

// SaveReports records finished scans, in order, as SaveReport would one
// by one, but in one transaction that writes each workspace's last report,
// summary and retention once: an import of history. It returns the
// stored summaries, in the order of rs. All are saved or none.
func (s *Store) SaveReports(ctx context.Context, rs []*drift.Report) ([]Scan, error) {
	last := make(map[string]int) // workspace -> index of its last report in rs
	for i, r := range rs {
		if r == nil || r.Workspace == "" {
			return nil, fmt.Errorf("store %s: save report: report without a workspace", s.path)
		}
		last[r.Workspace] = i
	}
	full := make(map[string][]byte, len(last))
	for ws, i := range last {
		b, err := json.Marshal(rs[i])
		if err != nil {
			return nil, fmt.Errorf("store %s: save report of %s: %w", s.path, ws, err)
		}
		full[ws] = b
	}
	scans := make([]Scan, len(rs))
	for i, r := range rs {
		scans[i] = ScanOf(r)
	}
	op := fmt.Sprintf("save %d reports", len(rs))
	if len(rs) == 1 {
		op = "save report of " + rs[0].Workspace
	}
	// Summaries reach the cache in commit order.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var sums map[string]Summary
	err := s.update(ctx, op, func(tx *bolt.Tx) error {
		sums = make(map[string]Summary, len(last))
		all, sumBucket := tx.Bucket(bucketScans), tx.Bucket(bucketSummaries)
		hists := make(map[string]*bolt.Bucket, len(last))
		for i := range scans {
			sc := &scans[i]
			// The parent bucket's sequence numbers scans across
			// workspaces, so an ID names one scan on its own (logs, API).
			id, err := all.NextSequence()
			if err != nil {
				return err
			}
			sc.ID = id
			hist := hists[sc.Workspace]
			if hist == nil {
				if hist, err = all.CreateBucketIfNotExists([]byte(sc.Workspace)); err != nil {
					return err
				}
				hist.FillPercent = historyFill
				hists[sc.Workspace] = hist
			}
			if err := hist.Put(idKey(id), encodeScan(*sc)); err != nil {
				return err
			}
			sum, ok := sums[sc.Workspace]
			if !ok {
				if sum, err = readSummary(sumBucket, sc.Workspace); err != nil {
					return err
				}
			}
			sums[sc.Workspace] = sum.advance(*sc)
		}
		for ws, sum := range sums {
			if err := putJSON(sumBucket, []byte(ws), sum); err != nil {
				return err
			}
			if err := tx.Bucket(bucketReports).Put([]byte(ws), full[ws]); err != nil {
				return err
			}
			if err := s.prune(hists[ws]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.sums.set(sums)
	return scans, nil
}

// ScanOf is what the store keeps of r in its history and summary. Times
// are in UTC, as the store reads them back.
func ScanOf(r *drift.Report) Scan {
	return Scan{
		Workspace:        r.Workspace,
		StartedAt:        r.StartedAt.UTC(),
		Duration:         r.Duration,
		Status:           r.Status,
		Drifted:          len(r.Drift),
		Pending:          r.PendingCode(), // code not applied
		Fingerprint:      r.Fingerprint,
		Commit:           r.Commit,
		TerraformVersion: r.TerraformVersion,
		Error:            truncate(r.Error, maxScanError),
	}
}

func readSummary(b *bolt.Bucket, workspace string) (Summary, error) {
	var sum Summary
	if v := b.Get([]byte(workspace)); v != nil {
		if err := json.Unmarshal(v, &sum); err != nil {
			return Summary{}, fmt.Errorf("decode summary of %s: %w", workspace, err)
		}
	}
	return sum, nil
}

// advance returns the summary after scan.
func (sum Summary) advance(scan Scan) Summary {
	sum.Workspace = scan.Workspace
	sum.Last = scan
	switch scan.Status {
	case drift.StatusDrifted:
		if sum.DriftingSince.IsZero() {
			sum.DriftingSince = scan.StartedAt
		}
	case drift.StatusClean:
		sum.DriftingSince = time.Time{}
		sum.LastClean = scan.StartedAt
	}
	return sum
}

// prune deletes the oldest scans of one workspace beyond MaxScans or older
// than MaxAge. The newest scan always stays. Keys grow with time, so both
// limits cut a prefix of the history and the walk stops at the first keeper.
func (s *Store) prune(hist *bolt.Bucket) error {
	if s.opts.MaxScans == 0 && s.opts.MaxAge == 0 {
		return nil
	}
	c := hist.Cursor()
	newest, _ := c.Last()
	// Keys before keepFrom exceed MaxScans; nil when nothing does.
	var keepFrom []byte
	if s.opts.MaxScans > 0 {
		k := newest
		for i := 1; i < s.opts.MaxScans && k != nil; i++ {
			k, _ = c.Prev()
		}
		keepFrom = k
	}
	cutoff := s.opts.Clock().Add(-s.opts.MaxAge)
	var doomed [][]byte
	for k, v := c.First(); k != nil && !bytes.Equal(k, newest); k, v = c.Next() {
		if keepFrom == nil || bytes.Compare(k, keepFrom) >= 0 {
			if s.opts.MaxAge == 0 {
				break
			}
			started, err := scanStart(k, v)
			if err != nil {
				return err
			}
			if !started.Before(cutoff) {
				break
			}
		}
		doomed = append(doomed, bytes.Clone(k))
	}
	// Deleting after the walk: bbolt cursors skip entries when the current
	// one is deleted mid-iteration.
	for _, k := range doomed {
		if err := hist.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// LastReport returns the workspace's last full report; nil, nil when the
// workspace has none.
func (s *Store) LastReport(ctx context.Context, workspace string) (*drift.Report, error) {
	var r *drift.Report
	err := s.view(ctx, "last report of "+workspace, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketReports).Get([]byte(workspace))
		if v == nil {
			return nil
		}
		defer s.rowsRead(tx, len(v))
		r = new(drift.Report)
		return json.Unmarshal(v, r)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Scans returns up to limit of the workspace's scans, newest (last saved)
// first; limit <= 0 returns them all. An unknown workspace has none.
func (s *Store) Scans(ctx context.Context, workspace string, limit int) ([]Scan, error) {
	var scans []Scan
	err := s.ScansBack(ctx, workspace, func(sc Scan) bool {
		scans = append(scans, sc)
		return limit <= 0 || len(scans) < limit
	})
	if err != nil {
		return nil, err
	}
	return scans, nil
}

// ScansBack calls fn with the workspace's scans newest (last saved) first
// until fn returns false or none is left, so that a reader needing only
// the recent history does not read (or page in) the rest. fn runs inside
// a read transaction and must not call the Store. An unknown workspace has
// no scans.
func (s *Store) ScansBack(ctx context.Context, workspace string, fn func(Scan) bool) error {
	return s.view(ctx, "scans of "+workspace, func(tx *bolt.Tx) error {
		hist := tx.Bucket(bucketScans).Bucket([]byte(workspace))
		if hist == nil {
			return nil
		}
		read := 0
		defer func() { s.rowsRead(tx, read) }()
		c := hist.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			read += len(k) + len(v)
			sc, err := decodeScan(workspace, k, v)
			if err != nil {
				return err
			}
			if !fn(sc) {
				return nil
			}
		}
		return nil
	})
}

// ScansAfter returns the workspace's scans with an ID above after, oldest
// (first saved) first: what was saved since a reader last looked.
func (s *Store) ScansAfter(ctx context.Context, workspace string, after uint64) ([]Scan, error) {
	var scans []Scan
	err := s.view(ctx, "scans of "+workspace, func(tx *bolt.Tx) error {
		hist := tx.Bucket(bucketScans).Bucket([]byte(workspace))
		if hist == nil || after == ^uint64(0) {
			return nil
		}
		read := 0
		defer func() { s.rowsRead(tx, read) }()
		c := hist.Cursor()
		for k, v := c.Seek(idKey(after + 1)); k != nil; k, v = c.Next() {
			read += len(k) + len(v)
			sc, err := decodeScan(workspace, k, v)
			if err != nil {
				return err
			}
			scans = append(scans, sc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return scans, nil
}

// Workspaces returns the summary of every workspace ever saved, sorted by
// name. Summaries are kept in memory, so this reads no page of the file
// and copies nothing: the slice is shared, never changes (a later save
// changes a copy), and must not be changed by the caller.
func (s *Store) Workspaces(ctx context.Context) ([]Summary, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %s: workspaces: %w", s.path, err)
	}
	return s.sums.all(), nil
}

// Changes counts the saves since the store was opened: what caches
// figures computed from the history compares it to know whether they may
// be out of date.
func (s *Store) Changes() uint64 {
	s.sums.mu.RLock()
	defer s.sums.mu.RUnlock()
	return s.sums.changes
}

// Summary returns one workspace's summary; false when it was never saved.
func (s *Store) Summary(ctx context.Context, workspace string) (Summary, bool, error) {
	if err := ctx.Err(); err != nil {
		return Summary{}, false, fmt.Errorf("store %s: summary of %s: %w", s.path, workspace, err)
	}
	sum, ok := s.sums.get(workspace)
	return sum, ok, nil
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// truncate cuts s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
