package rulebench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/mailcluster/mailcluster_exporter/tools/promqlcheck"
)

// defaultSpan is the history filled before the first evaluation: the hour
// the rules remember (max_over_time[1h], last_over_time) plus room for the
// benchmark's evaluations. RULEBENCH_HISTORY (a duration) fills more, to
// see what rules reading long ranges cost once Prometheus holds a day.
const defaultSpan = 70 * time.Minute

func spanFromEnv() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("RULEBENCH_HISTORY")); err == nil && d > defaultSpan {
		return d
	}
	return defaultSpan
}

// ruleFiles are the bundled rule files, or those in RULEBENCH_RULES (a
// directory), to measure another version of them side by side.
func ruleFiles() []string {
	dir := os.Getenv("RULEBENCH_RULES")
	if dir == "" {
		dir = filepath.Join("..", "..", "rules")
	}
	return []string{
		filepath.Join(dir, "mailcluster.rules.yml"),
		filepath.Join(dir, "mailcluster.alerts.yml"),
	}
}

type bench struct {
	st     *teststorage.TestStorage
	engine *promql.Engine
	groups []*rules.Group
	series int
	// queryCPU is the CPU time of the evaluating thread spent in each
	// rule's query, and querySamples the samples it read (one per series
	// for an instant selector, every sample in range for a range), by
	// query text.
	queryCPU     map[string]time.Duration
	querySamples map[string]int64
}

// ruleCost is what one rule cost, summed over evaluations.
type ruleCost struct {
	cpu     time.Duration
	samples int64
}

func newBench(tb testing.TB, clusters int, files []string) *bench {
	tb.Helper()
	st := teststorage.New(tb)
	n, err := Fill(st, clusters, spanFromEnv())
	if err != nil {
		tb.Fatal(err)
	}
	// The limits of a Prometheus server (--query.max-samples 50 million).
	engine := promqltest.NewTestEngineWithOpts(tb, promql.EngineOpts{
		MaxSamples:    50_000_000,
		Timeout:       10 * time.Minute,
		LookbackDelta: 5 * time.Minute,
	})
	b := &bench{st: st, engine: engine, series: n, queryCPU: map[string]time.Duration{}, querySamples: map[string]int64{}}
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc: func(ctx context.Context, q string, ts time.Time) (promql.Vector, error) {
			c0 := threadCPU()
			v, samples, err := b.ruleQuery(ctx, q, ts)
			b.queryCPU[q] += threadCPU() - c0
			b.querySamples[q] += samples
			return v, err
		},
		AppendableV2: st,
		Queryable:    st,
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
	})
	groups, errs := m.LoadGroups(Scrape, labels.EmptyLabels(), "", nil, false, files...)
	if len(errs) > 0 {
		tb.Fatalf("loading rules: %v", errs)
	}
	for _, g := range groups {
		b.groups = append(b.groups, g)
	}
	// Prometheus evaluates groups concurrently; here one after the other,
	// the recording group first so that the others read fresh results.
	order := map[string]int{"mailcluster.rules": 0, "mailcluster.update_phase": 1, "mailcluster.alerts": 2}
	sort.Slice(b.groups, func(i, j int) bool { return order[b.groups[i].Name()] < order[b.groups[j].Name()] })
	return b
}

// ruleQuery is rules.EngineQueryFunc that also returns the samples the
// query read.
func (b *bench) ruleQuery(ctx context.Context, qs string, ts time.Time) (promql.Vector, int64, error) {
	q, err := b.engine.NewInstantQuery(ctx, b.st, nil, qs, ts)
	if err != nil {
		return nil, 0, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	var samples int64
	if st := q.Stats(); st != nil && st.Samples != nil {
		samples = st.Samples.TotalSamples
	}
	if res.Err != nil {
		return nil, samples, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, samples, nil
	case promql.Scalar:
		return promql.Vector{promql.Sample{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, samples, nil
	default:
		return nil, samples, fmt.Errorf("rule result is %s, not a vector or scalar", res.Value.Type())
	}
}

// cost is what one evaluation of one group took: wall time, CPU time of
// the process and of the evaluating thread.
type cost struct{ wall, cpu, thread time.Duration }

// threadCPU is the CPU time of the calling OS thread: with the evaluating
// goroutine locked to its thread, the cost of the rules alone, without the
// garbage collector's background work and without other processes' load.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// eval evaluates every group once at ts, adds each group's cost and each
// rule's, and fails on any rule error.
func (b *bench) eval(tb testing.TB, ts time.Time, groups map[string]*cost, perRule map[string]*ruleCost) {
	tb.Helper()
	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, g := range b.groups {
		w0, c0, t0 := time.Now(), cpuTime(), threadCPU()
		g.Eval(ctx, ts)
		t1 := threadCPU()
		c := groups[g.Name()]
		if c == nil {
			c = &cost{}
			groups[g.Name()] = c
		}
		c.wall += time.Since(w0)
		c.cpu += cpuTime() - c0
		c.thread += t1 - t0
		for i, r := range g.Rules() {
			if err := r.LastError(); err != nil {
				tb.Fatalf("rule %s at %s: %v", r.Name(), ts, err)
			}
			q := r.Query().String()
			name := fmt.Sprintf("%s#%02d %s", g.Name(), i, r.Name())
			rc := perRule[name]
			if rc == nil {
				rc = &ruleCost{}
				perRule[name] = rc
			}
			rc.cpu += b.queryCPU[q]
			rc.samples += b.querySamples[q]
			delete(b.queryCPU, q)
			delete(b.querySamples, q)
		}
	}
}

// dump returns every recorded series and alert at ts, one sorted line each.
func (b *bench) dump(tb testing.TB, ts time.Time) []string {
	tb.Helper()
	vec := b.query(tb, `{__name__=~"mailcluster:.+|ALERTS"}`, ts)
	lines := make([]string, 0, len(vec))
	for _, s := range vec {
		lines = append(lines, fmt.Sprintf("%s %g", s.Metric, s.F))
	}
	// The alerts as the rules hold them (pending or firing), with value.
	for _, g := range b.groups {
		for _, r := range g.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok {
				continue
			}
			for _, a := range ar.ActiveAlerts() {
				lines = append(lines, fmt.Sprintf("ALERT %s %s %s %g", ar.Name(), a.Labels, a.State, a.Value))
			}
		}
	}
	sort.Strings(lines)
	return lines
}

func (b *bench) query(tb testing.TB, expr string, ts time.Time) promql.Vector {
	tb.Helper()
	ctx := context.Background()
	q, err := b.engine.NewInstantQuery(ctx, b.st, nil, expr, ts)
	if err != nil {
		tb.Fatal(err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		tb.Fatal(res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		tb.Fatal(err)
	}
	// Close gives the result's memory back to the engine: keep a copy.
	return append(promql.Vector(nil), vec...)
}

func clustersFromEnv(def int) int {
	if v := os.Getenv("RULEBENCH_CLUSTERS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// BenchmarkRuleEval evaluates the bundled rule groups, one after the other
// as a rule manager with sequential evaluation does, over exporter-shaped
// series of RULEBENCH_CLUSTERS clusters (default 1,000). It reports wall
// and CPU time per evaluation of each group and prints the costliest
// rules. With RULEBENCH_DUMP=file it writes every rule result at the
// last evaluation, to compare two versions of the rules.
func BenchmarkRuleEval(b *testing.B) {
	runRuleBench(b, ruleFiles())
}

// BenchmarkRawReadFloor evaluates, instead of the bundled rules, one
// `max by(cluster, node)` per raw metric that the bundled rules read:
// what reading every raw series once per evaluation costs, the least any
// version of the rules can cost.
func BenchmarkRawReadFloor(b *testing.B) {
	path := floorRuleFile(b, ruleFiles())
	keepFloor(b, path)
	runRuleBench(b, []string{path})
}

// BenchmarkContractFloor adds to the raw read floor the contract's outputs
// (DESIGN §5, §6: the role stateset, service and virtual service statuses,
// the redundancy code, the wall tile and the nine gates), each series
// written from a single input series: what any version of the rules pays
// before it computes anything.
func BenchmarkContractFloor(b *testing.B) {
	path := contractFloorRuleFile(b, ruleFiles())
	keepFloor(b, path)
	runRuleBench(b, []string{path})
}

// contractRules record as many series as the contract's outputs, each from
// one input series.
func contractRules() string {
	var sb strings.Builder
	rule := func(name, expr string) {
		fmt.Fprintf(&sb, "      - record: %s\n        expr: %s\n", name, expr)
	}
	rule("floor:contract:cluster", "group by(cluster)(mailcluster_node_info)")
	rule("floor:contract:node", "group by(cluster, node)(mailcluster_node_info)")
	for _, role := range roleStates {
		rule("floor:contract:node_role", fmt.Sprintf(`label_replace(floor:contract:node, "role", %q, "", "")`, role))
	}
	rule("floor:contract:service_status", "max by(cluster, node, service)(mailcluster_service_up)")
	rule("floor:contract:virtual_service_status", "max by(cluster, service)(mailcluster_virtual_service_up)")
	for _, out := range []string{"redundancy_status", "status", "gate1", "gate2", "gate3", "gate4", "gate5", "gate6", "gate7", "gate8", "gate9"} {
		rule("floor:contract:"+out, "floor:contract:cluster")
	}
	return sb.String()
}

func contractFloorRuleFile(tb testing.TB, files []string) string {
	tb.Helper()
	path := floorRuleFile(tb, files)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(contractRules())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// floorRuleFile writes the floor's rule file (see BenchmarkRawReadFloor)
// for the metrics that the rules in files select, recorded series left out.
func floorRuleFile(tb testing.TB, files []string) string {
	tb.Helper()
	raw := map[string]bool{}
	for _, f := range files {
		rs, errs := promqlcheck.CheckRuleFile(f)
		if len(errs) > 0 {
			tb.Fatalf("%s: %v", f, errs)
		}
		for _, r := range rs {
			for _, m := range r.Metrics {
				if !strings.Contains(m, ":") {
					raw[m] = true
				}
			}
		}
	}
	names := make([]string, 0, len(raw))
	for m := range raw {
		names = append(names, m)
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString("groups:\n  - name: mailcluster.rules\n    rules:\n")
	for _, m := range names {
		fmt.Fprintf(&sb, "      - record: floor:%s\n        expr: max by(cluster, node)(%s)\n", m, m)
	}
	path := filepath.Join(tb.TempDir(), "floor.yml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("floor: %d raw metrics", len(names))
	return path
}

// keepFloor copies a floor rule file to the directory RULEBENCH_WRITE_FLOOR,
// if set, as mailcluster.rules.yml beside an empty mailcluster.alerts.yml,
// for a real server (bench/scale.sh RULES_DIR=dir).
func keepFloor(tb testing.TB, path string) {
	tb.Helper()
	dir := os.Getenv("RULEBENCH_WRITE_FLOOR")
	if dir == "" {
		return
	}
	rules, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "mailcluster.rules.yml"), rules, 0o644)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "mailcluster.alerts.yml"), []byte("groups: []\n"), 0o644)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("floor rules written to %s", dir)
}

func runRuleBench(b *testing.B, files []string) {
	clusters := clustersFromEnv(1000)
	// The testing package calls the sub-benchmark more than once (b.N 1,
	// then the target): the storage is filled once, here, and the
	// evaluations go on from where the last call stopped.
	t0 := time.Now()
	span := spanFromEnv()
	bn := newBench(b, clusters, files)
	b.Logf("%d series, %d samples each, filled in %s", bn.series, int(span/Scrape)+1, time.Since(t0).Round(time.Millisecond))
	next := time.Unix(0, 0).UTC().Add(span - 10*time.Minute)
	// Two evaluations first, so that rules reading earlier results (for:,
	// last_over_time of recorded series) see some history.
	scratch := map[string]*cost{}
	for range 2 {
		bn.eval(b, next, scratch, map[string]*ruleCost{})
		next = next.Add(Scrape)
	}
	b.Run(fmt.Sprintf("clusters=%d", clusters), func(b *testing.B) {
		groups := map[string]*cost{}
		perRule := map[string]*ruleCost{}
		// Evaluations stay within the filled span (it ends 10 minutes
		// after the first one).
		end := time.Unix(0, 0).UTC().Add(span)
		step := end.Sub(next) / time.Duration(b.N+2)
		ts := next
		b.ResetTimer()
		for range b.N {
			bn.eval(b, ts, groups, perRule)
			ts = ts.Add(step)
		}
		b.StopTimer()
		next = ts
		var total cost
		for name, c := range groups {
			short := strings.TrimPrefix(name, "mailcluster.")
			b.ReportMetric(float64(c.wall.Nanoseconds())/float64(b.N), short+"-ns/op")
			b.ReportMetric(float64(c.cpu.Nanoseconds())/float64(b.N), short+"-cpu-ns/op")
			b.ReportMetric(float64(c.thread.Nanoseconds())/float64(b.N), short+"-thread-ns/op")
			total.wall += c.wall
			total.cpu += c.cpu
			total.thread += c.thread
		}
		b.ReportMetric(float64(total.cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(total.thread.Nanoseconds())/float64(b.N), "thread-ns/op")
		var samples int64
		for _, rc := range perRule {
			samples += rc.samples
		}
		b.ReportMetric(float64(samples)/float64(b.N), "samples-read/op")
		printTop(perRule, b.N, 30)
		if path := os.Getenv("RULEBENCH_DUMP"); path != "" {
			lines := bn.dump(b, ts.Add(-step))
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			b.Logf("wrote %d results to %s", len(lines), path)
		}
	})
}

// printTop prints the costliest rules by CPU time, with the samples each
// read per evaluation: unlike time, the samples do not move between runs,
// so they compare two versions of a rule exactly.
func printTop(perRule map[string]*ruleCost, n, top int) {
	type row struct {
		name    string
		d       time.Duration
		samples int64
	}
	var rows []row
	var sum time.Duration
	var samples int64
	for k, v := range perRule {
		rows = append(rows, row{k, v.cpu / time.Duration(n), v.samples / int64(n)})
		sum += v.cpu / time.Duration(n)
		samples += v.samples / int64(n)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].d > rows[j].d })
	var sb strings.Builder
	fmt.Fprintf(&sb, "per rule and evaluation: CPU time of the evaluating thread (sum %s), samples read (sum %d):\n", sum.Round(time.Microsecond), samples)
	for i, r := range rows {
		if i == top {
			break
		}
		fmt.Fprintf(&sb, "  %12s  %9d  %s\n", r.d.Round(time.Microsecond), r.samples, r.name)
	}
	// b.Log truncates a benchmark's output: print the table whole.
	fmt.Print(sb.String())
}

// TestRuleEvalSmall runs the benchmark's setup at a small scale: every
// rule evaluates without error, and the simulated clusters get the wall
// colours their scenarios call for.
func TestRuleEvalSmall(t *testing.T) {
	const clusters = 50
	bn := newBench(t, clusters, ruleFiles())
	base := time.Unix(0, 0).UTC().Add(defaultSpan - 10*time.Minute)
	groups, perRule := map[string]*cost{}, map[string]*ruleCost{}
	for k := range 3 {
		bn.eval(t, base.Add(time.Duration(k)*Scrape), groups, perRule)
	}
	status := map[string]string{}
	for _, s := range bn.query(t, "mailcluster:status:code", base.Add(2*Scrape)) {
		status[s.Metric.Get("cluster")] = fmt.Sprint(s.F)
	}
	if len(status) != clusters {
		t.Errorf("status:code for %d clusters, want %d", len(status), clusters)
	}
	for i, want := range map[int]string{0: "1", 4: "2", 11: "3"} {
		if got := status[ClusterName(i)]; got != want {
			t.Errorf("status of %s (%+v) = %q, want %q", ClusterName(i), scenarioFor(i), got, want)
		}
	}
	// An instant selector reads one sample per series: the rule that
	// reduces service_up read each of its series once per evaluation.
	series := bn.query(t, "count(mailcluster_service_up)", base.Add(2*Scrape))
	for name, rc := range perRule {
		if strings.HasSuffix(name, " mailcluster:service_up:max") {
			if want := 3 * int64(series[0].F); rc.samples != want {
				t.Errorf("%s read %d samples in 3 evaluations, want %d", name, rc.samples, want)
			}
			return
		}
	}
	t.Error("no rule mailcluster:service_up:max measured")
}
