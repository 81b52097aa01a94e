package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mailcluster/mailcluster_exporter/tools/dashgen/dashq"
)

// Semantic checks of the dashboard queries against the bundled recording
// rules with `promtool test rules`: the committed dashboards' queries (with
// the variables substituted) are evaluated over input series shaped like
// the exporters' exposition (one exporter per node with its reported role,
// one agentless prober with the observations and service checks, full
// state sets, instance/job labels). Skipped when promtool is not installed.

type promTest struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	GroupEvalOrder     []string `yaml:"group_eval_order,omitempty"`
	Tests              []promTC `yaml:"tests"`
}

type promTC struct {
	Name        string       `yaml:"name,omitempty"`
	Interval    string       `yaml:"interval"`
	InputSeries []promSeries `yaml:"input_series"`
	ExprTests   []promExpr   `yaml:"promql_expr_test"`
}

type promSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type promExpr struct {
	Expr       string       `yaml:"expr"`
	EvalTime   string       `yaml:"eval_time"`
	ExpSamples []promSample `yaml:"exp_samples"`
}

type promSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// state is what a synthetic cluster shows; each one is made from the facts
// an exporter would export in that situation (see clusterSeries).
type state string

const (
	stOK         state = "ok"
	stInUpdate   state = "in_update"   // window open, healthy
	stDisabled   state = "disabled"    // redundancy switched off on n1
	stSyncing    state = "syncing"     // n2 syncing
	stDegraded   state = "degraded"    // n1's smtp probe slower than the threshold
	stNoData     state = "no_data"     // every exporter of the cluster stopped at 4m
	stNoEvidence state = "no_evidence" // n2's role source fails
	stOutOfSync  state = "out_of_sync" // n2 out of sync
	stPeerDown   state = "peer_down"   // n1 does not see n2
	stNoActive   state = "no_active"   // both nodes report standby
	stDown       state = "down"        // smtp down on the active node
	stSplit      state = "split"       // both nodes report active
)

// wallWant is the wall code each state must show (gen.WallStates).
var wallWant = map[state]int{
	stOK: 10, stInUpdate: 20, stDisabled: 30, stSyncing: 40, stDegraded: 45, stNoData: 50,
	stNoEvidence: 60, stOutOfSync: 65, stPeerDown: 70, stNoActive: 75, stDown: 80, stSplit: 90,
}

// allStates in the order clusters are given them: cluster i has
// allStates[i % len(allStates)], so 1 cluster is OK and 10 cover most.
var allStates = []state{stOK, stSplit, stSyncing, stNoData, stInUpdate, stPeerDown, stDegraded, stDown, stOutOfSync, stNoActive, stNoEvidence, stDisabled}

// seriesSet collects input series; values is promtool's expanding notation.
type seriesSet struct{ out []promSeries }

func (s *seriesSet) add(metric, labels, values string) {
	s.out = append(s.out, promSeries{Series: metric + "{" + labels + "}", Values: values})
}

// stateSet adds a state set gauge: 1 for cur, 0 for every other state.
func (s *seriesSet) stateSet(metric, label, labels string, states []string, cur, values1, values0 string) {
	for _, st := range states {
		v := values0
		if st == cur {
			v = values1
		}
		s.add(metric, fmt.Sprintf("%s,%s=%q", labels, label, st), v)
	}
}

var (
	roleStates     = []string{"active", "standby", "master", "slave", "offline", "unknown"}
	syncStates     = []string{"synced", "syncing", "out_of_sync", "disabled", "unknown"}
	observedStates = []string{"serving", "alive", "silent"}
)

// exporter labels: each node runs an exporter with its local sources
// (keepalived role, dovecot sync, peer link, version); the agentless
// prober (one for every cluster) runs the service probes.
func nodeExporter(c, n string) string {
	return fmt.Sprintf(`instance="%s-%s:19025",job="mailcluster"`, c, n)
}

const prober = `instance="monitor:19025",job="mailcluster-probe"`

// clusterSeries: an active_standby cluster, n1 preferred and active, n2
// standby, one gated service smtp, in state st, sampled every minute from
// 0 to 15m (to 4m for stNoData).
func clusterSeries(c string, st state) []promSeries {
	var s seriesSet
	v1, v0 := "1x15", "0x15"
	if st == stNoData {
		v1, v0 = "1x4", "0x4"
	}
	num := func(x float64) string {
		if st == stNoData {
			return fmt.Sprintf("%gx4", x)
		}
		return fmt.Sprintf("%gx15", x)
	}
	role := map[string]string{"n1": "active", "n2": "standby"}
	switch st {
	case stSplit:
		role["n2"] = "active"
	case stNoActive:
		role["n1"] = "standby"
	case stNoEvidence:
		role["n2"] = "unknown"
	}
	sync := map[string]string{"n1": "synced", "n2": "synced"}
	switch st {
	case stSyncing:
		sync["n2"] = "syncing"
	case stOutOfSync:
		sync["n2"] = "out_of_sync"
	}
	smtpUp := map[string]float64{"n1": 1, "n2": 0}
	if st == stDown {
		smtpUp["n1"] = 0
	}
	if st == stSplit {
		smtpUp["n2"] = 1
	}
	window := 0.0
	if st == stInUpdate {
		window = 1
	}
	for i, n := range []string{"n1", "n2"} {
		own := nodeExporter(c, n)
		for j, m := range []string{"n1", "n2"} {
			// every exporter exports every configured node and service
			s.add("mailcluster_node_info", fmt.Sprintf(`cluster=%q,node=%q,kind="active_standby",address="192.0.2.%d",priority="%d",preferred="%t",%s`, c, m, 11+j, j+1, j == 0, own), v1)
		}
		s.add("mailcluster_service_info", fmt.Sprintf(`cluster=%q,service="smtp",protocol="smtp",port="25",tls="none",gated="true",%s`, c, own), v1)
		s.add("mailcluster_service_slow_threshold_seconds", fmt.Sprintf(`cluster=%q,service="smtp",%s`, c, own), num(1))
		s.add("mailcluster_update_window_open", fmt.Sprintf(`cluster=%q,%s`, c, own), num(window))
		nl := fmt.Sprintf(`cluster=%q,node=%q,%s`, c, n, own)
		s.stateSet("mailcluster_node_role", "role", nl, roleStates, role[n], v1, v0)
		s.stateSet("mailcluster_sync_state", "state", nl, syncStates, sync[n], v1, v0)
		enabled := 1.0
		if st == stDisabled && n == "n1" {
			enabled = 0
		}
		s.add("mailcluster_redundancy_enabled", nl, num(enabled))
		peer := 1.0
		if st == stPeerDown && n == "n1" {
			peer = 0
		}
		s.add("mailcluster_peer_up", fmt.Sprintf(`%s,peer=%q`, nl, []string{"n2", "n1"}[i]), num(peer))
		s.add("mailcluster_software_info", fmt.Sprintf(`%s,version="2.0.7"`, nl), v1)
		s.add("mailcluster_restart_required", nl, num(0))
		sourceUp := 1.0
		if st == stNoEvidence && n == "n2" {
			sourceUp = 0
		}
		s.add("mailcluster_source_up", fmt.Sprintf(`%s,source="keepalived"`, nl), num(sourceUp))
		s.add("mailcluster_exporter_config_last_reload_successful", own, num(1))
		up := "1x15"
		if st == stNoData {
			up = "1x4 0x11"
		}
		s.add("up", own, up)
	}
	// the prober: observations and service checks of both nodes and the
	// virtual address
	for _, n := range []string{"n1", "n2"} {
		nl := fmt.Sprintf(`cluster=%q,node=%q,%s`, c, n, prober)
		obs := "alive"
		if smtpUp[n] == 1 {
			obs = "serving"
		}
		s.stateSet("mailcluster_node_observed", "state", nl, observedStates, obs, v1, v0)
		s.add("mailcluster_service_up", nl+`,service="smtp"`, num(smtpUp[n]))
		d := 0.1
		if st == stDegraded && n == "n1" {
			d = 5
		}
		s.add("mailcluster_service_probe_duration_seconds", nl+`,service="smtp"`, num(d))
	}
	vl := fmt.Sprintf(`cluster=%q,service="smtp",%s`, c, prober)
	s.add("mailcluster_node_info", fmt.Sprintf(`cluster=%q,node="n1",kind="active_standby",address="192.0.2.11",priority="1",preferred="true",%s`, c, prober), v1)
	s.add("mailcluster_node_info", fmt.Sprintf(`cluster=%q,node="n2",kind="active_standby",address="192.0.2.12",priority="2",preferred="false",%s`, c, prober), v1)
	s.add("mailcluster_service_info", fmt.Sprintf(`cluster=%q,service="smtp",protocol="smtp",port="25",tls="none",gated="true",%s`, c, prober), v1)
	s.add("mailcluster_update_window_open", fmt.Sprintf(`cluster=%q,%s`, c, prober), num(window))
	s.add("mailcluster_virtual_service_up", vl, num(1))
	s.add("mailcluster_virtual_service_probe_duration_seconds", vl, num(0.1))
	return s.out
}

// queriesFor lists the committed dashboards' queries with $cluster = c.
func queriesFor(t *testing.T, c string) []dashq.Query {
	t.Helper()
	vars := map[string]string{"cluster": c}
	for k, v := range dashq.DefaultVars {
		if k != "cluster" {
			vars[k] = v
		}
	}
	qs, err := dashq.QueriesWith(dashDir, vars)
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

func findQuery(t *testing.T, qs []dashq.Query, file, panel, ref string) string {
	t.Helper()
	for _, q := range qs {
		if q.File == file && q.Panel == panel && (ref == "" || q.RefID == ref) {
			return q.Expr
		}
	}
	t.Fatalf("no query %s / %s %s", file, panel, ref)
	return ""
}

// runPromtool writes doc to a temporary file and runs promtool test rules.
func runPromtool(t *testing.T, doc promTest) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed")
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboards_test.yml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", f).CombinedOutput()
	if err != nil {
		msg := string(out)
		if len(msg) > 20000 {
			msg = msg[:20000] + "\n…"
		}
		t.Fatalf("promtool test rules: %v\n%s", err, strings.TrimSpace(msg))
	}
}

func rulesFile(t *testing.T) string {
	t.Helper()
	f, err := filepath.Abs(filepath.Join(rulesDir, "mailcluster.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The wall at 1, 10, 50 and 300 clusters: every cluster has a tile in its
// state (NO DATA for the one whose exporters died), the exceptions are
// exactly the clusters that are not green, the counts partition the
// clusters, the history holds every cluster, and the watchdog and
// exporter health read right.
func TestWallAtScale(t *testing.T) {
	for _, n := range scaleCounts {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			qs := queriesFor(t, "c.+")
			var input []promSeries
			var tiles, exceptions, history []promSample
			counts := map[string]int{}
			downExporters := 0
			for i := 0; i < n; i++ {
				c := fmt.Sprintf("c%03d", i)
				st := allStates[i%len(allStates)]
				input = append(input, clusterSeries(c, st)...)
				code := float64(wallWant[st])
				labels := fmt.Sprintf(`{cluster=%q}`, c)
				if st == stInUpdate {
					labels = fmt.Sprintf(`{cluster=%q, marker="⚒ update"}`, c)
				}
				tiles = append(tiles, promSample{labels, code})
				history = append(history, promSample{fmt.Sprintf(`{cluster=%q}`, c), code})
				if st != stOK {
					exceptions = append(exceptions, promSample{labels, code})
				}
				switch {
				case st == stNoData:
					counts["NO DATA"]++
					downExporters += 2
				case st == stInUpdate:
					counts["IN UPDATE"]++
				case code == 10:
					counts["OK"]++
				case code == 40 || code == 45:
					counts["SYNCING"]++
				case code == 30:
					counts["OFF"]++
				default:
					counts["DOWN"]++
				}
			}
			input = append(input, promSeries{Series: `up{` + prober + `}`, Values: "1x15"})
			const at = "10m"
			const wall = "mailcluster-wall.json"
			exprs := []promExpr{
				{Expr: findQuery(t, qs, wall, "All clusters", "A"), EvalTime: at, ExpSamples: tiles},
				{Expr: findQuery(t, qs, wall, "Needs attention — worst first", "A"), EvalTime: at, ExpSamples: exceptions},
				{Expr: findQuery(t, qs, wall, "History — every cluster", "A"), EvalTime: at, ExpSamples: history},
				{Expr: findQuery(t, qs, wall, "Data freshness", "A"), EvalTime: at, ExpSamples: []promSample{{`{}`, 600000}}},
				{Expr: findQuery(t, qs, wall, "Data freshness", "B"), EvalTime: at, ExpSamples: []promSample{{`{}`, 0}}},
				{Expr: findQuery(t, qs, wall, "Exporters", "A"), EvalTime: at, ExpSamples: []promSample{{`{}`, float64(2*n + 1 - downExporters)}}},
				{Expr: findQuery(t, qs, wall, "Exporters", "B"), EvalTime: at, ExpSamples: []promSample{{`{}`, float64(downExporters)}}},
				{Expr: findQuery(t, qs, wall, "Exporters", "C"), EvalTime: at, ExpSamples: []promSample{{`{}`, 0}}},
			}
			for i, name := range []string{"OK", "SYNCING", "DOWN", "OFF", "NO DATA", "IN UPDATE"} {
				exprs = append(exprs, promExpr{
					Expr: findQuery(t, qs, wall, "Clusters", string(rune('A'+i))), EvalTime: at,
					ExpSamples: []promSample{{`{}`, float64(counts[name])}},
				})
			}
			tc := promTC{Interval: "1m", InputSeries: input, ExprTests: exprs}
			if n > promtoolMaxClusters {
				evalInProcess(t, rulesFile(t), tc)
				return
			}
			runPromtool(t, promTest{
				RuleFiles:          []string{rulesFile(t)},
				EvaluationInterval: "1m",
				Tests:              []promTC{tc},
			})
		})
	}
}

// Worst first: the tile queries sort by the state code, whose order is the
// severity order.
func TestWallSortsWorstFirst(t *testing.T) {
	qs := queriesFor(t, "c.+")
	for _, p := range []string{"All clusters", "Needs attention — worst first"} {
		e := strings.TrimSpace(findQuery(t, qs, "mailcluster-wall.json", p, "A"))
		if !strings.HasPrefix(e, "sort_desc(") {
			t.Errorf("%s: not sorted worst first: %.60s…", p, e)
		}
	}
	codes := map[int]bool{}
	for _, st := range allStates {
		codes[wallWant[st]] = true
	}
	var sorted []int
	for c := range codes {
		sorted = append(sorted, c)
	}
	sort.Ints(sorted)
	if len(sorted) != len(allStates) {
		t.Errorf("states share a code: %v", sorted)
	}
}

// The cluster detail for a few states: the resolved roles, the current
// service × node matrix, the evidence of each exporter side by side, and
// the overall status word.
func TestClusterDetailQueries(t *testing.T) {
	var input []promSeries
	for _, c := range []struct {
		name string
		st   state
	}{{"d1", stOK}, {"d2", stPeerDown}, {"d3", stSplit}, {"d4", stNoEvidence}} {
		input = append(input, clusterSeries(c.name, c.st)...)
	}
	const at = "10m"
	const file = "mailcluster-cluster.json"
	d1, d3, d4 := queriesFor(t, "d1"), queriesFor(t, "d3"), queriesFor(t, "d4")
	n1, n2 := nodeExporter("d3", "n1"), nodeExporter("d3", "n2")
	inst := func(l string) string {
		return strings.TrimSuffix(strings.TrimPrefix(l, `instance="`), `",job="mailcluster"`)
	}
	exprs := []promExpr{
		{Expr: findQuery(t, d1, file, "Overall status", "A"), EvalTime: at, ExpSamples: []promSample{{`{cluster="d1"}`, 10}}},
		{Expr: findQuery(t, d3, file, "Overall status", "A"), EvalTime: at, ExpSamples: []promSample{{`{cluster="d3"}`, 90}}},
		{Expr: findQuery(t, d3, file, "Node roles", "A"), EvalTime: at, ExpSamples: []promSample{{`{cluster="d3", node="n1"}`, 1}, {`{cluster="d3", node="n2"}`, 1}}},
		// n2's role source failed (reported unknown): the prober's
		// observation (alive) resolves it to standby; the cluster is red for
		// the failed source, not for the role.
		{Expr: findQuery(t, d4, file, "Node roles", "A"), EvalTime: at, ExpSamples: []promSample{{`{cluster="d4", node="n1"}`, 1}, {`{cluster="d4", node="n2"}`, 2}}},
		{Expr: findQuery(t, d4, file, "Overall status", "A"), EvalTime: at, ExpSamples: []promSample{{`{cluster="d4"}`, 60}}},
		{Expr: findQuery(t, d1, file, "Services — node × service", "A"), EvalTime: at, ExpSamples: []promSample{
			{`{node="n1", service="smtp"}`, 1}, {`{node="n2", service="smtp"}`, 0}, {`{node="virtual address", service="smtp"}`, 1},
		}},
		{Expr: findQuery(t, d4, file, "Evidence per exporter", "A"), EvalTime: at, ExpSamples: []promSample{
			{`{node="n1", column=" resolved"}`, 1},
			{`{node="n2", column=" resolved"}`, 2},
			{fmt.Sprintf(`{node="n1", instance=%q, column="%s reported"}`, inst(nodeExporter("d4", "n1")), inst(nodeExporter("d4", "n1"))), 1},
			{fmt.Sprintf(`{node="n2", instance=%q, column="%s reported"}`, inst(nodeExporter("d4", "n2")), inst(nodeExporter("d4", "n2"))), 6},
			{`{node="n1", instance="monitor:19025", column="monitor:19025 observed"}`, 11},
			{`{node="n2", instance="monitor:19025", column="monitor:19025 observed"}`, 12},
		}},
		{Expr: findQuery(t, d3, file, "Evidence per exporter", "A"), EvalTime: at, ExpSamples: []promSample{
			{`{node="n1", column=" resolved"}`, 1},
			{`{node="n2", column=" resolved"}`, 1},
			{fmt.Sprintf(`{node="n1", instance=%q, column="%s reported"}`, inst(n1), inst(n1)), 1},
			{fmt.Sprintf(`{node="n2", instance=%q, column="%s reported"}`, inst(n2), inst(n2)), 1},
			{`{node="n1", instance="monitor:19025", column="monitor:19025 observed"}`, 11},
			{`{node="n2", instance="monitor:19025", column="monitor:19025 observed"}`, 11},
		}},
		{Expr: findQuery(t, queriesFor(t, "d2"), file, "Peer", "A"), EvalTime: at, ExpSamples: []promSample{
			{`{cluster="d2", node="n1", peer="n2"}`, 0}, {`{cluster="d2", node="n2", peer="n1"}`, 1},
		}},
	}
	runPromtool(t, promTest{
		RuleFiles:          []string{rulesFile(t)},
		EvaluationInterval: "1m",
		Tests:              []promTC{{Interval: "1m", InputSeries: input, ExprTests: exprs}},
	})
}

// scaleCounts are the wall sizes checked. promtool caps one evaluation at
// 50,000 samples, which the rules exceed from about 250 clusters, so
// sizes above promtoolMaxClusters run in Prometheus's engine in process
// (evalInProcess) with a server's limit.
var scaleCounts = []int{1, 10, 50, 300}

const promtoolMaxClusters = 200
