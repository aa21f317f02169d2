package store

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/driftd/driftd/drift"
)

// A scan row is written in a compact binary form: a daemon scanning 5,000
// workspaces every hour keeps about 11 million rows for 90 days, and their
// JSON (field names, the workspace's name again, hex spelled out) took
// three times the bytes. Rows written as JSON by schema version 1 are still
// read: a JSON row starts with '{', a binary one with scanFormat.
//
//	scanFormat  byte
//	started     varint Unix seconds, uvarint nanoseconds (UTC)
//	duration    varint nanoseconds
//	status      byte (statusCodes), or 0 and a string
//	drifted     uvarint
//	pending     uvarint
//	fingerprint packed string
//	commit      packed string
//	terraform   string
//	error       string
//
// A string is a uvarint length and the bytes; a packed string is a uvarint
// of length<<1|hex and, when hex is 1, the bytes that lowercase hex of even
// length (a fingerprint, a commit) decodes to, else the string's bytes.
const scanFormat = 1

var statusCodes = []drift.Status{drift.StatusClean, drift.StatusDrifted, drift.StatusError}

// encodeScan returns sc's row; ID and Workspace are the row's key and
// bucket.
func encodeScan(sc Scan) []byte {
	b := make([]byte, 0, 48+len(sc.TerraformVersion)+len(sc.Error)+len(sc.Fingerprint)+len(sc.Commit))
	b = append(b, scanFormat)
	b = binary.AppendVarint(b, sc.StartedAt.Unix())
	b = binary.AppendUvarint(b, uint64(sc.StartedAt.Nanosecond()))
	b = binary.AppendVarint(b, int64(sc.Duration))
	code := 0
	for i, s := range statusCodes {
		if s == sc.Status {
			code = i + 1
		}
	}
	b = append(b, byte(code))
	if code == 0 {
		b = appendString(b, string(sc.Status))
	}
	b = binary.AppendUvarint(b, uint64(max(sc.Drifted, 0)))
	b = binary.AppendUvarint(b, uint64(max(sc.Pending, 0)))
	b = appendPacked(b, sc.Fingerprint)
	b = appendPacked(b, sc.Commit)
	b = appendString(b, sc.TerraformVersion)
	return appendString(b, sc.Error)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendPacked(b []byte, s string) []byte {
	if !isLowerHex(s) {
		return append(binary.AppendUvarint(b, uint64(len(s))<<1), s...)
	}
	b = binary.AppendUvarint(b, uint64(len(s))<<1|1)
	b, _ = hex.AppendDecode(b, []byte(s)) // isLowerHex checked it
	return b
}

// isLowerHex says whether s is what hex.EncodeToString makes, and not
// empty: only such strings decode and encode back to themselves.
func isLowerHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var errShortRow = errors.New("row ends early")

// rowReader reads a binary row; the first error sticks.
type rowReader struct {
	b   []byte
	err error
}

// next reads one varint-encoded number with read.
func next[T uint64 | int64](r *rowReader, read func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := read(r.b)
	if n <= 0 {
		r.err = errShortRow
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rowReader) uvarint() uint64 { return next(r, binary.Uvarint) }

func (r *rowReader) varint() int64 { return next(r, binary.Varint) }

func (r *rowReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShortRow
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *rowReader) bytes(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errShortRow
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *rowReader) string() string { return string(r.bytes(r.uvarint())) }

func (r *rowReader) packed() string {
	h := r.uvarint()
	if h&1 == 0 {
		return string(r.bytes(h >> 1))
	}
	return hex.EncodeToString(r.bytes((h >> 1) / 2))
}

func (r *rowReader) int() int {
	v := r.uvarint()
	if v > math.MaxInt32 {
		r.err = fmt.Errorf("count %d out of range", v)
	}
	return int(v)
}

// decodeScan reads the row stored under key in workspace's history, in
// either form.
func decodeScan(workspace string, key, v []byte) (Scan, error) {
	var sc Scan
	if len(v) > 0 && v[0] == '{' {
		if err := json.Unmarshal(v, &sc); err != nil {
			return Scan{}, fmt.Errorf("decode scan %d: %w", binary.BigEndian.Uint64(key), err)
		}
		return sc, nil
	}
	sc.ID, sc.Workspace = binary.BigEndian.Uint64(key), workspace
	r := rowReader{b: v}
	if f := r.byte(); r.err == nil && f != scanFormat {
		return Scan{}, fmt.Errorf("decode scan %d: unknown row format %d", sc.ID, f)
	}
	sc.StartedAt = startedAt(&r)
	sc.Duration = time.Duration(r.varint())
	switch code := int(r.byte()); {
	case code == 0:
		sc.Status = drift.Status(r.string())
	case code <= len(statusCodes):
		sc.Status = statusCodes[code-1]
	default:
		r.err = fmt.Errorf("unknown status code %d", code)
	}
	sc.Drifted, sc.Pending = r.int(), r.int()
	sc.Fingerprint, sc.Commit = r.packed(), r.packed()
	sc.TerraformVersion, sc.Error = r.string(), r.string()
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d bytes after the row", len(r.b))
	}
	if r.err != nil {
		return Scan{}, fmt.Errorf("decode scan %d: %w", sc.ID, r.err)
	}
	return sc, nil
}

// Unix seconds of the years time.Time's zero value and RFC 3339 span.
const (
	minUnix = -62135596800 // 0001-01-01
	maxUnix = 253402300799 // 9999-12-31 23:59:59
)

func startedAt(r *rowReader) time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if r.err == nil && (sec < minUnix || sec > maxUnix || nsec >= uint64(time.Second)) {
		r.err = fmt.Errorf("start time %d.%09d out of range", sec, nsec)
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// scanStart reads only when a row's scan started, for retention.
func scanStart(key, v []byte) (time.Time, error) {
	if len(v) > 0 && v[0] == '{' {
		var sc struct {
			StartedAt time.Time `json:"started_at"`
		}
		if err := json.Unmarshal(v, &sc); err != nil {
			return time.Time{}, fmt.Errorf("decode scan %d: %w", binary.BigEndian.Uint64(key), err)
		}
		return sc.StartedAt, nil
	}
	r := rowReader{b: v}
	if f := r.byte(); r.err == nil && f != scanFormat {
		return time.Time{}, fmt.Errorf("decode scan %d: unknown row format %d", binary.BigEndian.Uint64(key), f)
	}
	t := startedAt(&r)
	if r.err != nil {
		return time.Time{}, fmt.Errorf("decode scan %d: %w", binary.BigEndian.Uint64(key), r.err)
	}
	return t, nil
}
