package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildOf(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "v0.0.0-20261125-abcdef"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abcdef0123"}, {Key: "vcs.time", Value: "2026-11-25T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	tests := []struct {
		name   string
		linked build
		info   *debug.BuildInfo
		want   []string
	}{
		{"ldflags win", build{version: "v1.2.3", commit: "0123456", date: "2026-11-01T00:00:00Z"}, vcs,
			[]string{"driftd v1.2.3\n", "commit: 0123456\n", "date:   2026-11-01T00:00:00Z\n", "go:     go1.27.3 "}},
		{"vcs settings", build{}, vcs,
			[]string{"driftd v0.0.0-20261125-abcdef\n", "commit: abcdef0123 (with uncommitted changes)\n", "date:   2026-11-25T10:00:00Z\n"}},
		{"go install", build{}, &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, []string{"driftd v1.4.0\n", "commit: unknown\n"}},
		{"nothing known", build{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, []string{"driftd dev\n", "commit: unknown\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			buildOf(tt.linked, tt.info, true).write(&b)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("version output lacks %q:\n%s", w, b.String())
				}
			}
			if !strings.HasPrefix(b.String(), tt.want[0]) {
				t.Errorf("first line is not %q:\n%s", tt.want[0], b.String())
			}
		})
	}
}
