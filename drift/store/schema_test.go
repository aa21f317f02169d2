package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
	bolt "go.etcd.io/bbolt"
)

// craft writes a raw bbolt file the way an older (or newer) driftd would have.
func craft(t *testing.T, fill func(tx *bolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "driftd.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func putVersion(tx *bolt.Tx, v uint64) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	return meta.Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, v))
}

func fileVersion(t *testing.T, s *Store) uint64 {
	t.Helper()
	var v uint64
	if err := s.db.View(func(tx *bolt.Tx) (err error) { v, err = schemaVersion(tx); return err }); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenVersion1File(t *testing.T) {
	t.Parallel()
	// A v1 file as driftd v1 writes it, with one scan, report, summary and
	// state entry.
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	path := craft(t, func(tx *bolt.Tx) error {
		if err := migrations[0](tx); err != nil {
			return err
		}
		if err := putVersion(tx, 1); err != nil {
			return err
		}
		hist, err := tx.Bucket(bucketScans).CreateBucket([]byte("prod"))
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketScans).SetSequence(7); err != nil {
			return err
		}
		scan := fmt.Sprintf(`{"id":7,"workspace":"prod","started_at":%q,"duration_ns":1000,"status":"clean","drifted":0,"pending":0}`, at.Format(time.RFC3339))
		if err := hist.Put(idKey(7), []byte(scan)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSummaries).Put([]byte("prod"), []byte(`{"workspace":"prod","last":`+scan+`,"last_clean":"`+at.Format(time.RFC3339)+`"}`)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketReports).Put([]byte("prod"), []byte(`{"schema_version":1,"workspace":"prod","status":"clean","drift":[],"pending":[]}`)); err != nil {
			return err
		}
		st, err := tx.Bucket(bucketState).CreateBucket([]byte("prod"))
		if err != nil {
			return err
		}
		return st.Put([]byte("github"), []byte("42"))
	})

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v := fileVersion(t, s); v != uint64(len(migrations)) {
		t.Errorf("schema version after Open = %d, want %d", v, len(migrations))
	}
	sums, err := s.Workspaces(ctx)
	if err != nil || len(sums) != 1 || sums[0].Last.ID != 7 || !sums[0].LastClean.Equal(at) {
		t.Errorf("Workspaces = %+v, %v", sums, err)
	}
	if st, err := s.GetState(ctx, "prod", "github"); err != nil || string(st) != "42" {
		t.Errorf("GetState = %q, %v", st, err)
	}
	if r, err := s.LastReport(ctx, "prod"); err != nil || r == nil || r.Status != drift.StatusClean {
		t.Errorf("LastReport = %+v, %v", r, err)
	}
	// New scans continue the file's numbering, in binary rows next to the
	// JSON one.
	sc, err := s.SaveReport(ctx, &drift.Report{Workspace: "prod", Status: drift.StatusClean, StartedAt: at.Add(time.Hour)})
	if err != nil || sc.ID != 8 {
		t.Errorf("SaveReport = %+v, %v; want ID 8", sc, err)
	}
	old := Scan{ID: 7, Workspace: "prod", StartedAt: at, Duration: 1000, Status: drift.StatusClean}
	scans, err := s.Scans(ctx, "prod", 0)
	if err != nil || len(scans) != 2 || !reflect.DeepEqual(scans[0], sc) || !reflect.DeepEqual(scans[1], old) {
		t.Errorf("Scans = %+v, %v; want [%+v %+v]", scans, err, sc, old)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Retention reads the JSON row's time too.
	s, err = Open(path, Options{MaxAge: 90 * time.Minute, Clock: func() time.Time { return at.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.SaveReport(ctx, &drift.Report{Workspace: "prod", Status: drift.StatusClean, StartedAt: at.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if scans, err := s.Scans(ctx, "prod", 0); err != nil || len(scans) != 2 || scans[1].ID != 8 {
		t.Errorf("after retention: %+v, %v; want scans 9 and 8", scans, err)
	}
}

func TestOpenMigratesEmptyFile(t *testing.T) {
	t.Parallel()
	// A bbolt file with no buckets: version 0.
	path := craft(t, func(*bolt.Tx) error { return nil })
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := fileVersion(t, s); v != uint64(len(migrations)) {
		t.Errorf("schema version = %d, want %d", v, len(migrations))
	}
	if _, err := s.SaveReport(context.Background(), &drift.Report{Workspace: "w", Status: drift.StatusClean}); err != nil {
		t.Error(err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	path := craft(t, func(tx *bolt.Tx) error { return putVersion(tx, 9) })
	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a version 9 store succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("error %v is not ErrSchemaTooNew", err)
	}
	want := fmt.Sprintf("store %s has schema version 9, this driftd knows up to %d", path, len(migrations))
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	// The refusal released the lock and left the file alone.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v, _ := schemaVersion(tx); v != 9 {
			t.Errorf("file version changed to %d", v)
		}
		return nil
	})
}

// The mechanism a version 2 will use: only the steps a file has not seen run,
// in order, and a failing step leaves the file as it was.
func TestMigrate(t *testing.T) {
	t.Parallel()
	var ran []string
	step := func(name string, err error) migration {
		return func(tx *bolt.Tx) error {
			ran = append(ran, name)
			if err != nil {
				return err
			}
			_, e := tx.CreateBucketIfNotExists([]byte(name))
			return e
		}
	}
	boom := errors.New("boom")
	tests := []struct {
		name    string
		from    uint64
		steps   []migration
		wantRan []string
		wantV   uint64
		wantErr error
	}{
		{"fresh file runs all", 0, []migration{step("one", nil), step("two", nil)}, []string{"one", "two"}, 2, nil},
		{"v1 runs the rest", 1, []migration{step("one", nil), step("two", nil), step("three", nil)}, []string{"two", "three"}, 3, nil},
		{"current runs none", 2, []migration{step("one", nil), step("two", nil)}, nil, 2, nil},
		{"failure rolls back", 1, []migration{step("one", nil), step("two", nil), step("three", boom)}, []string{"two", "three"}, 1, boom},
		{"newer refused", 3, []migration{step("one", nil)}, nil, 3, ErrSchemaTooNew},
	}
	for _, tt := range tests {
		ran = nil
		path := craft(t, func(tx *bolt.Tx) error { return putVersion(tx, tt.from) })
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error { return migrate(tx, path, tt.steps) })
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: migrate error %v, want %v", tt.name, err, tt.wantErr)
		}
		_ = db.View(func(tx *bolt.Tx) error {
			v, _ := schemaVersion(tx)
			if v != tt.wantV {
				t.Errorf("%s: version %d, want %d", tt.name, v, tt.wantV)
			}
			if tt.wantErr != nil && tx.Bucket([]byte("two")) != nil {
				t.Errorf("%s: a failed migration left its changes", tt.name)
			}
			return nil
		})
		if fmt.Sprint(ran) != fmt.Sprint(tt.wantRan) {
			t.Errorf("%s: ran %v, want %v", tt.name, ran, tt.wantRan)
		}
		db.Close()
	}
}
