package slo

import (
	"encoding/binary"
	"slices"
	"time"
)

// history is what a Tracker keeps of one workspace's scans: what Compute
// would find in them, in memory proportional to the figures rather than
// to the scans. Its summary equals Compute's over every scan it was given.
//
// The drift figures need only where the drift state changed, so the
// successful scans are kept as runs of one outcome (a failed scan neither
// breaks nor starts a run). The scan success ratio counts the scans in the
// window, which needs each one's start until it leaves the window: those
// are kept as varint deltas in seconds, two or three bytes a scan.
type history struct {
	runs []run
	// first is when the first scan given started, whatever its outcome:
	// the freshness of a workspace whose scans all failed.
	first int64
	seen  bool
	times timeline
	// pending are scans that started after the last summary's now, in
	// order; they count from the first summary at or after their start.
	pending []Scan
	// newest is the start of the newest scan given.
	newest int64
	// at is the last summary's now; a summary before it would need scans
	// already dropped.
	at int64
	// last is the ID of the newest scan read; window is the widest the
	// scans still counted cover.
	last   uint64
	window time.Duration
}

// run is a stretch of successful scans with one outcome: the first and
// the last one's start, in Unix nanoseconds.
type run struct {
	start, end int64
	drifted    bool
}

// add takes the next scan, which must not start before any given so far
// (inOrder tells).
func (h *history) add(sc Scan) {
	h.newest = sc.At.UnixNano()
	if len(h.pending) > 0 || sc.At.UnixNano() > h.at {
		h.pending = append(h.pending, sc)
		return
	}
	h.fold(sc)
}

// inOrder says whether a scan starting at t may be added.
func (h *history) inOrder(t time.Time) bool {
	return !h.seen && len(h.pending) == 0 || t.UnixNano() >= h.newest
}

func (h *history) fold(sc Scan) {
	t := sc.At.UnixNano()
	if !h.seen {
		h.first, h.seen = t, true
	}
	h.times.push(t, sc.Outcome == Failed)
	if sc.Outcome == Failed {
		return
	}
	drifted := sc.Outcome == Drifted
	if n := len(h.runs); n > 0 && h.runs[n-1].drifted == drifted {
		h.runs[n-1].end = t
		return
	}
	h.runs = append(h.runs, run{start: t, end: t, drifted: drifted})
}

// advance moves the history to now (not before the last one): pending
// scans that started by now are folded in, scans that left the window no
// longer count, and runs before the last clean one that started at or
// before now - horizon are dropped (the rule of Prune in the tests).
func (h *history) advance(now time.Time, window, horizon time.Duration) {
	h.at = now.UnixNano()
	i := 0
	for ; i < len(h.pending) && h.pending[i].At.UnixNano() <= h.at; i++ {
		h.fold(h.pending[i])
	}
	if i > 0 {
		h.pending = slices.Clone(h.pending[i:])
	}
	h.times.drop(now.Add(-window).UnixNano())
	cut := now.Add(-horizon).UnixNano()
	keep := -1
	for j, r := range h.runs {
		if r.start > cut {
			break
		}
		if !r.drifted {
			keep = j
		}
	}
	if keep > 0 {
		// A copy, so that the dropped runs' memory is released.
		h.runs = slices.Clone(h.runs[keep:])
	}
}

// summary is Compute's result over the scans given, at the history's now.
func (h *history) summary(obj Objective) Summary {
	now := time.Unix(0, h.at)
	s := newSummary(obj)
	s.Scans, s.Failed = h.times.scans, h.times.failed
	from := now.Add(-obj.Window).UnixNano()
	budgets := append([]*Budget{&s.Budget}, pointers(s.Burn)...)
	starts := spanStarts(now, obj.Window)
	for i, r := range h.runs {
		end := h.at
		if i+1 < len(h.runs) {
			end = h.runs[i+1].start
		}
		account(budgets, starts, time.Unix(0, r.start), time.Unix(0, end), r.drifted)
		if i == 0 || !inWindowSince(r.start, from) {
			continue
		}
		prev := h.runs[i-1]
		if r.drifted {
			s.Detect.observe(time.Duration(r.start - prev.end))
			continue
		}
		took := time.Duration(r.start - prev.start)
		s.Resolve.observe(took)
		if obj.ResolveWithin > 0 && took > obj.ResolveWithin {
			s.ResolvedLate++
		}
	}
	if n := len(h.runs); n > 0 {
		last := h.runs[n-1]
		s.LastSuccess = time.Unix(0, last.end).UTC()
		s.Fresh, s.Freshness = true, time.Duration(h.at-last.end)
		s.Allowance = 1 - obj.DriftFree
		if last.drifted {
			s.Drifting, s.DriftingSince = 1, time.Unix(0, last.start).UTC()
			s.OldestDrift = time.Duration(h.at - last.start)
			if obj.ResolveWithin > 0 && s.OldestDrift > obj.ResolveWithin {
				s.Overdue = 1
			}
		}
	} else {
		s.Unobserved = 1
		if h.seen {
			s.Fresh, s.Freshness = true, time.Duration(h.at-h.first)
		}
	}
	for _, b := range budgets {
		b.Allowed = allowed(b.Observed, obj.DriftFree)
	}
	return s
}

// timeline holds the starts of the scans not yet out of the window, in
// order, to the second (as inWindowSince takes them): each as the uvarint
// of the seconds since the previous one shifted left by one, the low bit
// set for a failed scan. Hourly scans take two bytes each, daily ones
// three.
type timeline struct {
	buf []byte
	// base is the second of the scan before buf's first, last that of
	// the last one in buf.
	base, last    int64
	scans, failed int
	// dead counts the bytes before buf in its array: dropped, not yet
	// released.
	dead int
}

// push adds a scan that started at t (Unix nanoseconds).
func (tl *timeline) push(t int64, failed bool) {
	sec := unixSecond(t)
	if tl.scans == 0 {
		tl.buf, tl.base, tl.last = tl.buf[:0], sec, sec
		tl.dead = 0
	}
	v := uint64(sec-tl.last) << 1
	if failed {
		v |= 1
		tl.failed++
	}
	tl.buf = binary.AppendUvarint(tl.buf, v)
	tl.last = sec
	tl.scans++
}

// drop forgets the scans that are not in the window that starts at from
// (Unix nanoseconds).
func (tl *timeline) drop(from int64) {
	off := 0
	for tl.scans > 0 {
		v, n := binary.Uvarint(tl.buf[off:])
		sec := tl.base + int64(v>>1)
		if inWindowSince(sec*int64(time.Second), from) {
			break
		}
		tl.base, off = sec, off+n
		tl.scans--
		if v&1 == 1 {
			tl.failed--
		}
	}
	// Copy what is left once more has been dropped than is left, so that
	// memory follows the window, not the history.
	tl.buf = tl.buf[off:]
	tl.dead += off
	if tl.dead > 0 && tl.dead >= len(tl.buf) {
		tl.trim()
	}
}

// trim copies the timeline into an array of its size and an eighth more,
// for the scans to come: growing by appends leaves up to twice what is
// needed, which over thousands of workspaces is megabytes.
func (tl *timeline) trim() {
	tl.buf, tl.dead = append(make([]byte, 0, len(tl.buf)+len(tl.buf)/8+8), tl.buf...), 0
}
