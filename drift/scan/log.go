package scan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

type idKey struct{}

type ids struct{ workspace, scanID string }

// WithID marks ctx as belonging to one scan of one workspace, so that every
// line logged with it through LogHandler says which.
func WithID(ctx context.Context, workspace, scanID string) context.Context {
	return context.WithValue(ctx, idKey{}, ids{workspace, scanID})
}

// IDFrom returns the scan ctx belongs to, if any.
func IDFrom(ctx context.Context) (workspace, scanID string, ok bool) {
	v, ok := ctx.Value(idKey{}).(ids)
	return v.workspace, v.scanID, ok
}

// NewID returns a fresh scan id.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// LogHandler adds the workspace and scan id of the context to every record
// logged with one (InfoContext and friends), unless the record or the
// logger already carries them.
func LogHandler(next slog.Handler) slog.Handler { return &logHandler{next: next} }

type logHandler struct {
	next slog.Handler
	// has holds the keys given through WithAttrs, which records do not show.
	hasWorkspace, hasScanID bool
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if v, ok := ctx.Value(idKey{}).(ids); ok && !(h.hasWorkspace && h.hasScanID) {
		hasWorkspace, hasScanID := h.hasWorkspace, h.hasScanID
		r.Attrs(func(a slog.Attr) bool {
			hasWorkspace = hasWorkspace || a.Key == "workspace"
			hasScanID = hasScanID || a.Key == "scan_id"
			return true
		})
		if !hasWorkspace && v.workspace != "" {
			r.AddAttrs(slog.String("workspace", v.workspace))
		}
		if !hasScanID && v.scanID != "" {
			r.AddAttrs(slog.String("scan_id", v.scanID))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		c.hasWorkspace = c.hasWorkspace || a.Key == "workspace"
		c.hasScanID = c.hasScanID || a.Key == "scan_id"
	}
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
