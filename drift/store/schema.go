package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketMeta      = []byte("meta")
	bucketScans     = []byte("scans")
	bucketReports   = []byte("reports")
	bucketState     = []byte("state")
	bucketSummaries = []byte("summaries")

	keySchemaVersion = []byte("schema_version")
)

// migration moves a store from one schema version to the next.
type migration func(tx *bolt.Tx) error

// migrations[i] upgrades a store from version i to version i+1; the current
// version is len(migrations). Append only: a released step never changes.
var migrations = []migration{
	// 0 -> 1: the initial layout.
	func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketScans, bucketReports, bucketState, bucketSummaries} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 1 -> 2: scan rows are written in a binary form (codec.go). Rows of
	// version 1 stay JSON and are read as such until retention drops them,
	// so nothing is rewritten; the version only makes a driftd that knows
	// JSON rows alone refuse the file rather than misread it.
	func(*bolt.Tx) error { return nil },
}

// schemaVersion reads the version recorded in tx; 0 for a new, empty file.
func schemaVersion(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keySchemaVersion)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("malformed schema version (%d bytes)", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// migrate applies the steps the file has not seen yet, all in tx, so a crash
// mid-way leaves the file at its old version.
func migrate(tx *bolt.Tx, path string, steps []migration) error {
	have, err := schemaVersion(tx)
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	know := uint64(len(steps))
	if have > know {
		return fmt.Errorf("store %s has schema version %d, this driftd knows up to %d: %w", path, have, know, ErrSchemaTooNew)
	}
	if have == know {
		return nil
	}
	for v := have; v < know; v++ {
		if err := steps[v](tx); err != nil {
			return fmt.Errorf("store %s: migrate schema %d -> %d: %w", path, v, v+1, err)
		}
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	if err := meta.Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, know)); err != nil {
		return fmt.Errorf("store %s: record schema version: %w", path, err)
	}
	return nil
}
