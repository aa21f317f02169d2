package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Results is everything one run of the harness measured; parts not run
// are nil.
type Results struct {
	// Fleet holds one result per round (-rounds).
	Fleet []*FleetResult `json:"fleet,omitempty"`
	Check *CheckResult   `json:"check,omitempty"`
	Large *LargeResult   `json:"large_plan,omitempty"`
	Idle  *IdleResult    `json:"idle,omitempty"`
}

// Target is one of issue 5's targets and whether this run met it.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	// Strict targets need Value < Limit, others Value <= Limit.
	Strict bool   `json:"strict,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Met    bool   `json:"met"`
}

// Targets evaluates issue 5's targets against what was measured. A driftd
// run that gave a wrong answer misses every target it takes part in.
func (r *Results) Targets() []Target {
	var ts []Target
	add := func(name string, v, limit float64, strict bool, unit string, correct bool) {
		met := v <= limit
		if strict {
			met = v < limit
		}
		ts = append(ts, Target{Name: name, Value: v, Limit: limit, Strict: strict, Unit: unit, Met: met && correct})
	}
	if len(r.Fleet) > 0 {
		// Each ratio is taken within a round, where the contenders ran
		// minutes apart, and the median over rounds is judged: the machine's
		// load moves whole rounds more than it moves ratios.
		var coldSeq, coldIdeal, warmSeq []float64
		coldOK, warmOK := true, true
		for _, f := range r.Fleet {
			seq, cold, warm := f.Run(RunSequential), f.Run(RunDriftdCold), f.Run(RunDriftdWarm)
			if seq == nil || cold == nil || warm == nil {
				continue
			}
			coldSeq = append(coldSeq, ratio(cold.Wall, seq.Wall))
			coldIdeal = append(coldIdeal, ratio(cold.Wall, f.Ideal.Wall))
			warmSeq = append(warmSeq, ratio(warm.Wall, seq.Wall))
			coldOK = coldOK && cold.Correct
			warmOK = warmOK && warm.Correct
		}
		if len(coldSeq) > 0 {
			add("fleet: driftd cold / sequential", median(coldSeq), 0.5, false, "×", coldOK)
			add("fleet: driftd cold / ideal", median(coldIdeal), 1.15, false, "×", coldOK)
			add("fleet: driftd warm / sequential", median(warmSeq), 0.35, false, "×", warmOK)
		}
	}
	if c := r.Check; c != nil {
		add("check: driftd / terraform, cold", c.RatioCold, 1.05, false, "×", true)
		add("check: driftd / terraform, warm", c.RatioWarm, 1.0, true, "×", true)
	}
	if l := r.Large; l != nil {
		add("large plan: analysis / terraform show -json", l.Large.Ratio, 0.25, false, "×", true)
		add("large plan: peak heap / JSON size", l.Large.HeapRatio, 3, false, "×", true)
	}
	if i := r.Idle; i != nil {
		add("idle daemon: RSS", float64(i.RSS)/1e6, 60, false, "MB", true)
		// "CPU ≈ 0": one percent of a core is a generous reading of ≈.
		add("idle daemon: CPU", i.CPUPercent, 1, false, "%", true)
	}
	return ts
}

// Print writes every measured part as tables, then the targets.
func (r *Results) Print(w io.Writer) {
	for i, f := range r.Fleet {
		f.print(w, i+1, len(r.Fleet))
	}
	if r.Check != nil {
		r.Check.print(w)
	}
	if r.Large != nil {
		r.Large.print(w)
	}
	if r.Idle != nil {
		r.Idle.print(w)
	}
	fmt.Fprintln(w, "\nTargets (issue 5)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets() {
		op, verdict := "≤", "MET"
		if t.Strict {
			op = "<"
		}
		if !t.Met {
			verdict = "missed"
		}
		fmt.Fprintf(tw, "  %s\t%.2f %s\t%s %.2f %s\t%s\n", t.Name, t.Value, t.Unit, op, t.Limit, t.Unit, verdict)
	}
	tw.Flush()
}

func (f *FleetResult) print(w io.Writer, round, rounds int) {
	if rounds > 1 {
		fmt.Fprintf(w, "\nRound %d of %d", round, rounds)
	}
	fmt.Fprintf(w, "\nFleet: %d workspaces × %d resources, %s read latency, concurrency %d, %d drifted, %d cores\n",
		f.Workspaces, f.Resources, f.Latency, f.Concurrency, len(f.Drifted), f.Ideal.Cores)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall\tCPU\tpeak RSS (any process)\tdriftd RSS\tvs sequential\tvs ideal\tload1\tcorrect\t")
	seq := f.Run(RunSequential)
	for _, m := range f.Runs {
		self := "-"
		if m.SelfRSS > 0 {
			self = mb(m.SelfRSS)
		}
		ok := "yes"
		if !m.Correct {
			ok = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t\n", m.Name, secs(m.Wall), secs(m.CPU), mb(m.MaxRSS), self,
			ratio(m.Wall, seq.Wall), ratio(m.Wall, f.Ideal.Wall), m.Load1, ok)
	}
	id := f.Ideal
	fmt.Fprintf(tw, "ideal bound\t%s\t\t\t\t%.2f\t1.00\t\t\t\n", secs(id.Wall), ratio(id.Wall, seq.Wall))
	tw.Flush()
	fmt.Fprintf(w, "ideal = max(Σwall/%d = %s, ΣCPU/%d cores = %s, longest = %s), per-workspace figures from the sequential loop\n",
		f.Concurrency, secs(id.ByWall), id.Cores, secs(id.ByCPU), secs(id.Longest))
	if len(f.Phases) > 0 && f.Workspaces > 0 {
		fmt.Fprint(w, "bare terraform per workspace (mean of the sequential loop):")
		for _, p := range f.Phases {
			n := time.Duration(f.Workspaces)
			fmt.Fprintf(w, " %s %s wall / %s CPU;", p.Name, secs(p.Wall/n), secs(p.CPU/n))
		}
		fmt.Fprintln(w)
	}
	for _, m := range f.Runs {
		if !m.Correct {
			fmt.Fprintf(w, "WRONG ANSWER from %s: %s\n", m.Name, m.Problem)
		}
		if m.ChildRSS > 0 {
			fmt.Fprintf(w, "%s: largest child process peak RSS %s\n", m.Name, mb(m.ChildRSS))
		}
	}
}

func (c *CheckResult) print(w io.Writer) {
	fmt.Fprintf(w, "\ncheck overhead: one workspace, medians of %d interleaved runs\n", c.Repeats)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tdriftd check\tterraform init+plan+show\tratio\tload1 (range)\t")
	fmt.Fprintf(tw, "cold\t%s\t%s\t%.2f\t%s\t\n", secs(c.DriftdCold.Median), secs(c.BareCold.Median), c.RatioCold, loadRange(c.DriftdCold.Load1, c.BareCold.Load1))
	fmt.Fprintf(tw, "warm\t%s\t%s\t%.2f\t%s\t\n", secs(c.DriftdWarm.Median), secs(c.BareWarm.Median), c.RatioWarm, loadRange(c.DriftdWarm.Load1, c.BareWarm.Load1))
	tw.Flush()
}

func (l *LargeResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nLarge plan: real %d resources (%s JSON), synthesised %d resources (%s JSON), medians of %d\n",
		l.Real.Resources, mb(int64(l.Real.JSONBytes)), l.Large.Resources, mb(int64(l.Large.JSONBytes)), len(l.Large.Analysis.Runs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\ttime\tpeak heap\theap / JSON\t")
	fmt.Fprintf(tw, "real: terraform show -json\t%s\t\t\t\n", secs(l.Real.Show.Median))
	fmt.Fprintf(tw, "real: driftd ReadPlan+Analyze\t%s\t%s\t%.2f\t\n", secs(l.Real.Analysis.Median), mb(int64(l.Real.Analysis.PeakHeap)), float64(l.Real.Analysis.PeakHeap)/float64(l.Real.JSONBytes))
	fmt.Fprintf(tw, "tiny: terraform show -json\t%s\t\t\t\n", secs(l.Tiny.Show.Median))
	fmt.Fprintf(tw, "large: terraform show -json (extrapolated)\t%s\t\t\t\n", secs(l.Large.ShowEstimate))
	for _, row := range []struct {
		name string
		c    ParseCost
	}{
		{"large: json.Unmarshal into tfjson.Plan", l.Large.Plain},
		{"large: full decode as terraform-exec's ShowPlanFile", l.Large.FullDecode},
		{"large: driftd ReadPlan", l.Large.Decode},
		{"large: driftd ReadPlan+Analyze", l.Large.Analysis},
	} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t\n", row.name, secs(row.c.Median), mb(int64(row.c.PeakHeap)), float64(row.c.PeakHeap)/float64(l.Large.JSONBytes))
	}
	tw.Flush()
	fmt.Fprintf(w, "ratio analysis / show: real %.2f, large %.2f (show time extrapolated linearly in bytes through the tiny and the real plan)\n", l.Real.Ratio, l.Large.Ratio)
	fmt.Fprintf(w, "peak heap / JSON of ReadPlan+Analyze: %.2f above the JSON buffer, %.2f with it\n", l.Large.HeapRatio, l.Large.HeapRatio+1)
}

func (i *IdleResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nIdle daemon: %d workspaces, sampled %s: RSS %s (max %s), CPU %.2f%% of a core, ready in %s, load1 %.2f\n",
		i.Workspaces, i.Window, mb(i.RSS), mb(i.MaxRSS), i.CPUPercent, secs(i.Startup), i.Load1)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func loadRange(ls ...[]float64) string {
	lo, hi := -1.0, -1.0
	for _, l := range ls {
		for _, v := range l {
			if lo < 0 || v < lo {
				lo = v
			}
			hi = max(hi, v)
		}
	}
	return strings.TrimSpace(fmt.Sprintf("%.2f–%.2f", lo, hi))
}
