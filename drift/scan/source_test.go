package scan

import (
	"strings"
	"testing"

	"github.com/driftd/driftd/drift/config"
)

func TestSourceOf(t *testing.T) {
	tests := []struct {
		ws   config.Workspace
		want string // Repo or Dir
	}{
		{config.Workspace{Dir: "/srv/infra/network"}, "/srv/infra/network"},
		{config.Workspace{Git: &config.GitSource{URL: "https://github.com/acme/infra.git"}}, "https://github.com/acme/infra.git"},
		{config.Workspace{Git: &config.GitSource{URL: "https://x-access-token:ghp_s3cr3t@github.com/acme/infra.git?token=s3cr3t#frag"}}, "https://github.com/acme/infra.git"},
		{config.Workspace{Git: &config.GitSource{URL: "git@github.com:acme/infra.git"}}, "git@github.com:acme/infra.git"},
		{config.Workspace{Git: &config.GitSource{URL: "deploy:s3cr3t@github.com:acme/infra.git"}}, "github.com:acme/infra.git"},
		{config.Workspace{Git: &config.GitSource{URL: "file:///srv/git/infra"}}, "file:///srv/git/infra"},
	}
	for _, tt := range tests {
		s := sourceOf(tt.ws)
		got := s.Dir + s.Repo
		if got != tt.want || strings.Contains(got, "s3cr3t") {
			t.Errorf("sourceOf(%+v) = %+v, want %s", tt.ws, s, tt.want)
		}
	}
	if s := sourceOf(config.Workspace{Git: &config.GitSource{URL: "https://h/r", Path: "net", Ref: "main"}}); s.Path != "net" || s.Ref != "main" {
		t.Errorf("path and ref not kept: %+v", s)
	}
}
