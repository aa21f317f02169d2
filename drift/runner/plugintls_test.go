package runner

import (
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/workdir"
)

func TestPluginSocketDir(t *testing.T) {
	base := "/tmp/driftd-0/0123456789abcdef01234567"
	// fits+"/tmp" is exactly maxSocketDir long.
	fits := "/" + strings.Repeat("d", maxSocketDir-len("/")-len("/tmp"))
	tests := []struct {
		name string
		goos string
		base string
		spec Spec
		want string // "" keeps Terraform's TLS
	}{
		{"default", "linux", base, Spec{}, base + "/tmp"},
		{"darwin", "darwin", base, Spec{}, base + "/tmp"},
		{"windows uses TCP", "windows", base, Spec{}, ""},
		{"plugin_tls", "linux", base, Spec{PluginTLS: true}, ""},
		{"workspace sets TMPDIR", "linux", base, Spec{Spec: workdir.Spec{Env: map[string]string{"TMPDIR": "/scratch"}}}, ""},
		{"other env", "linux", base, Spec{Spec: workdir.Spec{Env: map[string]string{"TZ": "UTC"}}}, base + "/tmp"},
		{"longest path that fits", "linux", fits, Spec{}, fits + "/tmp"},
		{"path too long for a socket", "linux", fits + "d", Spec{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pluginSocketDir(tt.goos, tt.base, tt.spec)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("pluginSocketDir = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
