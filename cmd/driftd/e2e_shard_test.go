package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/driftd/driftd/drift/shard"
	"github.com/driftd/driftd/reporters/github/githubtest"
	"github.com/driftd/driftd/reporters/slack/slacktest"
)

// TestShardsSideBySide: three `driftd scan` processes, one per shard, run
// at once on the same config against the same fake GitHub and Slack: each
// scans only its own workspaces, together all of them once, and GitHub ends
// with exactly one issue per drifted workspace, again after a second round
// (shards from the Indexed Job's environment this time). Each shard's Slack
// digest names its shard.
func TestShardsSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("shard processes end to end")
	}
	const n = 3
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	sl := slacktest.NewServer(t, "xoxb-fake-slack-token-456")
	f := newFleet(t)
	all := []string{"net", "app", "dns", "db", "mail", "iam"}
	drifted := []string{"net", "app", "dns", "mail"}
	for _, name := range all {
		f.add(t, name, fmt.Sprintf(webTF, name), true)
	}
	for i := range n {
		if len(shard.Filter(shard.Shard{Index: i, Count: n}, drifted, func(s string) string { return s })) == 0 {
			t.Fatalf("shard %d/%d owns no drifted workspace: pick other names", i, n)
		}
	}
	cfg := f.writeConfig(t)
	appendFile(t, cfg, reportersYAML(gh, "    digest: true\n"))
	for _, name := range drifted {
		must(t, f.env.SetAttribute(name+"-web", "tags.env", "staging"))
	}
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token, "DRIFTD_TEST_SLACK_URL="+sl.WebhookURL())
	bin := driftdBinary(t)

	type out struct {
		code           int
		stdout, stderr string
	}
	round := func(how func(i int) ([]string, []string)) []out {
		t.Helper()
		outs := make([]out, n)
		var wg sync.WaitGroup
		for i := range n {
			args, extraEnv := how(i)
			cmd := exec.Command(bin, append([]string{"scan", "--config", cfg, "--output", "json", "--log-level", "info"}, args...)...)
			cmd.Env = append(slices.Clone(env), extraEnv...)
			var so, se bytes.Buffer
			cmd.Stdout, cmd.Stderr = &so, &se
			must(t, cmd.Start())
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := cmd.Wait()
				outs[i] = out{code: cmd.ProcessState.ExitCode(), stdout: so.String(), stderr: se.String()}
				if err != nil && outs[i].code != exitDrift {
					t.Errorf("shard %d: %v\n%s", i, err, se.String())
				}
			}()
		}
		wg.Wait()
		seen := map[string]int{}
		for i, o := range outs {
			doc := decodeDoc(t, o.stdout)
			s := doc.Summary.Shard
			if s == nil || s.Index != i || s.Count != n || s.Total != len(all) {
				t.Errorf("shard %d: summary shard %+v", i, s)
			}
			for _, r := range doc.Reports {
				seen[r.Workspace]++
				if owner := shard.Of(r.Workspace, n); owner != i {
					t.Errorf("shard %d scanned %s, which shard %d owns", i, r.Workspace, owner)
				}
			}
			if o.code != exitDrift {
				t.Errorf("shard %d: exit %d, want %d (each shard owns drift)\n%s", i, o.code, exitDrift, o.stderr)
			}
			if !strings.Contains(o.stderr, fmt.Sprintf(`"shard":"%d/%d"`, i, n)) {
				t.Errorf("shard %d: logs do not name the shard:\n%s", i, o.stderr)
			}
		}
		for _, name := range all {
			if seen[name] != 1 {
				t.Errorf("%s scanned %d times across the shards, want once", name, seen[name])
			}
		}
		return outs
	}
	issuesPerWorkspace := func() map[string]int {
		m := map[string]int{}
		for _, is := range gh.Issues() {
			for _, name := range all {
				if strings.Contains(is.Body, "driftd:workspace="+name+" ") {
					m[name]++
				}
			}
		}
		return m
	}
	checkIssues := func(when string) {
		t.Helper()
		if got := len(gh.Issues()); got != len(drifted) {
			t.Errorf("%s: %d issues, want %d", when, got, len(drifted))
		}
		per := issuesPerWorkspace()
		for _, name := range drifted {
			if per[name] != 1 {
				t.Errorf("%s: %d issues for %s, want 1", when, per[name], name)
			}
		}
	}

	round(func(i int) ([]string, []string) { return []string{"--shard", fmt.Sprintf("%d/%d", i, n)}, nil })
	checkIssues("first round")
	msgs := sl.Messages()
	if len(msgs) != n {
		t.Errorf("%d Slack digests, want one per shard", len(msgs))
	}
	for i := range n {
		title := fmt.Sprintf("Drift scan (shard %d/%d)", i, n)
		if !slices.ContainsFunc(msgs, func(m slacktest.Message) bool { return strings.Contains(m.BlocksJSON(), title) }) {
			t.Errorf("no digest titled %q", title)
		}
	}

	mutations := gh.Mutations()
	round(func(i int) ([]string, []string) {
		return nil, []string{fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i), fmt.Sprintf("DRIFTD_SHARDS=%d", n)}
	})
	checkIssues("second round")
	if gh.Mutations() != mutations {
		t.Errorf("the same drift again changed GitHub: %d mutations -> %d", mutations, gh.Mutations())
	}
}

// TestShardErrors: a shard that cannot be right is an error before any
// scan, naming where each value came from.
func TestShardErrors(t *testing.T) {
	f := newFleet(t)
	cfg := f.writeConfig(t)
	tests := []struct {
		env  []string
		args []string
		want string
	}{
		{args: []string{"--shard", "3/3"}, want: "--shard shard index 3: want 0 to 2"},
		{args: []string{"--shard", "1/3"}, env: []string{"DRIFTD_SHARD=2/3"}, want: "conflicting shards: --shard 1/3 says 1/3, DRIFTD_SHARD=2/3 says 2/3"},
		{env: []string{"JOB_COMPLETION_INDEX=1"}, want: "JOB_COMPLETION_INDEX=1 is set (an Indexed Job) but DRIFTD_SHARDS is not"},
		{env: []string{"DRIFTD_SHARDS=4", "HOSTNAME=driftd-1"}, want: "DRIFTD_SHARDS=4 needs a shard index"},
	}
	for _, tt := range tests {
		res := runCLI(t, append(cliEnv(t), tt.env...), append([]string{"scan", "--config", cfg}, tt.args...)...)
		if res.code != exitError || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want 1 and %q", tt.env, tt.args, res.code, res.stderr, tt.want)
		}
	}
}

// TestServeOwnsItsShard: driftd serve as pod driftd-1 of a StatefulSet of
// two schedules, shows and triggers only the workspaces of shard 1/2. The
// workspaces are never scanned (yearly schedule), so they need no apply.
func TestServeOwnsItsShard(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon end-to-end")
	}
	gh := githubtest.NewServer(t, "acme", "infra", "ghs_fakeGitHubToken123")
	f := newFleet(t)
	all := []string{"net", "app", "mail", "calm"}
	for _, name := range all {
		f.add(t, name, fmt.Sprintf(webTF, name), false)
	}
	cfg := serveConfig(t, f, gh, "@yearly", "")
	addr := freeAddr(t)
	env := append(cliEnv(t), "DRIFTD_TEST_GH_TOKEN="+gh.Token, "DRIFTD_TEST_TRIGGER="+testTrigger,
		"HOSTNAME=driftd-1", "DRIFTD_SHARDS=2")
	d := startDaemon(t, env, "--config", cfg, "--data-dir", t.TempDir(), "--listen", addr, "--log-format", "json")

	var list struct {
		Workspaces []struct {
			Name string `json:"name"`
		} `json:"workspaces"`
	}
	must(t, json.Unmarshal([]byte(d.get(t, "/api/v1/workspaces")), &list))
	var got []string
	for _, w := range list.Workspaces {
		got = append(got, w.Name)
	}
	want := shard.Filter(shard.Shard{Index: 1, Count: 2}, all, func(s string) string { return s })
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) == 0 || len(want) == len(all) {
		t.Errorf("pod driftd-1 serves %v, want shard 1/2's %v of %v", got, want, all)
	}
	other := shard.Filter(shard.Shard{Index: 0, Count: 2}, all, func(s string) string { return s })[0]
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/workspaces/"+other+"/scan", nil)
	req.Header.Set("Authorization", "Bearer "+testTrigger)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("trigger of %s (shard 0's) on shard 1: %s, want 404", other, resp.Status)
	}
	if !strings.Contains(d.log(), `"shard":"1/2"`) || !strings.Contains(d.log(), "HOSTNAME=driftd-1 (ordinal 1) with DRIFTD_SHARDS=2") {
		t.Errorf("log does not name the shard and where it came from:\n%s", d.log())
	}
}
