package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// GetState returns what a reporter stored for a workspace (an issue number, a
// thread id: the format is the reporter's); nil, nil when none.
func (s *Store) GetState(ctx context.Context, workspace, reporter string) ([]byte, error) {
	var data []byte
	err := s.view(ctx, fmt.Sprintf("state of %s for %s", workspace, reporter), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState).Bucket([]byte(workspace))
		if b == nil {
			return nil
		}
		// bbolt's slices die with the transaction.
		if v := b.Get([]byte(reporter)); v != nil {
			data = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// PutState replaces what a reporter stored for a workspace; empty data
// deletes it.
func (s *Store) PutState(ctx context.Context, workspace, reporter string, data []byte) error {
	if workspace == "" || reporter == "" {
		return fmt.Errorf("store %s: put state: empty workspace (%q) or reporter (%q)", s.path, workspace, reporter)
	}
	return s.update(ctx, fmt.Sprintf("put state of %s for %s", workspace, reporter), func(tx *bolt.Tx) error {
		if len(data) == 0 {
			b := tx.Bucket(bucketState).Bucket([]byte(workspace))
			if b == nil {
				return nil
			}
			return b.Delete([]byte(reporter))
		}
		b, err := tx.Bucket(bucketState).CreateBucketIfNotExists([]byte(workspace))
		if err != nil {
			return err
		}
		return b.Put([]byte(reporter), data)
	})
}

// StateWorkspaces lists the workspaces reporters stored anything for, so
// that the records of workspaces no longer configured can be forgotten.
func (s *Store) StateWorkspaces(ctx context.Context) ([]string, error) {
	var out []string
	err := s.view(ctx, "list reporter state", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ForgetState deletes everything reporters stored for a workspace; none is
// no error. Its scans and reports stay, under retention.
func (s *Store) ForgetState(ctx context.Context, workspace string) error {
	return s.update(ctx, fmt.Sprintf("forget state of %s", workspace), func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketState).DeleteBucket([]byte(workspace))
		if errors.Is(err, bolterrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}
