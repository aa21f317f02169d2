package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at build time by the Makefile and goreleaser:
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<sha> -X main.date=<RFC 3339>"
//
// date is the commit's time, so that the same commit builds the same
// binary. Unset values come from the Go build info.
var version, commit, date string

// build says what a binary was built from.
type build struct {
	version, commit, date string
	modified              bool
	goVersion, platform   string
}

// buildOf completes the linker's values (linked) from the Go build info:
// a module version for `go install ...@v1.2.3`, VCS settings for a build in
// a git checkout (go build -buildvcs=true, the default there).
func buildOf(linked build, info *debug.BuildInfo, ok bool) build {
	b := linked
	b.platform = runtime.GOOS + "/" + runtime.GOARCH
	if ok {
		b.goVersion = info.GoVersion
		if b.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.version = info.Main.Version
		}
		if b.commit == "" {
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					b.commit = s.Value
				case "vcs.time":
					b.date = s.Value
				case "vcs.modified":
					b.modified = s.Value == "true"
				}
			}
		}
	}
	if b.version == "" {
		b.version = "dev"
	}
	return b
}

func currentBuild() build {
	info, ok := debug.ReadBuildInfo()
	return buildOf(build{version: version, commit: commit, date: date}, info, ok)
}

func buildVersion() string { return currentBuild().version }

// write prints the version first, alone on its line, for scripts.
func (b build) write(w io.Writer) {
	fmt.Fprintf(w, "driftd %s\n", b.version)
	c := b.commit
	if c == "" {
		c = "unknown"
	}
	if b.modified {
		c += " (with uncommitted changes)"
	}
	fmt.Fprintf(w, "commit: %s\n", c)
	if b.date != "" {
		fmt.Fprintf(w, "date:   %s\n", b.date)
	}
	fmt.Fprintf(w, "go:     %s %s\n", b.goVersion, b.platform)
}
