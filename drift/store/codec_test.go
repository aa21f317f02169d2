package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
)

var codecCases = []Scan{
	{},
	{StartedAt: time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), Duration: 41200 * time.Millisecond, Status: drift.StatusClean,
		Commit: "9f2c4e1a7b3d5f60812ab4c9d0e1f2a3b4c5d6e7", TerraformVersion: "1.11.4"},
	{StartedAt: time.Date(2026, 3, 1, 2, 0, 0, 123456789, time.UTC), Status: drift.StatusDrifted, Drifted: 3, Pending: 1,
		Fingerprint: "3b1f00aa9c2d4e5f"},
	{StartedAt: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), Status: drift.StatusError,
		Error: strings.Repeat("é", 512), Commit: "abc"},
	// Strings that are not lowercase hex of even length stay as they are.
	{Status: "paused", Fingerprint: "sha256:feed", Commit: "ABCDEF01"},
	{Status: drift.StatusClean, Fingerprint: "0", Commit: "0g"},
	{Status: drift.StatusDrifted, Drifted: 1 << 30, Pending: 70000, Duration: 1<<63 - 1},
}

func TestScanCodecRoundTrip(t *testing.T) {
	t.Parallel()
	for i, want := range codecCases {
		want.ID, want.Workspace = uint64(i+1), "prod"
		got, err := decodeScan("prod", idKey(want.ID), encodeScan(want))
		if err != nil {
			t.Errorf("case %d: %v", i, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("case %d:\n got %+v\nwant %+v", i, got, want)
		}
		started, err := scanStart(idKey(want.ID), encodeScan(want))
		if err != nil || !started.Equal(want.StartedAt) {
			t.Errorf("case %d: scanStart = %v, %v; want %v", i, started, err, want.StartedAt)
		}
	}
}

// The rows of a fleet's history are what fills the file: a clean scan of a
// workspace kept in git takes a tenth of its JSON.
func TestScanRowSize(t *testing.T) {
	t.Parallel()
	sc := Scan{
		ID: 10_000_000, Workspace: "payments-prod-eu-west-1", StartedAt: time.Now(), Duration: 41 * time.Second,
		Status: drift.StatusClean, Commit: "9f2c4e1a7b3d5f60812ab4c9d0e1f2a3b4c5d6e7", TerraformVersion: "1.11.4",
	}
	js, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(encodeScan(sc)); n > 52 {
		t.Errorf("clean scan row: %d bytes, want at most 52 (JSON: %d)", n, len(js))
	}
	sc.Status, sc.Drifted, sc.Fingerprint = drift.StatusDrifted, 4, "3b1f00aa9c2d4e5f"
	if n := len(encodeScan(sc)); n > 60 {
		t.Errorf("drifted scan row: %d bytes, want at most 60", n)
	}
}

func TestDecodeScanRejectsDamage(t *testing.T) {
	t.Parallel()
	row := encodeScan(codecCases[1])
	for n := range len(row) {
		if _, err := decodeScan("prod", idKey(1), row[:n]); err == nil {
			t.Errorf("a row cut to %d of %d bytes decoded", n, len(row))
		}
	}
	for name, v := range map[string][]byte{
		"format":   append([]byte{9}, row[1:]...),
		"trailing": append(row[:len(row):len(row)], 0),
		"json":     []byte(`{"id":`),
		"status":   {scanFormat, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0},
		"nanos":    {scanFormat, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 1, 0, 0, 0, 0, 0, 0},
		"year":     {scanFormat, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 1, 0, 0, 0, 0, 0, 0},
	} {
		_, err := decodeScan("prod", idKey(5), v)
		if err == nil || !strings.Contains(err.Error(), "decode scan 5") {
			t.Errorf("%s: error %v, want one naming scan 5", name, err)
		}
	}
}

func FuzzDecodeScan(f *testing.F) {
	for _, sc := range codecCases {
		f.Add(encodeScan(sc))
	}
	f.Add([]byte(`{"id":7,"workspace":"prod","status":"clean"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		sc, err := decodeScan("ws", idKey(3), v)
		if err != nil || (len(v) > 0 && v[0] == '{') {
			return
		}
		// What decodes encodes back to a row that decodes the same.
		again, err := decodeScan("ws", idKey(3), encodeScan(sc))
		if err != nil {
			t.Fatalf("re-encoded row of %+v: %v", sc, err)
		}
		if !reflect.DeepEqual(again, sc) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, sc)
		}
	})
}
