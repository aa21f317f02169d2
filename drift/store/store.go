// Package store keeps driftd's history in one embedded bbolt file: a summary
// of every scan, the last full report of each workspace, and the reporters'
// bookkeeping (issue numbers, thread ids).
//
// Every write is one bbolt transaction, fsync'd before it returns, so a
// process crash (kill -9) at any moment leaves a file that opens and holds
// every scan whose SaveReport had returned; after power loss the same holds
// as far as the disk honours fsync.
//
// Layout (schema version 2):
//
//	meta                     schema_version -> uint64, big-endian
//	scans/<workspace>        scan ID (big-endian uint64) -> Scan, binary (codec.go; JSON in rows of version 1)
//	reports                  workspace -> JSON drift.Report (the last one)
//	state/<workspace>        reporter -> opaque bytes
//	summaries                workspace -> JSON Summary (all held in memory while open)
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Retention and locking defaults that driftd applies when the operator says
// nothing. Options' zero values mean "no limit", so callers that want these
// defaults pass them explicitly.
const (
	DefaultMaxAge   = 90 * 24 * time.Hour
	DefaultMaxScans = 1000
	DefaultTimeout  = 5 * time.Second
)

// ErrInUse means another process (another driftd) holds the store's lock.
var ErrInUse = errors.New("store is in use by another driftd")

// ErrSchemaTooNew means the file was written by a newer driftd.
var ErrSchemaTooNew = errors.New("store schema is newer than this driftd")

// Options tunes a Store. The zero value is valid.
type Options struct {
	// Clock returns the current time; it decides which scans are too old to
	// keep. Default time.Now.
	Clock func() time.Time
	// MaxAge is how long scan summaries are kept; 0 keeps them forever.
	// The last scan of a workspace is always kept.
	MaxAge time.Duration
	// MaxScans is how many scan summaries are kept per workspace; 0 keeps
	// them all.
	MaxScans int
	// Timeout is how long Open waits for the file lock; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// Store is driftd's embedded history. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	opts Options
	sums summaries
	// writeMu orders writes of summaries, so that the copy in memory
	// follows the file's commits.
	writeMu sync.Mutex
	// readBytes counts rows read since the file's pages were last
	// released, every releaseEvery bytes (rowsRead).
	readBytes    atomic.Int64
	releaseEvery int64
}

// Open opens the store at path, creating it (and its parent directories,
// 0700) when missing, and brings its schema up to date.
func Open(path string, opts Options) (*Store, error) {
	if opts.MaxAge < 0 || opts.MaxScans < 0 {
		return nil, fmt.Errorf("store %s: negative retention (max age %s, max scans %d)", path, opts.MaxAge, opts.MaxScans)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s is in use by another driftd (waited %s for its lock): %w", path, opts.Timeout, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: open: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, path, migrations) }); err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{db: db, path: path, opts: opts, releaseEvery: defaultReleaseEvery}
	// The summaries are decoded into memory once: none of their pages
	// need stay resident.
	err = db.View(func(tx *bolt.Tx) error {
		if err := s.sums.load(tx); err != nil {
			return err
		}
		releasePages(db, tx.Size())
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

// SetRetention changes the retention limits, as on a config reload; the
// next save of each workspace applies them to its history.
func (s *Store) SetRetention(maxAge time.Duration, maxScans int) error {
	if maxAge < 0 || maxScans < 0 {
		return fmt.Errorf("store %s: negative retention (max age %s, max scans %d)", s.path, maxAge, maxScans)
	}
	s.writeMu.Lock() // prune reads them under it
	s.opts.MaxAge, s.opts.MaxScans = maxAge, maxScans
	s.writeMu.Unlock()
	return nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store %s: close: %w", s.path, err)
	}
	return nil
}

// Path is the store's file name.
func (s *Store) Path() string { return s.path }

// update runs fn in a write transaction unless ctx is already done. A
// transaction that has started is not interrupted: bbolt transactions are
// short, and an abandoned half-write would buy nothing.
func (s *Store) update(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %s: %s: %w", s.path, op, err)
	}
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("store %s: %s: %w", s.path, op, err)
	}
	return nil
}

// view is update's read-only twin.
func (s *Store) view(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %s: %s: %w", s.path, op, err)
	}
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("store %s: %s: %w", s.path, op, err)
	}
	return nil
}
