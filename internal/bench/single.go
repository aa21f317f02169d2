package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/driftd/driftd/drift/runner"
	"github.com/driftd/driftd/internal/testbed"
)

// SingleBench scans one large workspace by itself with `--concurrency 1`
// and with `--concurrency N`. driftd sizes each scan's GOMAXPROCS by the
// scans actually running, so with one workspace the larger concurrency
// should cost nothing. A third contender pins GOMAXPROCS in the
// workspace's env to cores / N, what sizing by the concurrency gave, to
// show what that cost.
type SingleBench struct {
	Env         *testbed.Env
	Driftd      string
	Resources   int
	Concurrency int
	Latency     time.Duration
	Repeats     int
	Dir         string
	Logger      *slog.Logger
}

// SingleResult is what single.json holds. Ratios are of the medians, over
// `--concurrency 1`'s.
type SingleResult struct {
	Resources   int           `json:"resources"`
	Latency     time.Duration `json:"read_latency_ns"`
	Concurrency int           `json:"concurrency"`
	Cores       int           `json:"cores"`
	Repeats     int           `json:"repeats"`
	One         Sample        `json:"concurrency_1"`
	Many        Sample        `json:"concurrency_n"`
	// Pinned is `--concurrency N` with GOMAXPROCS=PinnedProcs in the
	// workspace's env.
	Pinned         Sample  `json:"concurrency_n_pinned"`
	PinnedProcs    int     `json:"pinned_gomaxprocs"`
	Ratio          float64 `json:"ratio"`
	RatioCPU       float64 `json:"ratio_cpu"`
	PinnedRatio    float64 `json:"pinned_ratio"`
	PinnedRatioCPU float64 `json:"pinned_ratio_cpu"`
}

// Measure applies the workspace, drifts one object, warms a cache per
// contender with one unmeasured scan, then interleaves the contenders'
// warm scans Repeats times: each runs one `terraform plan` and nothing
// else, so the difference is the plan's.
func (b *SingleBench) Measure(ctx context.Context) (*SingleResult, error) {
	const name = "single"
	b.Logger.Info("one workspace: applying", "resources", b.Resources)
	ws, err := b.Env.NewWorkspace(name, fmt.Sprintf(workspaceTF, b.Resources, name))
	if err != nil {
		return nil, err
	}
	if _, err := ws.Run(ctx, "init", "-input=false", "-no-color"); err != nil {
		return nil, err
	}
	// Wider than the default 10: only the setup is faster for it.
	if _, err := ws.Run(ctx, "apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=32"); err != nil {
		return nil, err
	}
	if err := b.Env.SetAttribute(name+"-r0", "tags.env", "changed-by-hand"); err != nil {
		return nil, err
	}
	cores := runtime.GOMAXPROCS(0)
	res := &SingleResult{Resources: b.Resources, Latency: b.Latency, Concurrency: b.Concurrency, Cores: cores,
		Repeats: b.Repeats, PinnedProcs: runner.ProcsFor(cores, b.Concurrency)}
	type contender struct {
		s                *Sample
		n                int
		cfg, cache, work string
	}
	var cs []contender
	for i, c := range []struct {
		s   *Sample
		n   int
		env map[string]string
	}{
		{&res.One, 1, nil},
		{&res.Many, b.Concurrency, nil},
		{&res.Pinned, b.Concurrency, map[string]string{"GOMAXPROCS": strconv.Itoa(res.PinnedProcs)}},
	} {
		dir := filepath.Join(b.Dir, "contender"+strconv.Itoa(i))
		con := contender{s: c.s, n: c.n, cfg: filepath.Join(dir, "workspaces.yaml"), cache: filepath.Join(dir, "cache"), work: filepath.Join(dir, "work")}
		for _, d := range []string{con.cache, con.work} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
		}
		if err := WriteConfig(con.cfg, b.Env, []string{name}, func(string) string { return ws.Dir }, b.Latency, "", c.env); err != nil {
			return nil, err
		}
		cs = append(cs, con)
	}
	scan := func(c contender) (Usage, error) {
		m, err := scanConfig(ctx, b.Driftd, c.cfg, c.n, c.cache, c.work, map[string]bool{name: true}, []string{name})
		if err == nil && !m.Correct {
			err = fmt.Errorf("bench: driftd scan --concurrency %d gave a wrong answer: %s", c.n, m.Problem)
		}
		return m.Usage, err
	}
	for _, c := range cs {
		if _, err := scan(c); err != nil {
			return nil, err
		}
	}
	for i := range b.Repeats {
		b.Logger.Info("one workspace: scans", "round", i+1, "of", b.Repeats)
		for _, c := range cs {
			u, err := scan(c)
			if err != nil {
				return nil, err
			}
			c.s.add(u)
		}
	}
	res.Ratio, res.RatioCPU = ratio(res.Many.Median, res.One.Median), ratio(res.Many.CPUMedian, res.One.CPUMedian)
	res.PinnedRatio, res.PinnedRatioCPU = ratio(res.Pinned.Median, res.One.Median), ratio(res.Pinned.CPUMedian, res.One.CPUMedian)
	return res, nil
}

func (s *SingleResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nOne workspace of %d resources, %s read latency, %d cores: warm driftd scans, medians of %d interleaved runs\n",
		s.Resources, s.Latency, s.Cores, s.Repeats)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\twall\tCPU\twall ratio\tCPU ratio\tload1 (range)\t")
	for _, row := range []struct {
		name       string
		s          Sample
		wall, cpus float64
	}{
		{"--concurrency 1", s.One, 1, 1},
		{fmt.Sprintf("--concurrency %d", s.Concurrency), s.Many, s.Ratio, s.RatioCPU},
		{fmt.Sprintf("--concurrency %d, GOMAXPROCS=%d (sized by the concurrency)", s.Concurrency, s.PinnedProcs), s.Pinned, s.PinnedRatio, s.PinnedRatioCPU},
	} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.2f\t%s\t\n", row.name, secs(row.s.Median), secs(row.s.CPUMedian), row.wall, row.cpus, loadRange(row.s.Load1))
	}
	tw.Flush()
}
