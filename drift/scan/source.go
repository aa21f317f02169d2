package scan

import (
	"net/url"
	"strings"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/config"
)

// sourceOf says where a workspace's code lives, as a report shows it.
func sourceOf(ws config.Workspace) *drift.Source {
	if g := ws.Git; g != nil {
		return &drift.Source{Repo: cleanURL(g.URL), Path: g.Path, Ref: g.Ref}
	}
	if ws.Dir != "" {
		return &drift.Source{Dir: ws.Dir}
	}
	return nil
}

// cleanURL is a git URL fit to show anywhere: without user information
// (a token in it is a secret), query or fragment.
func cleanURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		return u.String()
	}
	// scp-like user@host:path: the user stays unless a password follows it.
	if at := strings.LastIndexByte(raw, '@'); at >= 0 && strings.Contains(raw[:at], ":") {
		return raw[at+1:]
	}
	return raw
}
