package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogHandlerAddsScanIdentity(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	ctx := WithID(context.Background(), "net", "abc123")

	log.InfoContext(ctx, "from context")
	log.Info("no context")
	log.With("scan_id", "own").InfoContext(ctx, "logger has its own")
	log.InfoContext(ctx, "record has its own", "workspace", "other")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []map[string]any{
		{"workspace": "net", "scan_id": "abc123"},
		{"workspace": nil, "scan_id": nil},
		{"workspace": "net", "scan_id": "own"},
		{"workspace": "other", "scan_id": "abc123"},
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		for k, v := range want[i] {
			if m[k] != v {
				t.Errorf("line %d %s = %v, want %v (%s)", i, k, m[k], v, line)
			}
		}
		if n := strings.Count(line, `"scan_id"`); n > 1 {
			t.Errorf("line %d has scan_id %d times: %s", i, n, line)
		}
	}
}
