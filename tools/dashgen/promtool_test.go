package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mailcluster/mailcluster_exporter/tools/dashgen/dashq"
)

// Semantic check of the non-trivial dashboard queries (wall tile
// refinement, causes, roles, next step, gates) against the bundled
// recording rules, with `promtool test rules` and a synthetic set of
// clusters. Skipped when promtool is not installed.

type promTest struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	Tests              []promTC `yaml:"tests"`
}

type promTC struct {
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

// scenario is an active_standby cluster n1 (active) / n2 with one gated
// service smtp, healthy unless changed.
type scenario struct {
	cluster      string
	n2Role       string  // standby unless set
	n2Sync       string  // synced unless set
	n1SmtpUp     float64 // 1 unless n1SmtpDown
	n1SmtpDown   bool
	n1ProbeDelay float64 // seconds; threshold is 1
}

func (s scenario) series() []promSeries {
	var out []promSeries
	add := func(metric string, labels string, v float64) {
		out = append(out, promSeries{
			Series: fmt.Sprintf(`%s{cluster=%q,%s}`, metric, s.cluster, labels),
			Values: fmt.Sprintf("%gx15", v),
		})
	}
	n2Role, n2Sync := s.n2Role, s.n2Sync
	if n2Role == "" {
		n2Role = "standby"
	}
	if n2Sync == "" {
		n2Sync = "synced"
	}
	up1 := 1.0
	if s.n1SmtpDown {
		up1 = 0
	}
	probe1 := 0.1
	if s.n1ProbeDelay > 0 {
		probe1 = s.n1ProbeDelay
	}
	add("mailcluster_node_info", `node="n1",kind="active_standby",address="10.0.0.1",priority="1",preferred="true"`, 1)
	add("mailcluster_node_info", `node="n2",kind="active_standby",address="10.0.0.2",priority="2",preferred="false"`, 1)
	add("mailcluster_node_role", `node="n1",role="active"`, 1)
	add("mailcluster_node_role", fmt.Sprintf(`node="n2",role=%q`, n2Role), 1)
	add("mailcluster_peer_up", `node="n1",peer="n2"`, 1)
	add("mailcluster_sync_state", `node="n1",state="synced"`, 1)
	add("mailcluster_sync_state", fmt.Sprintf(`node="n2",state=%q`, n2Sync), 1)
	add("mailcluster_redundancy_enabled", `node="n1"`, 1)
	add("mailcluster_redundancy_enabled", `node="n2"`, 1)
	add("mailcluster_software_info", `node="n1",version="2.0.7"`, 1)
	add("mailcluster_software_info", `node="n2",version="2.0.7"`, 1)
	add("mailcluster_restart_required", `node="n1"`, 0)
	add("mailcluster_service_info", `service="smtp",protocol="smtp",port="25",tls="false",gated="true"`, 1)
	add("mailcluster_service_slow_threshold_seconds", `service="smtp"`, 1)
	add("mailcluster_service_up", `node="n1",service="smtp"`, up1)
	add("mailcluster_service_up", `node="n2",service="smtp"`, 0)
	add("mailcluster_service_probe_duration_seconds", `node="n1",service="smtp"`, probe1)
	add("mailcluster_service_probe_duration_seconds", `node="n2",service="smtp"`, 0.1)
	add("mailcluster_virtual_service_up", `service="smtp"`, 1)
	add("mailcluster_virtual_service_probe_duration_seconds", `service="smtp"`, 0.1)
	add("mailcluster_update_window_open", ``, 0)
	return out
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

func TestQueriesAgainstRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed")
	}
	rules, err := filepath.Abs(filepath.Join(rulesDir, "mailcluster.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// The wall selects clusters by regex, the others by name.
	oneQ := func(c string) []dashq.Query {
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
	wallQ := oneQ("c.+")

	scenarios := []scenario{
		{cluster: "c1"}, // green
		{cluster: "c2", n2Sync: "syncing", n1ProbeDelay: 5}, // syncing and slow: SYNCING
		{cluster: "c3", n1ProbeDelay: 5},                    // slow only: DEGRADED (12)
		{cluster: "c4", n2Role: "offline"},                  // peer down, mail served: RED (13)
		{cluster: "c5", n1SmtpDown: true},                   // smtp down on the active node: DOWN (3)
	}
	var input []promSeries
	for _, s := range scenarios {
		input = append(input, s.series()...)
	}
	const at = "10m"
	exprs := []promExpr{
		{
			Expr: findQuery(t, wallQ, "mailcluster-wall.json", "Cluster status", "A"), EvalTime: at,
			ExpSamples: []promSample{
				{`{cluster="c1"}`, 1}, {`{cluster="c2"}`, 2}, {`{cluster="c3"}`, 12}, {`{cluster="c4"}`, 13}, {`{cluster="c5"}`, 3},
			},
		},
		{
			Expr: findQuery(t, wallQ, "mailcluster-wall.json", "Needs attention", "A"), EvalTime: at,
			ExpSamples: []promSample{
				{`{cluster="c2", reason="syncing"}`, 2},
				{`{cluster="c2", node="n1", service="smtp", reason="smtp@n1"}`, 2},
				{`{cluster="c3", node="n1", service="smtp", reason="smtp@n1"}`, 2},
				{`{cluster="c4", reason="peer_down"}`, 3},
				{`{cluster="c5", node="n1", service="smtp", reason="smtp@n1"}`, 3},
			},
		},
		{
			Expr: findQuery(t, oneQ("c4"), "mailcluster-wall.json", "Nodes — $cluster", "A"), EvalTime: at,
			ExpSamples: []promSample{{`{cluster="c4", node="n1"}`, 1}, {`{cluster="c4", node="n2"}`, 5}},
		},
		{
			Expr: findQuery(t, oneQ("c1"), "mailcluster-wall.json", "Services — $cluster", "A"), EvalTime: at,
			ExpSamples: []promSample{
				{`{node="n1", service="smtp"}`, 1}, {`{node="n2", service="smtp"}`, 0},
				{`{node="virtual address", service="smtp"}`, 1},
			},
		},
		{
			Expr: findQuery(t, oneQ("c2"), "mailcluster-cluster.json", "Sync state", "A"), EvalTime: at,
			ExpSamples: []promSample{{`{cluster="c2", node="n1"}`, 1}, {`{cluster="c2", node="n2"}`, 2}},
		},
		{
			// c1: smtp (gated) is up, so the first gate is not satisfied.
			Expr: findQuery(t, oneQ("c1"), "mailcluster-update-window.json", "Next step", "A"), EvalTime: at,
			ExpSamples: []promSample{{`{cluster="c1"}`, 1}},
		},
		{
			Expr: findQuery(t, oneQ("c1"), "mailcluster-update-window.json", "3. versions_match — every configured node reports a version and all versions are equal", "A"), EvalTime: at,
			ExpSamples: []promSample{{`{cluster="c1"}`, 1}},
		},
		{
			Expr: findQuery(t, wallQ, "mailcluster-wall.json", "Firing alerts", "A"), EvalTime: at,
			ExpSamples: []promSample{{`{}`, 0}},
		},
	}
	doc := promTest{
		RuleFiles:          []string{rules},
		EvaluationInterval: "1m",
		Tests:              []promTC{{Interval: "1m", InputSeries: input, ExprTests: exprs}},
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
		t.Fatalf("promtool test rules: %v\n%s", err, strings.TrimSpace(string(out)))
	}
}
