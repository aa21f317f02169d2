// Package shard splits workspaces among N processes that run at once (jobs
// of a CI matrix, pods of a Kubernetes Job or StatefulSet) by rendezvous
// (highest random weight) hashing of their names: every name belongs to
// exactly one shard, shards get about the same number of names, adding a
// name moves no other, and changing N moves only the names that must move.
//
// The assignment depends on nothing but the name and N, so processes that
// share nothing agree on it. Weight is part of that contract: changing it
// moves workspaces between shards of a running fleet.
package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxCount bounds N: each name is weighed once per shard.
const MaxCount = 1024

// Shard is shard Index (0-based) of Count. The zero value is no sharding:
// one process owns every name.
type Shard struct {
	Index, Count int
}

// New returns shard i of n, or an error when i is not in [0, n).
func New(i, n int) (Shard, error) {
	switch {
	case n < 1 || n > MaxCount:
		return Shard{}, fmt.Errorf("shard count %d: want 1 to %d", n, MaxCount)
	case i < 0 || i >= n:
		return Shard{}, fmt.Errorf("shard index %d: want 0 to %d (shards are numbered from 0)", i, n-1)
	}
	return Shard{Index: i, Count: n}, nil
}

// Parse reads "I/N", I counted from 0.
func Parse(s string) (Shard, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q: want I/N, e.g. 0/4 (shard 0 of 4)", s)
	}
	i, ierr := strconv.Atoi(is)
	n, nerr := strconv.Atoi(ns)
	if ierr != nil || nerr != nil {
		return Shard{}, fmt.Errorf("%q: want I/N with whole numbers, e.g. 0/4 (shard 0 of 4)", s)
	}
	return New(i, n)
}

// Sharded says whether s owns less than everything.
func (s Shard) Sharded() bool { return s.Count > 1 }

// String is "I/N", or "" when s owns every name.
func (s Shard) String() string {
	if !s.Sharded() {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// Owns says whether name belongs to s.
func (s Shard) Owns(name string) bool {
	return s.Count <= 1 || Of(name, s.Count) == s.Index
}

// Filter returns the items whose name s owns, in their order.
func Filter[T any](s Shard, items []T, name func(T) string) []T {
	var out []T
	for _, it := range items {
		if s.Owns(name(it)) {
			out = append(out, it)
		}
	}
	return out
}

// Of returns the shard of n that owns name: the one of highest weight.
func Of(name string, n int) int {
	best, bestW := 0, uint64(0)
	for i := range n {
		if w := Weight(name, i); i == 0 || w > bestW {
			best, bestW = i, w
		}
	}
	return best
}

// Weight is name's weight for shard i: 64-bit FNV-1a of the name, a zero
// byte and i (8 bytes, big-endian), then SplitMix64's finalizer, which
// spreads FNV's nearby results for nearby names over all 64 bits.
func Weight(name string, i int) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for j := 0; j < len(name); j++ {
		h = (h ^ uint64(name[j])) * prime
	}
	h *= prime // the zero byte: h ^ 0 == h
	for shift := 56; shift >= 0; shift -= 8 {
		h = (h ^ uint64(i)>>shift&0xff) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// Environment variables a process learns its shard from.
const (
	EnvShard  = "DRIFTD_SHARD"         // I/N
	EnvShards = "DRIFTD_SHARDS"        // N, with an index from one of the next
	EnvJobIdx = "JOB_COMPLETION_INDEX" // set by Kubernetes in an Indexed Job's pods
	EnvPod    = "POD_NAME"             // a StatefulSet pod's name, from the downward API
	EnvHost   = "HOSTNAME"             // a pod's hostname is its name
)

// Sources are where a process may learn its shard.
type Sources struct {
	// Flag is the --shard value, "" when not given.
	Flag string
	// Lookup reads the environment.
	Lookup func(string) (string, bool)
	// PodOrdinal lets a StatefulSet pod (driftd serve) take its index from
	// its name, POD_NAME or else HOSTNAME ending in -<ordinal>, when
	// DRIFTD_SHARDS is set and nothing else gives an index.
	PodOrdinal bool
}

// Resolved is a shard and where it came from, for logs and errors.
type Resolved struct {
	Shard
	From string
}

// Resolve finds the process's shard. No source at all is no sharding;
// sources that disagree, an index without a count, or a count without an
// index are errors, never a guess.
func Resolve(src Sources) (Resolved, error) {
	get := func(k string) string {
		if src.Lookup == nil {
			return ""
		}
		v, _ := src.Lookup(k)
		return strings.TrimSpace(v)
	}
	var found []Resolved
	if src.Flag != "" {
		s, err := Parse(src.Flag)
		if err != nil {
			return Resolved{}, fmt.Errorf("--shard %w", err)
		}
		found = append(found, Resolved{s, "--shard " + src.Flag})
	}
	if v := get(EnvShard); v != "" {
		s, err := Parse(v)
		if err != nil {
			return Resolved{}, fmt.Errorf("%s=%w", EnvShard, err)
		}
		found = append(found, Resolved{s, EnvShard + "=" + v})
	}
	count := get(EnvShards)
	n := 0
	if count != "" {
		var err error
		if n, err = strconv.Atoi(count); err != nil || n < 1 || n > MaxCount {
			return Resolved{}, fmt.Errorf("%s=%q: want a whole number from 1 to %d", EnvShards, count, MaxCount)
		}
	}
	withCount := func(from string, i int) (Resolved, error) {
		from += " with " + EnvShards + "=" + count
		s, err := New(i, n)
		if err != nil {
			return Resolved{}, fmt.Errorf("%s: %w", from, err)
		}
		return Resolved{s, from}, nil
	}
	if idx := get(EnvJobIdx); idx != "" {
		if count == "" {
			return Resolved{}, fmt.Errorf("%s=%s is set (an Indexed Job) but %s is not: set %s to the Job's completions", EnvJobIdx, idx, EnvShards, EnvShards)
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			return Resolved{}, fmt.Errorf("%s=%q: want a whole number", EnvJobIdx, idx)
		}
		r, err := withCount(EnvJobIdx+"="+idx, i)
		if err != nil {
			return Resolved{}, err
		}
		found = append(found, r)
	}
	if count != "" && src.PodOrdinal && len(found) == 0 {
		key, pod := EnvPod, get(EnvPod)
		if pod == "" {
			key, pod = EnvHost, get(EnvHost)
		}
		ord, ok := ordinal(pod)
		if !ok {
			return Resolved{}, fmt.Errorf("%s=%s needs a shard index: --shard, %s, %s, or a StatefulSet pod name ending in -<ordinal> in %s or %s (got %q)",
				EnvShards, count, EnvShard, EnvJobIdx, EnvPod, EnvHost, pod)
		}
		r, err := withCount(fmt.Sprintf("%s=%s (ordinal %d)", key, pod, ord), ord)
		if err != nil {
			return Resolved{}, err
		}
		found = append(found, r)
	}
	if len(found) == 0 {
		if count != "" {
			return Resolved{}, fmt.Errorf("%s=%s needs a shard index: --shard I/N, %s=I/N or %s", EnvShards, count, EnvShard, EnvJobIdx)
		}
		return Resolved{}, nil
	}
	first := found[0]
	for _, r := range found[1:] {
		if r.Shard != first.Shard {
			return Resolved{}, fmt.Errorf("conflicting shards: %s says %s, %s says %s", first.From, first.Shard, r.From, r.Shard)
		}
	}
	if count != "" && first.Count != n {
		return Resolved{}, fmt.Errorf("conflicting shard counts: %s says %d shards, %s=%s", first.From, first.Count, EnvShards, count)
	}
	return first, nil
}

// ordinal reads the StatefulSet ordinal at the end of a pod name: "driftd-2".
func ordinal(pod string) (int, bool) {
	i := strings.LastIndexByte(pod, '-')
	if i < 1 || i == len(pod)-1 {
		return 0, false
	}
	digits := pod[i+1:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}
