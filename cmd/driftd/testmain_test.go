package main

import (
	"os"
	"testing"

	"github.com/driftd/driftd/drift/runner"
)

func TestMain(m *testing.M) {
	// Scans run in this process start this test binary as their guard.
	runner.RunGuard()
	os.Exit(m.Run())
}
