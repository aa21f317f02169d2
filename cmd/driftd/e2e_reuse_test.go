package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/drift"
)

// TestScanReusesReportOfSamePlan: a second scan of unchanged drift makes
// the same plan, skips `terraform show -json` and reuses the first report,
// which the cache holds without the secret; new drift gives a new report.
func TestScanReusesReportOfSamePlan(t *testing.T) {
	const secret, rotated = "hunter2-never-persisted", "rotated-never-persisted"
	f := newFleet(t)
	f.add(t, "reuse", `
resource "testbed_object" "web" {
  name    = "reuse-web"
  content = "v1"
  secret  = "`+secret+`"
  tags    = { env = "prod" }
}
`, true)
	must(t, f.env.SetAttribute("reuse-web", "tags.env", "staging"))
	must(t, f.env.SetAttribute("reuse-web", "secret", rotated))
	cfg := f.writeConfig(t)
	env := cliEnv(t)

	scan := func() (*drift.Report, string) {
		t.Helper()
		res := runCLI(t, env, "scan", "--config", cfg, "--output", "json", "--log-format", "json", "--log-level", "info")
		if res.code != exitDrift {
			t.Fatalf("exit %d, want %d\nstderr: %s", res.code, exitDrift, res.stderr)
		}
		r := byWorkspace(decodeDoc(t, res.stdout))["reuse"]
		if r == nil {
			t.Fatalf("no report:\n%s", res.stdout)
		}
		return r, res.stderr
	}
	perScan := func(r drift.Report) drift.Report {
		r.ScanID, r.StartedAt, r.Duration = "", time.Time{}, 0
		return r
	}

	first, log := scan()
	if !strings.Contains(log, `"report_reused":false`) {
		t.Errorf("first scan: no report_reused=false in the log:\n%s", log)
	}
	second, log := scan()
	if !strings.Contains(log, `"report_reused":true`) {
		t.Errorf("second scan of the same drift: no report_reused=true in the log:\n%s", log)
	}
	if a, b := jsonString(t, perScan(*first)), jsonString(t, perScan(*second)); a != b {
		t.Errorf("reused report differs:\nfirst:  %s\nsecond: %s", a, b)
	}
	if second.ScanID == first.ScanID || !second.StartedAt.After(first.StartedAt) {
		t.Errorf("reused report keeps the first scan's id %q or start %v", second.ScanID, second.StartedAt)
	}

	var cacheDir string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "DRIFTD_CACHE_DIR="); ok {
			cacheDir = v
		}
	}
	cached := 0
	err := filepath.WalkDir(filepath.Join(cacheDir, "reports"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		cached++
		b, err := os.ReadFile(p)
		for _, s := range []string{secret, rotated} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return err
	})
	if err != nil || cached != 1 {
		t.Fatalf("report cache: %d files, err %v; want 1", cached, err)
	}

	must(t, f.env.SetAttribute("reuse-web", "content", "edited"))
	third, log := scan()
	if !strings.Contains(log, `"report_reused":false`) {
		t.Errorf("scan of new drift: no report_reused=false in the log:\n%s", log)
	}
	if third.Fingerprint == first.Fingerprint {
		t.Errorf("new drift has the old fingerprint: %+v", third.Drift)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
