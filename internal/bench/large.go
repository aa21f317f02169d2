package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/internal/bench/plangen"
	"github.com/driftd/driftd/internal/testbed"
)

// LargeBench measures the analysis of a very large plan. Applying tens of
// thousands of resources takes too long for a benchmark, so it applies a
// real workspace of Real resources, times `terraform show -json` on it,
// and builds the large plan by repeating the real plan's resource
// instances (plangen.Scale): the JSON has exactly Terraform's shape.
type LargeBench struct {
	Env *testbed.Env
	// Real is the size of the real workspace, Target the size of the
	// synthesised plan; every tenth resource drifts.
	Real, Target int
	Repeats      int
	Logger       *slog.Logger
}

// ParseCost is the time and peak heap of one way of reading a plan.
type ParseCost struct {
	Median time.Duration   `json:"median_ns"`
	Runs   []time.Duration `json:"runs_ns"`
	// CPU is the process's user+system time while parsing (the GC's
	// workers included, the heap sampler's too).
	CPUMedian time.Duration   `json:"cpu_median_ns"`
	CPURuns   []time.Duration `json:"cpu_runs_ns"`
	// PeakHeap is the largest heap (live and not yet collected objects)
	// seen while parsing, above the heap before it started; the plan's
	// JSON bytes were already allocated and are not counted.
	PeakHeap uint64 `json:"peak_heap_bytes"`
}

// LargeResult is what largeplan.json holds.
type LargeResult struct {
	Real struct {
		Resources int    `json:"resources"`
		JSONBytes int    `json:"json_bytes"`
		Drift     int    `json:"drift_entries"`
		Show      Sample `json:"terraform_show_json"`
		// Analysis is drift.ReadPlan and drift.Analyze of that JSON.
		Analysis ParseCost `json:"driftd_parse_analyze"`
		Ratio    float64   `json:"ratio_analysis_over_show"`
		RatioCPU float64   `json:"ratio_analysis_over_show_cpu"`
	} `json:"real"`
	// Tiny is `terraform show -json` of a one-resource plan: the fixed
	// part (start-up, provider schemas) of the extrapolation.
	Tiny struct {
		JSONBytes int    `json:"json_bytes"`
		Show      Sample `json:"terraform_show_json"`
	} `json:"tiny"`
	Large struct {
		Resources int `json:"resources"`
		JSONBytes int `json:"json_bytes"`
		Drift     int `json:"drift_entries"`
		// ShowEstimate extrapolates terraform show -json's wall time
		// linearly in JSON bytes through the tiny and the real plan, and
		// ShowEstimateCPU its CPU time.
		ShowEstimate    time.Duration `json:"terraform_show_json_estimate_ns"`
		ShowEstimateCPU time.Duration `json:"terraform_show_json_estimate_cpu_ns"`
		// Plain is json.Unmarshal into tfjson.Plan, the floor of a full
		// decode; FullDecode is how terraform-exec's ShowPlanFile reads
		// the whole plan (json.Decoder with UseNumber); Decode is
		// drift.ReadPlan; Analysis is ReadPlan plus drift.Analyze.
		Plain      ParseCost `json:"plain_unmarshal"`
		FullDecode ParseCost `json:"full_decode_terraform_exec"`
		Decode     ParseCost `json:"driftd_decode"`
		Analysis   ParseCost `json:"driftd_parse_analyze"`
		Ratio      float64   `json:"ratio_analysis_over_show"`
		RatioCPU   float64   `json:"ratio_analysis_over_show_cpu"`
		// HeapRatio is Analysis.PeakHeap over JSONBytes; with the JSON
		// buffer itself, which driftd also holds, add one.
		HeapRatio float64 `json:"heap_ratio"`
	} `json:"large"`
}

// largeTF gives each object a few hundred bytes of content and a dozen
// tags, so that 20,000 of them make a plan of about 100 MB.
const largeTF = `locals {
  body = join("", [for i in range(16) : "lorem ipsum dolor sit amet ${i} "])
}

resource "testbed_object" "r" {
  count   = %d
  name    = "%s-r${count.index}"
  content = "${local.body}${count.index}"
  secret  = "not-a-real-secret-${count.index}"
  tags    = { for i in range(12) : "tag${i}" => "value-${i}-${count.index}" }
  ports   = [80, 443, 8080]
  enabled = true
  settings = { tier = "gold", password = "not-a-real-password" }
  rule {
    port        = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8", "192.168.0.0/16"]
  }
}
`

// Measure builds the workspaces, times terraform and driftd on the real
// plan, then driftd and a plain decode on the synthesised one.
func (b *LargeBench) Measure(ctx context.Context) (*LargeResult, error) {
	res := &LargeResult{}
	b.Logger.Info("large plan: applying the real workspace", "resources", b.Real)
	real, err := b.workspace(ctx, "large", b.Real)
	if err != nil {
		return nil, err
	}
	tiny, err := b.workspace(ctx, "tiny", 1)
	if err != nil {
		return nil, err
	}
	var realJSON, tinyJSON []byte
	for range b.Repeats {
		u, out, err := b.show(ctx, real)
		if err != nil {
			return nil, err
		}
		res.Real.Show.add(u)
		realJSON = out
		if u, out, err = b.show(ctx, tiny); err != nil {
			return nil, err
		}
		res.Tiny.Show.add(u)
		tinyJSON = out
	}
	res.Real.Resources, res.Real.JSONBytes, res.Tiny.JSONBytes = b.Real, len(realJSON), len(tinyJSON)

	var rep *drift.Report
	res.Real.Analysis, rep, err = measureParse(realJSON, b.Repeats, driftdParse)
	if err != nil {
		return nil, err
	}
	res.Real.Drift = len(rep.Drift)
	if want := (b.Real + 9) / 10; res.Real.Drift != want {
		return nil, fmt.Errorf("bench: driftd found %d drifted resources in the real large plan, want %d", res.Real.Drift, want)
	}
	if err := sameAsFullDecode(realJSON, rep); err != nil {
		return nil, err
	}
	res.Real.Ratio = ratio(res.Real.Analysis.Median, res.Real.Show.Median)
	res.Real.RatioCPU = ratio(res.Real.Analysis.CPUMedian, res.Real.Show.CPUMedian)

	b.Logger.Info("large plan: synthesising", "resources", b.Target)
	largeJSON, err := plangen.ScaleJSON(realJSON, (b.Target+b.Real-1)/b.Real)
	if err != nil {
		return nil, err
	}
	realJSON = nil
	res.Large.Resources = (b.Target + b.Real - 1) / b.Real * b.Real
	res.Large.JSONBytes = len(largeJSON)
	res.Large.ShowEstimate = extrapolate(res.Tiny.JSONBytes, res.Tiny.Show.Median, res.Real.JSONBytes, res.Real.Show.Median, len(largeJSON))
	res.Large.ShowEstimateCPU = extrapolate(res.Tiny.JSONBytes, res.Tiny.Show.CPUMedian, res.Real.JSONBytes, res.Real.Show.CPUMedian, len(largeJSON))

	b.Logger.Info("large plan: parsing", "bytes", len(largeJSON))
	if res.Large.Plain, _, err = measureParse(largeJSON, b.Repeats, plainParse); err != nil {
		return nil, err
	}
	if res.Large.FullDecode, _, err = measureParse(largeJSON, b.Repeats, fullDecode); err != nil {
		return nil, err
	}
	if res.Large.Decode, _, err = measureParse(largeJSON, b.Repeats, driftdDecode); err != nil {
		return nil, err
	}
	if res.Large.Analysis, rep, err = measureParse(largeJSON, b.Repeats, driftdParse); err != nil {
		return nil, err
	}
	res.Large.Drift = len(rep.Drift)
	if want := res.Real.Drift * res.Large.Resources / b.Real; res.Large.Drift != want {
		return nil, fmt.Errorf("bench: driftd found %d drifted resources in the large plan, want %d", res.Large.Drift, want)
	}
	res.Large.Ratio = ratio(res.Large.Analysis.Median, res.Large.ShowEstimate)
	res.Large.RatioCPU = ratio(res.Large.Analysis.CPUMedian, res.Large.ShowEstimateCPU)
	res.Large.HeapRatio = float64(res.Large.Analysis.PeakHeap) / float64(len(largeJSON))
	return res, nil
}

// workspace applies n objects, drifts every tenth and saves a plan.
func (b *LargeBench) workspace(ctx context.Context, name string, n int) (*testbed.Workspace, error) {
	ws, err := b.Env.NewWorkspace(name, fmt.Sprintf(largeTF, n, name))
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
	for i := 0; i < n; i += 10 {
		if err := b.Env.SetAttribute(fmt.Sprintf("%s-r%d", name, i), "tags.tag0", "changed-by-hand"); err != nil {
			return nil, err
		}
	}
	if _, err := ws.Run(ctx, "plan", "-input=false", "-no-color", "-lock=false", "-parallelism=32", "-out=tfplan"); err != nil {
		return nil, err
	}
	return ws, nil
}

func (b *LargeBench) show(ctx context.Context, ws *testbed.Workspace) (Usage, []byte, error) {
	cmd := exec.CommandContext(ctx, b.Env.Terraform, "show", "-json", "tfplan")
	cmd.Dir = ws.Dir
	cmd.Env = b.Env.Environ()
	var out bytes.Buffer
	cmd.Stdout = &out
	u, err := Run(ctx, cmd, false)
	if err == nil && u.ExitCode != 0 {
		err = fmt.Errorf("bench: terraform show -json in %s: exit %d\n%s", ws.Name, u.ExitCode, u.Stderr)
	}
	return u, out.Bytes(), err
}

// extrapolate is linear in bytes through (b0, t0) and (b1, t1). When noise
// makes the smaller plan look slower, it returns t1: a bigger plan takes at
// least as long, and the lowest estimate is the one that flatters driftd
// least.
func extrapolate(b0 int, t0 time.Duration, b1 int, t1 time.Duration, b int) time.Duration {
	if b1 <= b0 || t1 <= t0 {
		return t1
	}
	slope := float64(t1-t0) / float64(b1-b0)
	return t0 + time.Duration(slope*float64(b-b0))
}

func plainParse(b []byte) (*drift.Report, error) {
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return nil, nil
}

// fullDecode reads the whole plan the way terraform-exec's ShowPlanFile
// does, as driftd did before drift.ReadPlan.
func fullDecode(b []byte) (*drift.Report, error) {
	_, err := decodeLikeTerraformExec(b)
	return nil, err
}

// decodeLikeTerraformExec is ShowPlanFile's decode without its JSONNumber
// option: UseNumber does not reach tfjson.Plan's own decoder, so numbers
// are float64.
func decodeLikeTerraformExec(b []byte) (*tfjson.Plan, error) {
	var p tfjson.Plan
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

func driftdDecode(b []byte) (*drift.Report, error) {
	_, err := drift.ReadPlan(bytes.NewReader(b))
	return nil, err
}

func driftdParse(b []byte) (*drift.Report, error) {
	p, err := drift.ReadPlan(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return drift.Analyze(p, drift.Options{Workspace: "large"}), nil
}

// sameAsFullDecode checks that rep, driftd's report of data, says what the
// report of the whole decoded plan says: ReadPlan drops only what Analyze
// does not read.
func sameAsFullDecode(data []byte, rep *drift.Report) error {
	p, err := decodeLikeTerraformExec(data)
	if err != nil {
		return fmt.Errorf("bench: full decode: %w", err)
	}
	got, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	want, err := json.Marshal(drift.Analyze(p, drift.Options{Workspace: "large"}))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if !bytes.Equal(got, want) {
		return errors.New("bench: driftd's report of the real large plan differs from the full decode's")
	}
	return nil
}

// measureParse runs parse repeats times, sampling the heap.
func measureParse(data []byte, repeats int, parse func([]byte) (*drift.Report, error)) (ParseCost, *drift.Report, error) {
	var (
		c   ParseCost
		rep *drift.Report
	)
	for range max(1, repeats) {
		rep = nil
		runtime.GC()
		base := heapObjects()
		stop := make(chan struct{})
		var (
			wg   sync.WaitGroup
			peak uint64
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				peak = max(peak, heapObjects())
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		start, cpu0 := time.Now(), selfCPU()
		r, err := parse(data)
		d, cpu := time.Since(start), selfCPU()-cpu0
		close(stop)
		wg.Wait()
		peak = max(peak, heapObjects()) // the result is still live here
		if err != nil {
			return c, nil, fmt.Errorf("bench: parse: %w", err)
		}
		rep = r
		c.Runs = append(c.Runs, d)
		c.CPURuns = append(c.CPURuns, cpu)
		if peak > base {
			c.PeakHeap = max(c.PeakHeap, peak-base)
		}
	}
	c.Median, c.CPUMedian = median(c.Runs), median(c.CPURuns)
	return c, rep, nil
}

// selfCPU is this process's user+system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapObjects is the heap occupied by objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
