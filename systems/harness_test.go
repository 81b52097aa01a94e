// Package systems_test runs the seed systems (CLUSTERPRO, m-FILTER, Solaris
// Cluster, appliance pairs) through the whole path: real-format status
// output → the real sources and collector → the exported metrics → a
// generated `promtool test rules` file → the bundled recording rules and
// alerts → the colours, redundancy reasons and update gates of DESIGN.md
// §5–6.
//
// This file is the shared harness: collecting a configuration into
// samples, turning samples into promtool input series, running promtool,
// and naming the loopback servers of internal/testmail the probes talk to.
package systems_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/mailcluster/mailcluster_exporter/collector"
	"github.com/mailcluster/mailcluster_exporter/config"
	"github.com/mailcluster/mailcluster_exporter/internal/realoutputs"
	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// Paths, relative to this package's directory.
const (
	rulesFile  = "../rules/mailcluster.rules.yml"
	alertsFile = "../rules/mailcluster.alerts.yml"
	parseDir   = "../collector/parse" // the parsers' own transcribed testdata, read in place
)

// abs returns the absolute path of a file relative to this package.
func abs(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test input missing: %v", err)
	}
	return p
}

// realOutput returns the absolute path of a file in shared/real-outputs,
// beside the repository. Only tests that need those captures call it, and
// they are skipped (not failed) where the folder is not checked out next to
// the repository: the captures are kept outside the project on purpose
// (read in place, never copied). Where the folder is there but the file is
// not, the test fails (see internal/realoutputs).
func realOutput(t *testing.T, rel string) string {
	t.Helper()
	return realoutputs.Path(t, rel)
}

// catArgv feeds a capture to a source as its command output (the Runner
// runs argv without a shell).
func catArgv(paths ...string) string {
	return yamlArgv(append([]string{"cat"}, paths...)...)
}

// stripArgv feeds a transcription that starts with a '#' header (the
// parsers' testdata and ours): the header says what the file transcribes;
// the tool never prints it.
func stripArgv(path string) string {
	return yamlArgv("sed", "-e", "/^#/d", path)
}

func yamlArgv(argv ...string) string {
	b, _ := json.Marshal(argv)
	return string(b)
}

// exporterRun is one exporter instance: a configuration, the node it runs
// on, and whether an update window is open for its clusters.
type exporterRun struct {
	Instance string // the instance label Prometheus would add
	Config   string // YAML
	Local    string // --cluster.node
	Window   bool
}

// sample is one exported series.
type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

func (s sample) String() string {
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, s.Labels[k])
	}
	return fmt.Sprintf("%s{%s}", s.Name, strings.Join(parts, ","))
}

// snapCollector exposes one finished snapshot through a registry, as the
// exporter does.
type snapCollector struct{ snap *collector.Snapshot }

func (c snapCollector) Describe(ch chan<- *prometheus.Desc) { collector.Describe(ch) }
func (c snapCollector) Collect(ch chan<- prometheus.Metric) { c.snap.Emit(ch) }

// windowEnd is when an open test window ends, on promtool's clock (which
// starts at the Unix epoch): two hours, beyond every evaluation.
var windowEnd = time.Unix(2*3600, 0)

// collect builds the configuration through the public API, collects every
// cluster once, and gathers the metrics with instance and job labels added.
func collect(t *testing.T, run exporterRun) []sample {
	t.Helper()
	cfg, err := config.Load([]byte(run.Config), run.Instance+".yml")
	if err != nil {
		t.Fatalf("configuration of %s: %v\n%s", run.Instance, err, run.Config)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector("mailcluster_exporter")) // as the exporter does
	for _, c := range cfg.Clusters {
		cl, err := collector.New(c, cfg.Global, collector.Options{LocalNode: run.Local})
		if err != nil {
			t.Fatalf("building the collector of %s: %v", run.Instance, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		snap := cl.Collect(ctx)
		cancel()
		if run.Window {
			snap.Window = collector.WindowState{Open: true, End: windowEnd}
		}
		for _, st := range snap.Sources {
			if !st.Up {
				t.Logf("%s: source %s failed for node %s (see the exporter log; the rules read it as unknown)", run.Instance, st.Name, st.Node)
			}
		}
		if err := reg.Register(snapCollector{snap}); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering %s: %v", run.Instance, err)
	}
	var out []sample
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := sample{Name: mf.GetName(), Labels: map[string]string{"instance": run.Instance, "job": "mailcluster"}}
			for _, lp := range m.GetLabel() {
				s.Labels[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.GetGauge() != nil:
				s.Value = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				s.Value = m.GetCounter().GetValue()
			default:
				t.Fatalf("%s: unexpected metric type %v", mf.GetName(), mf.GetType())
			}
			out = append(out, s)
		}
	}
	return out
}

// check is one promql_expr_test: the query and every sample it must
// return (an empty list: no result at all).
type check struct {
	Expr string
	Want []wantSample
}

type wantSample struct {
	Labels string  `json:"labels"`
	Value  float64 `json:"value"`
}

// gateOrder is the procedure order of DESIGN §6 (the rules' order label).
var gateOrder = []string{"services_stopped", "redundancy_disabled", "versions_match", "redundancy_enabled",
	"roles_restored", "sync_complete", "early_start_ok", "services_running", "restart_flag_clear"}

// expectation is what the bundled rules must make of a scenario.
type expectation struct {
	Cluster    string
	Status     int            // mailcluster:status:code
	Redundancy int            // mailcluster:redundancy_status:code
	Reasons    []string       // every mailcluster:redundancy_status:reason that holds, no other
	Gates      map[string]int // all nine gates (nil: not checked; timeline phases only)
	Extra      []check
}

func (e expectation) checks(t *testing.T) []check {
	t.Helper()
	cl := e.Cluster
	out := []check{
		{Expr: fmt.Sprintf(`mailcluster:status:code{cluster=%q}`, cl),
			Want: []wantSample{{Labels: fmt.Sprintf(`mailcluster:status:code{cluster=%q}`, cl), Value: float64(e.Status)}}},
		{Expr: fmt.Sprintf(`mailcluster:redundancy_status:code{cluster=%q}`, cl),
			Want: []wantSample{{Labels: fmt.Sprintf(`mailcluster:redundancy_status:code{cluster=%q}`, cl), Value: float64(e.Redundancy)}}},
	}
	reasons := check{Expr: fmt.Sprintf(`mailcluster:redundancy_status:reason{cluster=%q}`, cl), Want: []wantSample{}}
	for _, r := range e.Reasons {
		reasons.Want = append(reasons.Want, wantSample{Labels: fmt.Sprintf(`mailcluster:redundancy_status:reason{cluster=%q,reason=%q}`, cl, r), Value: 1})
	}
	out = append(out, reasons)
	if e.Gates == nil { // a timeline phase that checks no gates
		return append(out, e.Extra...)
	}
	if len(e.Gates) != len(gateOrder) {
		t.Fatalf("expectation for %s lists %d gates, want all %d", cl, len(e.Gates), len(gateOrder))
	}
	gates := check{Expr: fmt.Sprintf(`mailcluster:update_gate:ok{cluster=%q}`, cl)}
	for i, g := range gateOrder {
		v, ok := e.Gates[g]
		if !ok {
			t.Fatalf("expectation for %s lacks gate %s", cl, g)
		}
		gates.Want = append(gates.Want, wantSample{
			Labels: fmt.Sprintf(`mailcluster:update_gate:ok{cluster=%q,gate=%q,order="%d"}`, cl, g, i+1), Value: float64(v)})
	}
	return append(append(out, gates), e.Extra...)
}

// gates builds the nine gate values from the names of those that are 1.
func gates(open ...string) map[string]int {
	m := map[string]int{}
	for _, g := range gateOrder {
		m[g] = 0
	}
	for _, g := range open {
		if _, ok := m[g]; !ok {
			panic("unknown gate " + g)
		}
		m[g] = 1
	}
	return m
}

// promtool file format (rules/tests/*.yml); JSON is valid YAML.
type ruleTestFile struct {
	RuleFiles          []string   `json:"rule_files"`
	EvaluationInterval string     `json:"evaluation_interval"`
	GroupEvalOrder     []string   `json:"group_eval_order"`
	Tests              []ruleTest `json:"tests"`
}

type ruleTest struct {
	Name           string          `json:"name"`
	Interval       string          `json:"interval"`
	InputSeries    []inputSeries   `json:"input_series"`
	PromQLExprTest []promqlExprTst `json:"promql_expr_test"`
}

type inputSeries struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

type promqlExprTst struct {
	Expr       string       `json:"expr"`
	EvalTime   string       `json:"eval_time"`
	ExpSamples []wantSample `json:"exp_samples"`
}

const (
	holdSamples = 30    // every gathered value is held constant for 30m at 1m
	evalTime    = "10m" // long after every rule has seen the inputs
)

// promtool returns the path of Debian's promtool.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run `make deps`")
	}
	return p
}

// verify writes the gathered samples as input series and the expectation
// as promql_expr_test into a promtool rule-test file in t.TempDir(), runs
// `promtool test rules` with the bundled rules, and fails with promtool's
// output and the metrics when the rules disagree.
func verify(t *testing.T, samples []sample, exp expectation) {
	t.Helper()
	seen := map[string]bool{}
	var series []inputSeries
	for _, s := range samples {
		key := s.String()
		if seen[key] {
			t.Fatalf("series exported twice by one instance: %s", key)
		}
		seen[key] = true
		series = append(series, inputSeries{Series: key,
			Values: fmt.Sprintf("%sx%d", strconv.FormatFloat(s.Value, 'g', -1, 64), holdSamples)})
	}
	sort.Slice(series, func(i, j int) bool { return series[i].Series < series[j].Series })
	test := ruleTest{Name: t.Name(), Interval: "1m", InputSeries: series}
	for _, c := range exp.checks(t) {
		want := c.Want
		if want == nil {
			want = []wantSample{}
		}
		test.PromQLExprTest = append(test.PromQLExprTest, promqlExprTst{Expr: c.Expr, EvalTime: evalTime, ExpSamples: want})
	}
	runPromtool(t, test)
}

// runPromtool writes one rule test into a promtool file in t.TempDir(),
// runs `promtool test rules` with the bundled rules, and fails with
// promtool's output and the input series when the rules disagree.
func runPromtool(t *testing.T, test ruleTest) {
	t.Helper()
	tool := promtool(t)
	file := ruleTestFile{
		RuleFiles:          []string{abs(t, rulesFile), abs(t, alertsFile)},
		EvaluationInterval: "1m",
		GroupEvalOrder:     []string{"mailcluster.rules", "mailcluster.alerts"},
		Tests:              []ruleTest{test},
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "systems_test.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "test", "rules", path).CombinedOutput()
	if err != nil {
		var metrics strings.Builder
		for _, s := range test.InputSeries {
			fmt.Fprintf(&metrics, "  %s %s\n", s.Series, s.Values)
		}
		t.Fatalf("promtool test rules %s: %v\n%s\nmetrics gathered:\n%s", path, err, out, metrics.String())
	}
}

// scenario collects every exporter run and verifies the expectation.
func scenario(t *testing.T, exp expectation, runs ...exporterRun) {
	t.Helper()
	var all []sample
	for _, r := range runs {
		all = append(all, collect(t, r)...)
	}
	verify(t, all, exp)
}

// ---------------------------------------------------------------------
// Loopback servers for the probes.
// ---------------------------------------------------------------------

// listen serves addr with handle until the test ends (testmail.Listen).
// Binding 127.0.0.x needs nothing on Linux (the whole 127/8 is local).
func listen(t *testing.T, addr string, handle func(net.Conn)) {
	t.Helper()
	testmail.Listen(t, addr, handle)
}

// The fake servers, from internal/testmail: SMTP (EHLO, no STARTTLS
// offered), POP3 (CAPA, no STLS), IMAP (CAPABILITY, no STARTTLS), and a
// bare TCP port that accepts and closes (a liveness port such as SSH or an
// admin UI, or a replication port, where connecting is the whole check).
var (
	fakeSMTP = testmail.SMTP("mail.example.invalid")
	fakePOP3 = testmail.POP3
	fakeIMAP = testmail.IMAP
	fakeTCP  = testmail.TCP
)

// ---------------------------------------------------------------------
// Timelines: a deployment whose inputs change while Prometheus scrapes it.
// ---------------------------------------------------------------------

// phase is one stretch of a timeline. Start sets up the inputs of the
// phase (listeners, files, processes; bound to the subtest it is given, so
// they end with the phase) and returns the exporters Prometheus can scrape
// during it. An exporter of the timeline missing from a phase is down: its
// `up` series is 0 and its series are marked stale, as Prometheus records
// a failed scrape (a series an exporter stops exporting is marked stale
// too). The samples gathered
// once per phase are held for Minutes one-minute samples, and Expect is
// evaluated at the phase's last minute.
type phase struct {
	Name    string
	Minutes int
	Start   func(t *testing.T) []exporterRun
	Expect  expectation
}

// timeline runs the phases in order and verifies every phase's expectation
// in one promtool test, so the rules see the history (ranges, `for:`).
func timeline(t *testing.T, phases ...phase) {
	t.Helper()
	type point struct {
		present bool
		value   float64
	}
	var (
		order  []string
		values = map[string][]point{} // series → one point per phase
		known  = map[string]bool{}    // instances seen in any phase
		up     = make([]map[string]bool, len(phases))
	)
	for i, p := range phases {
		if p.Minutes < 1 {
			t.Fatalf("phase %s: Minutes must be at least 1", p.Name)
		}
		var samples []sample
		up[i] = map[string]bool{}
		t.Run(p.Name, func(t *testing.T) {
			for _, r := range p.Start(t) {
				up[i][r.Instance] = true
				known[r.Instance] = true
				samples = append(samples, collect(t, r)...)
			}
		})
		if t.Failed() {
			t.FailNow()
		}
		for _, s := range samples {
			key := s.String()
			pts, ok := values[key]
			if !ok {
				order = append(order, key)
				pts = make([]point, len(phases))
			}
			if pts[i].present {
				t.Fatalf("phase %s: series exported twice by one instance: %s", p.Name, key)
			}
			pts[i] = point{true, s.Value}
			values[key] = pts
		}
	}
	// Prometheus' own up series for every exporter of the timeline.
	for inst := range known {
		key := sample{Name: "up", Labels: map[string]string{"instance": inst, "job": "mailcluster"}}.String()
		pts := make([]point, len(phases))
		for i := range phases {
			pts[i] = point{true, 0}
			if up[i][inst] {
				pts[i].value = 1
			}
		}
		order = append(order, key)
		values[key] = pts
	}
	sort.Strings(order)
	test := ruleTest{Name: t.Name(), Interval: "1m"}
	for _, key := range order {
		var tokens []string
		for i, p := range phases {
			pt := values[key][i]
			for m := 0; m < p.Minutes; m++ {
				switch {
				case pt.present:
					tokens = append(tokens, strconv.FormatFloat(pt.value, 'g', -1, 64))
				case m == 0 && i > 0 && values[key][i-1].present:
					// Prometheus marks a series stale at the first scrape that
					// lacks it, or fails.
					tokens = append(tokens, "stale")
				default:
					tokens = append(tokens, "_")
				}
			}
		}
		test.InputSeries = append(test.InputSeries, inputSeries{Series: key, Values: strings.Join(tokens, " ")})
	}
	end := 0
	for _, p := range phases {
		end += p.Minutes
		at := fmt.Sprintf("%dm", end-1)
		for _, c := range p.Expect.checks(t) {
			want := c.Want
			if want == nil {
				want = []wantSample{}
			}
			test.PromQLExprTest = append(test.PromQLExprTest, promqlExprTst{Expr: c.Expr, EvalTime: at, ExpSamples: want})
		}
	}
	runPromtool(t, test)
}
