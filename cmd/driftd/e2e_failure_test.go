package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/driftd/driftd/drift"
)

// TestOneWorkspaceFailureIsItsOwn: a syntax error, a failing provider and a
// hang each become that workspace's error report, while the others in the
// same scan finish correctly, and no terraform or provider process outlives
// the scan.
func TestOneWorkspaceFailureIsItsOwn(t *testing.T) {
	f := newFleet(t)
	f.add(t, "good", fmt.Sprintf(webTF, "good"), true)
	f.add(t, "gooddrift", fmt.Sprintf(webTF, "gooddrift"), true)
	must(t, f.env.SetAttribute("gooddrift-web", "content", "edited"))

	f.add(t, "syntax", "resource \"testbed_object\" \"x\" {\n  name = \n}\n", false)

	failing := f.add(t, "provfail", fmt.Sprintf(webTF, "provfail"), true)
	must(t, failing.SetMainTF("provider \"testbed\" {\n  fail = \"read\"\n}\n"+fmt.Sprintf(webTF, "provfail")))

	hanging := f.add(t, "hang", fmt.Sprintf(webTF, "hang"), true)
	must(t, hanging.SetMainTF("provider \"testbed\" {\n  read_latency = \"1h\"\n}\n"+fmt.Sprintf(webTF, "hang")))
	f.extra["hang"] = "    timeout: 4s\n"

	cfg := f.writeConfig(t)
	res := runCLI(t, cliEnv(t), "scan", "--config", cfg, "--output", "json", "--concurrency", "5")
	if res.code != exitError {
		t.Fatalf("exit %d, want 1 (errors present)\n%s", res.code, res.stderr)
	}
	reports := byWorkspace(decodeDoc(t, res.stdout))
	want := map[string]struct {
		status drift.Status
		errHas string
	}{
		"good":      {drift.StatusClean, ""},
		"gooddrift": {drift.StatusDrifted, ""},
		"syntax":    {drift.StatusError, "Error: Invalid expression"},
		"provfail":  {drift.StatusError, "testbed: simulated provider failure"},
		"hang":      {drift.StatusError, "timed out"},
	}
	for name, w := range want {
		r := reports[name]
		if r == nil {
			t.Errorf("%s: no report", name)
			continue
		}
		if r.Status != w.status || !strings.Contains(r.Error, w.errHas) {
			t.Errorf("%s: status %s error %q; want %s with %q", name, r.Status, r.Error, w.status, w.errHas)
		}
	}
	if left := processesWith("TESTBED_ROOT=" + f.env.Root); len(left) > 0 {
		t.Errorf("processes outlived the scan: %v", left)
	}
}

// processesWith lists the pids whose environment holds entry.
func processesWith(entry string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == entry {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
