package bench

import (
	"cmp"
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
	Fleet  []*FleetResult `json:"fleet,omitempty"`
	Check  *CheckResult   `json:"check,omitempty"`
	Large  *LargeResult   `json:"large_plan,omitempty"`
	Idle   *IdleResult    `json:"idle,omitempty"`
	Single *SingleResult  `json:"single,omitempty"`
	Scale  *ScaleResult   `json:"scale,omitempty"`
}

// Target is one of the targets and whether this run met it.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	// Strict targets need Value < Limit, others Value <= Limit.
	Strict bool   `json:"strict,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Met    bool   `json:"met"`
	// Rounds is how many fleet rounds the value is the median of.
	Rounds int `json:"rounds,omitempty"`
}

// fleetTargets are the fleet's targets, as ratios of wall times: driftd
// against the CI loop, and a warm scan, which runs the floor's plans and
// nothing else, against the floor.
var fleetTargets = []struct {
	name     string
	num, den string
	limit    float64
}{
	{"fleet: driftd cold / sequential", RunDriftdCold, RunSequential, 0.5},
	{"fleet: driftd warm / sequential", RunDriftdWarm, RunSequential, 0.35},
	{"fleet: driftd warm / floor", RunDriftdWarm, RunFloor, 1.15},
}

// Targets evaluates the targets against what was measured. A driftd run
// that failed or gave a wrong answer misses every target it takes part in.
func (r *Results) Targets() []Target {
	var ts []Target
	add := func(name string, v, limit float64, strict bool, unit string, correct bool) {
		met := v <= limit
		if strict {
			met = v < limit
		}
		ts = append(ts, Target{Name: name, Value: v, Limit: limit, Strict: strict, Unit: unit, Met: met && correct})
	}
	// Each ratio is taken within a round, where the contenders ran
	// minutes apart, and the median over rounds is judged: the machine's
	// load moves whole rounds more than it moves ratios. A round whose
	// baseline failed says nothing and is left out.
	for _, ft := range fleetTargets {
		var vals []float64
		right := true
		for _, f := range r.Fleet {
			v, usable, ok := f.Ratio(ft.num, ft.den, false)
			right = right && ok
			if usable {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 && right {
			continue
		}
		var v float64
		if len(vals) > 0 {
			v = median(vals)
		}
		add(ft.name, v, ft.limit, false, "×", right)
		ts[len(ts)-1].Rounds = len(vals)
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
	if s := r.Single; s != nil {
		// Noise allowed for: the same work either way.
		add(fmt.Sprintf("one workspace: --concurrency %d / --concurrency 1", s.Concurrency), s.Ratio, 1.05, false, "×", true)
	}
	if sc := r.Scale; sc != nil {
		// Issue 14's targets for 5,000 workspaces with 90 days of hourly
		// history; a route that answered anything but 200 misses them.
		var pageP99 time.Duration
		ok := true
		for _, rt := range sc.Routes {
			if rt.Page {
				pageP99 = max(pageP99, rt.P99)
			}
			ok = ok && rt.Failed == 0
		}
		add("scale: driftd serve peak RSS", float64(sc.MaxRSS)/1e6, 150, false, "MB", true)
		add("scale: page p99 (slowest page)", float64(pageP99)/1e6, 200, false, "ms", ok)
		add("scale: store size", float64(sc.StoreBytes)/1e9, 1, false, "GB", true)
		add("scale: start-up to ready", sc.Startup.Seconds(), 2, false, "s", true)
	}
	return ts
}

// Print writes every measured part as tables, then the targets. Of the
// fleet it writes the medians over rounds: each round's table is written
// as the round finishes (FleetResult.Print).
func (r *Results) Print(w io.Writer) {
	if len(r.Fleet) > 0 {
		printFleetMedians(w, r.Fleet)
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
	if r.Single != nil {
		r.Single.print(w)
	}
	if r.Scale != nil {
		r.Scale.print(w)
	}
	fmt.Fprintln(w, "\nTargets")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets() {
		op, verdict := "≤", "MET"
		if t.Strict {
			op = "<"
		}
		if !t.Met {
			verdict = "missed"
		}
		rounds := ""
		if t.Rounds > 0 {
			rounds = fmt.Sprintf(" (median of %d rounds)", t.Rounds)
		}
		fmt.Fprintf(tw, "  %s\t%.2f %s\t%s %.2f %s\t%s%s\n", t.Name, t.Value, t.Unit, op, t.Limit, t.Unit, verdict, rounds)
	}
	tw.Flush()
}

// Print writes one round as a table: every run's wall and CPU time, and
// both as ratios to the sequential loop and to the floor.
func (f *FleetResult) Print(w io.Writer, rounds int) {
	if rounds > 1 {
		fmt.Fprintf(w, "\nRound %d of %d", f.Round, rounds)
	}
	fmt.Fprintf(w, "\nFleet: %d workspaces × %d resources, %s read latency, concurrency %d, %d drifted, %d cores\n",
		f.Workspaces, f.Resources, f.Latency, f.Concurrency, len(f.Drifted), f.Cores)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall\tCPU\twall÷seq\tCPU÷seq\twall÷floor\tCPU÷floor\tpeak RSS (any process)\tdriftd RSS\tload1\tcorrect\t")
	for _, m := range f.Runs {
		if m.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\tFAILED\t\n", m.Name)
			continue
		}
		self := "-"
		if m.SelfRSS > 0 {
			self = mb(m.SelfRSS)
		}
		ok := "yes"
		if !m.Correct {
			ok = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t\n", m.Name, secs(m.Wall), secs(m.CPU),
			f.ratioText(m.Name, RunSequential, false), f.ratioText(m.Name, RunSequential, true),
			f.ratioText(m.Name, RunFloor, false), f.ratioText(m.Name, RunFloor, true),
			mb(m.MaxRSS), self, m.Load1, ok)
	}
	tw.Flush()
	fmt.Fprintf(w, "floor = terraform plan of every workspace, already initialised, %d at a time, with driftd's environment (SDK logs off, plugins without TLS, GOMAXPROCS shared out)\n", f.Concurrency)
	if len(f.Phases) > 0 && f.Workspaces > 0 {
		fmt.Fprint(w, "bare terraform per workspace (mean of the sequential loop):")
		for _, p := range f.Phases {
			n := time.Duration(f.Workspaces)
			fmt.Fprintf(w, " %s %s wall / %s CPU;", p.Name, secs(p.Wall/n), secs(p.CPU/n))
		}
		fmt.Fprintln(w)
	}
	for _, m := range f.Runs {
		if m.Error != "" {
			fmt.Fprintf(w, "FAILED %s: %s\n", m.Name, m.Error)
		}
		if m.Error == "" && !m.Correct {
			fmt.Fprintf(w, "WRONG ANSWER from %s: %s\n", m.Name, m.Problem)
		}
		if m.ChildRSS > 0 {
			fmt.Fprintf(w, "%s: largest child process peak RSS %s\n", m.Name, mb(m.ChildRSS))
		}
	}
}

func (f *FleetResult) ratioText(num, den string, cpu bool) string {
	v, usable, _ := f.Ratio(num, den, cpu)
	if !usable {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// printFleetMedians writes, for every contender, the median over rounds
// of its ratios to the sequential loop and to the floor.
func printFleetMedians(w io.Writer, rounds []*FleetResult) {
	var runs []string
	for _, f := range rounds {
		for _, m := range f.Runs {
			if !slices.Contains(runs, m.Name) {
				runs = append(runs, m.Name)
			}
		}
	}
	fmt.Fprintf(w, "\nFleet: medians of the ratios within each round, over %d rounds\n", len(rounds))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall÷seq\tCPU÷seq\twall÷floor\tCPU÷floor\trounds\t")
	for _, name := range runs {
		fmt.Fprintf(tw, "%s\t", name)
		n := 0
		for _, c := range []struct {
			den string
			cpu bool
		}{{RunSequential, false}, {RunSequential, true}, {RunFloor, false}, {RunFloor, true}} {
			var vals []float64
			for _, f := range rounds {
				if v, usable, right := f.Ratio(name, c.den, c.cpu); usable && right {
					vals = append(vals, v)
				}
			}
			n = max(n, len(vals))
			if len(vals) == 0 {
				fmt.Fprint(tw, "-\t")
				continue
			}
			fmt.Fprintf(tw, "%.2f (%.2f–%.2f)\t", median(vals), slices.Min(vals), slices.Max(vals))
		}
		fmt.Fprintf(tw, "%d\t\n", n)
	}
	tw.Flush()
}

func (c *CheckResult) print(w io.Writer) {
	fmt.Fprintf(w, "\ncheck overhead: one workspace, medians of %d interleaved runs\n", c.Repeats)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tdriftd check wall / CPU\tterraform init+plan+show wall / CPU\twall ratio\tCPU ratio\tload1 (range)\t")
	fmt.Fprintf(tw, "cold\t%s / %s\t%s / %s\t%.2f\t%.2f\t%s\t\n", secs(c.DriftdCold.Median), secs(c.DriftdCold.CPUMedian),
		secs(c.BareCold.Median), secs(c.BareCold.CPUMedian), c.RatioCold, c.RatioColdCPU, loadRange(c.DriftdCold.Load1, c.BareCold.Load1))
	fmt.Fprintf(tw, "warm\t%s / %s\t%s / %s\t%.2f\t%.2f\t%s\t\n", secs(c.DriftdWarm.Median), secs(c.DriftdWarm.CPUMedian),
		secs(c.BareWarm.Median), secs(c.BareWarm.CPUMedian), c.RatioWarm, c.RatioWarmCPU, loadRange(c.DriftdWarm.Load1, c.BareWarm.Load1))
	tw.Flush()
}

func (l *LargeResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nLarge plan: real %d resources (%s JSON), synthesised %d resources (%s JSON), medians of %d\n",
		l.Real.Resources, mb(int64(l.Real.JSONBytes)), l.Large.Resources, mb(int64(l.Large.JSONBytes)), len(l.Large.Analysis.Runs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\ttime\tCPU\tpeak heap\theap / JSON\t")
	fmt.Fprintf(tw, "real: terraform show -json\t%s\t%s\t\t\t\n", secs(l.Real.Show.Median), secs(l.Real.Show.CPUMedian))
	fmt.Fprintf(tw, "real: driftd ReadPlan+Analyze\t%s\t%s\t%s\t%.2f\t\n", secs(l.Real.Analysis.Median), secs(l.Real.Analysis.CPUMedian),
		mb(int64(l.Real.Analysis.PeakHeap)), float64(l.Real.Analysis.PeakHeap)/float64(l.Real.JSONBytes))
	fmt.Fprintf(tw, "tiny: terraform show -json\t%s\t%s\t\t\t\n", secs(l.Tiny.Show.Median), secs(l.Tiny.Show.CPUMedian))
	fmt.Fprintf(tw, "large: terraform show -json (extrapolated)\t%s\t%s\t\t\t\n", secs(l.Large.ShowEstimate), secs(l.Large.ShowEstimateCPU))
	for _, row := range []struct {
		name string
		c    ParseCost
	}{
		{"large: json.Unmarshal into tfjson.Plan", l.Large.Plain},
		{"large: full decode as terraform-exec's ShowPlanFile", l.Large.FullDecode},
		{"large: driftd ReadPlan", l.Large.Decode},
		{"large: driftd ReadPlan+Analyze", l.Large.Analysis},
	} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t\n", row.name, secs(row.c.Median), secs(row.c.CPUMedian), mb(int64(row.c.PeakHeap)), float64(row.c.PeakHeap)/float64(l.Large.JSONBytes))
	}
	tw.Flush()
	fmt.Fprintf(w, "ratio analysis / show: real %.2f wall, %.2f CPU; large %.2f wall, %.2f CPU (show extrapolated linearly in bytes through the tiny and the real plan)\n",
		l.Real.Ratio, l.Real.RatioCPU, l.Large.Ratio, l.Large.RatioCPU)
	fmt.Fprintf(w, "peak heap / JSON of ReadPlan+Analyze: %.2f above the JSON buffer, %.2f with it\n", l.Large.HeapRatio, l.Large.HeapRatio+1)
}

func (i *IdleResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nIdle daemon: %d workspaces, sampled %s: RSS %s (max %s), CPU %.2f%% of a core, ready in %s, load1 %.2f\n",
		i.Workspaces, i.Window, mb(i.RSS), mb(i.MaxRSS), i.CPUPercent, secs(i.Startup), i.Load1)
}

func (s *ScaleResult) print(w io.Writer) {
	slo := "without SLOs"
	if s.SLO {
		slo = "every one with an SLO"
	}
	fmt.Fprintf(w, "\nScale: driftd serve, %d workspaces (%s), %d scans over %s (written in %s); store %s; ready in %s; first status page %s; RSS %s (peak %s; now %s anonymous, %s of the store's file); load1 %.2f\n",
		s.Workspaces, slo, s.Scans, s.History, secs(s.Generate), mb(s.StoreBytes), secs(s.Startup), ms(s.FirstView), mb(s.RSS), mb(s.MaxRSS), mb(s.RSSAnon), mb(s.RSSFile), s.Load1)
	fmt.Fprintf(w, "%s, %d connections, loopback:\n", s.Generator, s.Connections)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "route\tpath\tp50\tp99\trequests/s\trequests\tfailed\tbody\tload1\t")
	for _, r := range s.Routes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%d\t%s\t%.2f\t\n", r.Name, r.Path, ms(r.P50), ms(r.P99), r.PerSec, r.Requests, r.Failed, mb(r.Bytes), r.Load1)
	}
	tw.Flush()
	fmt.Fprintln(w, "largest resident set seen (sampled every 5 ms):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tRSS\tanonymous\tstore's file\t")
	for _, p := range s.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", p.Phase, mb(p.RSS), mb(p.Anon), mb(p.File))
	}
	tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }

func median[T cmp.Ordered](v []T) T {
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
