package store

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// summaries is the summaries bucket in memory, sorted by workspace: the
// status page reads every summary on every view, and decoding thousands of
// them each time cost more than the rest of the page. Only one process
// opens the file, so the copy cannot go stale.
type summaries struct {
	mu   sync.RWMutex
	list []Summary
	// lent says all handed list out since it last changed: the next set
	// changes a copy, so that what was handed out never changes and all
	// need not copy thousands of summaries for every page view.
	lent atomic.Bool
	// changes counts the calls of set.
	changes uint64
}

// load reads every summary in tx (bbolt iterates in key order).
func (c *summaries) load(tx *bolt.Tx) error {
	var list []Summary
	err := tx.Bucket(bucketSummaries).ForEach(func(k, v []byte) error {
		var sum Summary
		if err := json.Unmarshal(v, &sum); err != nil {
			return fmt.Errorf("decode summary of %s: %w", k, err)
		}
		list = append(list, sum)
		return nil
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.list = list
	c.mu.Unlock()
	return nil
}

func (c *summaries) find(workspace string) (int, bool) {
	return slices.BinarySearchFunc(c.list, workspace, func(s Summary, ws string) int { return cmp.Compare(s.Workspace, ws) })
}

// set stores committed summaries.
func (c *summaries) set(sums map[string]Summary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes++
	if c.lent.Swap(false) {
		c.list = slices.Clone(c.list)
	}
	for ws, sum := range sums {
		if i, ok := c.find(ws); ok {
			c.list[i] = sum
		} else {
			c.list = slices.Insert(c.list, i, sum)
		}
	}
}

func (c *summaries) get(workspace string) (Summary, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if i, ok := c.find(workspace); ok {
		return c.list[i], true
	}
	return Summary{}, false
}

// all returns every summary, in a slice that never changes and that the
// caller must not change.
func (c *summaries) all() []Summary {
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.lent.Store(true)
	return slices.Clip(c.list)
}
