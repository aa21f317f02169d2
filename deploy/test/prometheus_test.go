package deploytest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
	"go.yaml.in/yaml/v3"
)

// The rule checks use Prometheus's own rule-file parser, PromQL parser,
// engine and template expander, not promtool: promtool and Prometheus's
// rules package pull in every service discovery's SDK (AWS, Azure, GCP,
// Kubernetes), several minutes of cold compile. The rule evaluation below
// is the small part of rules.Group that promtool's unit tests exercise.

var (
	rulesFile     = filepath.Join(root, "deploy", "prometheus", "rules.yaml")
	ruleTestsFile = filepath.Join(root, "deploy", "prometheus", "rules_test.yaml")
	promParser    = parser.NewParser(parser.Options{})
)

// loadRules parses a rules file as `promtool check rules` does: strictly,
// every expression and template checked.
func loadRules(t *testing.T, path string) *rulefmt.RuleGroups {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return parseRules(t, path, b)
}

// parseRules parses the text of a rules file as loadRules does.
func parseRules(t *testing.T, where string, content []byte) *rulefmt.RuleGroups {
	t.Helper()
	rgs, errs := rulefmt.Parse(content, false, model.UTF8Validation, promParser, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("%s: %v", where, err)
	}
	if rgs == nil {
		t.FailNow()
	}
	return rgs
}

// TestPrometheusRules is `promtool check rules`, plus what the kit
// promises: every alert has a severity, a summary and a description;
// recording rules are named level:metric:operations; every series a rule
// reads is one driftd exports (TestObservabilityKit checks those against
// a live scrape) or one another rule records.
func TestPrometheusRules(t *testing.T) {
	rgs := loadRules(t, rulesFile)
	recorded := map[string]bool{}
	alerts := 0
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				if strings.Count(r.Record, ":") != 2 {
					t.Errorf("recording rule %s: want a level:metric:operations name", r.Record)
				}
				recorded[r.Record] = true
				continue
			}
			alerts++
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: want a severity label and summary and description annotations", r.Alert)
			}
		}
	}
	if alerts == 0 || len(recorded) == 0 {
		t.Fatalf("%d alerts, %d recording rules", alerts, len(recorded))
	}
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			for _, name := range metricNames(t, r.Record+r.Alert, r.Expr) {
				if !recorded[name] && !strings.HasPrefix(name, "driftd_") {
					t.Errorf("rule %s reads %s, neither driftd's nor recorded here", r.Record+r.Alert, name)
				}
			}
		}
	}
}

// TestPrometheusRuleTests runs rules_test.yaml, written for `promtool test
// rules`: input series, then the alerts firing and the values of
// expressions at given times.
func TestPrometheusRuleTests(t *testing.T) {
	b, err := os.ReadFile(ruleTestsFile)
	must(t, err)
	var f ruleTestFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	must(t, dec.Decode(&f))
	var groups []rulefmt.RuleGroup
	for _, rf := range f.RuleFiles {
		groups = append(groups, loadRules(t, filepath.Join(filepath.Dir(ruleTestsFile), rf)).Groups...)
	}
	every := time.Duration(f.EvaluationInterval)
	if every == 0 {
		every = time.Minute
	}
	if len(f.Tests) == 0 {
		t.Fatal("no tests")
	}
	for i, tg := range f.Tests {
		t.Run(fmt.Sprintf("%d_%s", i, tg.Name), func(t *testing.T) { tg.run(t, groups, every) })
	}
}

// ruleTestFile is promtool's unit test file, the parts used here.
type ruleTestFile struct {
	RuleFiles          []string        `yaml:"rule_files"`
	EvaluationInterval model.Duration  `yaml:"evaluation_interval"`
	Tests              []ruleTestGroup `yaml:"tests"`
}

type ruleTestGroup struct {
	Name        string         `yaml:"name"`
	Interval    model.Duration `yaml:"interval"`
	InputSeries []struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	} `yaml:"input_series"`
	AlertRuleTests []struct {
		EvalTime  model.Duration `yaml:"eval_time"`
		Alertname string         `yaml:"alertname"`
		ExpAlerts []struct {
			ExpLabels      map[string]string `yaml:"exp_labels"`
			ExpAnnotations map[string]string `yaml:"exp_annotations"`
		} `yaml:"exp_alerts"`
	} `yaml:"alert_rule_test"`
	PromQLExprTests []struct {
		Expr       string         `yaml:"expr"`
		EvalTime   model.Duration `yaml:"eval_time"`
		ExpSamples []struct {
			Labels string  `yaml:"labels"`
			Value  float64 `yaml:"value"`
		} `yaml:"exp_samples"`
	} `yaml:"promql_expr_test"`
}

// activeAlert is an alert as rules.AlertingRule keeps it.
type activeAlert struct {
	labels      labels.Labels
	annotations map[string]string
	activeAt    time.Time
}

func (tg *ruleTestGroup) run(t *testing.T, groups []rulefmt.RuleGroup, every time.Duration) {
	ctx := context.Background()
	st := &memStorage{series: map[string]*memSeries{}}
	step := time.Duration(tg.Interval)
	if step == 0 {
		step = every
	}
	start := time.Unix(0, 0).UTC()
	for _, in := range tg.InputSeries {
		lset, vals, err := promParser.ParseSeriesDesc(in.Series + " " + in.Values)
		if err != nil {
			t.Fatalf("input series %s: %v", in.Series, err)
		}
		for i, v := range vals {
			if !v.Omitted {
				st.add(lset, start.Add(time.Duration(i)*step), v.Value)
			}
		}
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: promParser})
	query := func(expr string, at time.Time) promql.Vector {
		t.Helper()
		q, err := engine.NewInstantQuery(ctx, st, nil, expr, at)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		defer q.Close()
		res := q.Exec(ctx)
		if res.Err != nil {
			t.Fatalf("%s at %s: %v", expr, at.Sub(start), res.Err)
		}
		switch v := res.Value.(type) {
		case promql.Vector:
			return v
		case promql.Scalar:
			return promql.Vector{{F: v.V, T: v.T}}
		}
		t.Fatalf("%s: a %s, want a vector or a scalar", expr, res.Value.Type())
		return nil
	}

	var end time.Duration
	for _, a := range tg.AlertRuleTests {
		end = max(end, time.Duration(a.EvalTime))
	}
	for _, e := range tg.PromQLExprTests {
		end = max(end, time.Duration(e.EvalTime))
	}
	active := map[string]map[string]*activeAlert{} // by alert rule, then labels
	firing := func(at time.Time, alertname string) []string {
		var out []string
		for _, g := range groups {
			for _, r := range g.Rules {
				if r.Alert != alertname {
					continue
				}
				for _, a := range active[ruleKey(g, r)] {
					if at.Sub(a.activeAt) >= time.Duration(r.For) {
						out = append(out, a.labels.String()+" "+labels.FromMap(a.annotations).String())
					}
				}
			}
		}
		slices.Sort(out)
		return out
	}
	for off := time.Duration(0); off <= end; off += every {
		at := start.Add(off)
		for _, g := range groups {
			if iv := time.Duration(g.Interval); iv > 0 && off%iv != 0 {
				continue
			}
			for _, r := range g.Rules {
				res := query(r.Expr, at)
				if r.Record != "" {
					for _, s := range res {
						b := labels.NewBuilder(s.Metric).Set(labels.MetricName, r.Record)
						for k, v := range r.Labels {
							b.Set(k, v)
						}
						st.add(b.Labels(), at, s.F)
					}
					continue
				}
				key := ruleKey(g, r)
				was := active[key]
				now := map[string]*activeAlert{}
				for _, s := range res {
					b := labels.NewBuilder(s.Metric).Del(labels.MetricName)
					for k, v := range r.Labels {
						b.Set(k, v)
					}
					b.Set(labels.AlertName, r.Alert)
					lset := b.Labels()
					a := was[lset.String()]
					if a == nil {
						a = &activeAlert{labels: lset, activeAt: at}
					}
					a.annotations = map[string]string{}
					for k, text := range r.Annotations {
						a.annotations[k] = expandAlert(t, r.Alert, text, s, at)
					}
					now[lset.String()] = a
				}
				active[key] = now
			}
		}
		for _, a := range tg.AlertRuleTests {
			if time.Duration(a.EvalTime) != off {
				continue
			}
			var want []string
			for _, e := range a.ExpAlerts {
				l := map[string]string{labels.AlertName: a.Alertname}
				for k, v := range e.ExpLabels {
					l[k] = v
				}
				want = append(want, labels.FromMap(l).String()+" "+labels.FromMap(e.ExpAnnotations).String())
			}
			slices.Sort(want)
			if got := firing(at, a.Alertname); !slices.Equal(got, want) {
				t.Errorf("%s firing at %s:\n got  %q\n want %q", a.Alertname, off, got, want)
			}
		}
		for _, e := range tg.PromQLExprTests {
			if time.Duration(e.EvalTime) != off {
				continue
			}
			var got, want []string
			for _, s := range query(e.Expr, at) {
				got = append(got, s.Metric.String()+" "+formatValue(s.F))
			}
			for _, s := range e.ExpSamples {
				l, err := promParser.ParseMetric(s.Labels)
				if s.Labels == "" {
					l, err = labels.EmptyLabels(), nil
				}
				if err != nil {
					t.Fatalf("exp_samples %s: %v", s.Labels, err)
				}
				want = append(want, l.String()+" "+formatValue(s.Value))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s at %s:\n got  %q\n want %q", e.Expr, off, got, want)
			}
		}
	}
}

func ruleKey(g rulefmt.RuleGroup, r rulefmt.Rule) string {
	return g.Name + "/" + r.Alert + "/" + r.Expr
}

// formatValue writes a value exactly, so that two differ as promtool's
// exact comparison would have them differ.
func formatValue(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return fmt.Sprintf("%v", v)
}

// expandAlert expands an annotation as an alerting rule does, with
// $labels and $value of the sample.
func expandAlert(t *testing.T, alert, text string, s promql.Sample, at time.Time) string {
	t.Helper()
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	data := template.AlertTemplateData(s.Metric.Map(), nil, "", s)
	noQuery := func(context.Context, string, time.Time) (promql.Vector, error) {
		return nil, fmt.Errorf("query() is not supported here")
	}
	exp := template.NewTemplateExpander(context.Background(), defs+text, "__alert_"+alert, data,
		model.TimeFromUnixNano(at.UnixNano()), noQuery, nil, nil)
	out, err := exp.Expand()
	if err != nil {
		t.Errorf("alert %s: %v", alert, err)
	}
	return out
}

// metricNames returns the metric names an expression selects.
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := promParser.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q: %v", where, expr, err)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
			if name == "" {
				t.Errorf("%s: %q selects no metric by name", where, expr)
			}
			names = append(names, name)
		}
		return nil
	})
	return names
}

// memStorage is a queryable set of float series in memory, for the
// engine.
type memStorage struct {
	series map[string]*memSeries
}

type memSeries struct {
	lset    labels.Labels
	samples []chunks.Sample
}

func (m *memStorage) add(lset labels.Labels, at time.Time, v float64) {
	k := lset.String()
	s := m.series[k]
	if s == nil {
		s = &memSeries{lset: lset}
		m.series[k] = s
	}
	s.samples = append(s.samples, fsample{at.UnixMilli(), v})
}

func (m *memStorage) Querier(mint, maxt int64) (storage.Querier, error) {
	return &memQuerier{m, mint, maxt}, nil
}

type memQuerier struct {
	m          *memStorage
	mint, maxt int64
}

func (q *memQuerier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, s := range q.m.series {
		if !matches(s.lset, ms) {
			continue
		}
		var in []chunks.Sample
		for _, sm := range s.samples {
			if sm.T() >= q.mint && sm.T() <= q.maxt {
				in = append(in, sm)
			}
		}
		if len(in) > 0 {
			out = append(out, storage.NewListSeries(s.lset, in))
		}
	}
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &seriesSlice{series: out, i: -1}
}

func matches(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (q *memQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *memQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *memQuerier) Close() error { return nil }

type seriesSlice struct {
	series []storage.Series
	i      int
}

func (s *seriesSlice) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *seriesSlice) At() storage.Series                { return s.series[s.i] }
func (s *seriesSlice) Err() error                        { return nil }
func (s *seriesSlice) Warnings() annotations.Annotations { return nil }

// fsample is a float sample.
type fsample struct {
	t int64
	f float64
}

func (s fsample) T() int64                      { return s.t }
func (s fsample) ST() int64                     { return 0 }
func (s fsample) F() float64                    { return s.f }
func (s fsample) H() *histogram.Histogram       { return nil }
func (s fsample) FH() *histogram.FloatHistogram { return nil }
func (s fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fsample) Copy() chunks.Sample           { return s }
