package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mailcluster/mailcluster_exporter/tools/dashgen/gen"
)

// The update procedure walked through its nine steps, and every query of
// the update-window dashboard checked at each step, including after step 9
// and after the window closed. The walk is written to rules/tests/phase.yml
// (so `promtool test rules rules/tests/*.yml` runs it with the other rule
// tests); this test fails when that file is not what the committed
// dashboards and the walk below produce, and runs promtool on it.
//
//	go test ./dashgen -run TestPhaseWalk -update-phase   # rewrite rules/tests/phase.yml

var updatePhase = flag.Bool("update-phase", false, "rewrite rules/tests/phase.yml from the walk and the committed dashboards")

const phaseFile = "../../rules/tests/phase.yml"

// walkMinutes is the length of the walk; segments of 5 minutes:
//
//	 0 A window closed, healthy, mail served
//	 5 B window open (for 2 h: ends at 7500 s)
//	10 C gated services stopped on n1 and the virtual address       → gate 1
//	15 D redundancy disabled, n2 down (offline), n2 updated to 2.0.8 → gate 2
//	20 E n1 updated too                                            → gate 3
//	25 F redundancy enabled, n2 syncing, still offline              → gate 4
//	30 G n2 standby again; u1 synced at once, u2 keeps syncing       → gate 5, then 6 (u1) / 7 (u2)
//	35 H services started; n1 asks for a restart                    → gate 8
//	40 I restart flag cleared; u2 synced                            → gate 9
//	45 J step 9 done, window still open
//	50 K window closed
const walkMinutes = 56

type walkFacts struct {
	open, served, enabled, n2Offline, restart bool
	n1Version, n2Version                      string
	sync                                      map[string]string // node -> state
}

func facts(c string, t int) walkFacts {
	f := walkFacts{
		open:      t >= 5 && t < 50,
		served:    t < 10 || t >= 35,
		enabled:   t < 15 || t >= 25,
		n2Offline: t >= 15 && t < 30,
		restart:   t >= 35 && t < 40,
		n1Version: "2.0.7", n2Version: "2.0.7",
		sync: map[string]string{"n1": "synced", "n2": "synced"},
	}
	if t >= 20 {
		f.n1Version = "2.0.8"
	}
	if t >= 15 {
		f.n2Version = "2.0.8"
	}
	switch {
	case t >= 15 && t < 25:
		f.sync = map[string]string{"n1": "disabled", "n2": "disabled"}
	case t >= 25 && t < 30:
		f.sync["n2"] = "syncing"
	case c == "u2" && t >= 30 && t < 40:
		f.sync["n2"] = "syncing"
	}
	return f
}

// walkSeries: the exposition of n1's and n2's exporters and the prober,
// minute by minute.
func walkSeries(c string) []promSeries {
	var s seriesSet
	series := func(metric, labels string, v func(f walkFacts) string) {
		vals := make([]string, walkMinutes)
		for t := range vals {
			vals[t] = v(facts(c, t))
		}
		s.add(metric, labels, strings.Join(vals, " "))
	}
	b := func(x bool) string {
		if x {
			return "1"
		}
		return "0"
	}
	for _, n := range []string{"n1", "n2"} {
		own := nodeExporter(c, n)
		nl := fmt.Sprintf(`cluster=%q,node=%q,%s`, c, n, own)
		for j, m := range []string{"n1", "n2"} {
			series("mailcluster_node_info", fmt.Sprintf(`cluster=%q,node=%q,kind="active_standby",address="192.0.2.%d",priority="%d",preferred="%t",%s`, c, m, 11+j, j+1, j == 0, own), func(walkFacts) string { return "1" })
		}
		series("mailcluster_service_info", fmt.Sprintf(`cluster=%q,service="smtp",protocol="smtp",port="25",tls="none",gated="true",%s`, c, own), func(walkFacts) string { return "1" })
		series("mailcluster_service_slow_threshold_seconds", fmt.Sprintf(`cluster=%q,service="smtp",%s`, c, own), func(walkFacts) string { return "1" })
		series("mailcluster_update_window_open", fmt.Sprintf(`cluster=%q,%s`, c, own), func(f walkFacts) string { return b(f.open) })
		series("mailcluster_update_window_end_timestamp_seconds", fmt.Sprintf(`cluster=%q,%s`, c, own), func(f walkFacts) string { return "7500" })
		for _, r := range roleStates {
			series("mailcluster_node_role", fmt.Sprintf(`%s,role=%q`, nl, r), func(f walkFacts) string {
				cur := "active"
				if n == "n2" {
					cur = "standby"
					if f.n2Offline {
						cur = "offline"
					}
				}
				return b(r == cur)
			})
		}
		for _, st := range syncStates {
			series("mailcluster_sync_state", fmt.Sprintf(`%s,state=%q`, nl, st), func(f walkFacts) string { return b(f.sync[n] == st) })
		}
		series("mailcluster_redundancy_enabled", nl, func(f walkFacts) string { return b(f.enabled) })
		peer := map[string]string{"n1": "n2", "n2": "n1"}[n]
		series("mailcluster_peer_up", fmt.Sprintf(`%s,peer=%q`, nl, peer), func(f walkFacts) string { return b(n == "n2" || !f.n2Offline) })
		for _, v := range []string{"2.0.7", "2.0.8"} {
			s.add("mailcluster_software_info", fmt.Sprintf(`%s,version=%q`, nl, v), versionValues(c, n, v))
		}
		series("mailcluster_restart_required", nl, func(f walkFacts) string { return b(n == "n1" && f.restart) })
		series("mailcluster_source_up", fmt.Sprintf(`%s,source="keepalived"`, nl), func(walkFacts) string { return "1" })
	}
	for _, n := range []string{"n1", "n2"} {
		nl := fmt.Sprintf(`cluster=%q,node=%q,%s`, c, n, prober)
		for _, st := range observedStates {
			series("mailcluster_node_observed", fmt.Sprintf(`%s,state=%q`, nl, st), func(f walkFacts) string {
				cur := "alive"
				if n == "n1" && f.served {
					cur = "serving"
				}
				return b(st == cur)
			})
		}
		series("mailcluster_service_up", nl+`,service="smtp"`, func(f walkFacts) string { return b(n == "n1" && f.served) })
		series("mailcluster_service_probe_duration_seconds", nl+`,service="smtp"`, func(walkFacts) string { return "0.1" })
	}
	vl := fmt.Sprintf(`cluster=%q,service="smtp",%s`, c, prober)
	series("mailcluster_virtual_service_up", vl, func(f walkFacts) string { return b(f.served) })
	series("mailcluster_virtual_service_probe_duration_seconds", vl, func(walkFacts) string { return "0.1" })
	return s.out
}

// versionValues: software_info{version} is exported only while the node
// runs that version (stale otherwise, as when the label value changes).
func versionValues(c, n, v string) string {
	vals := make([]string, walkMinutes)
	for t := range vals {
		f := facts(c, t)
		cur := f.n1Version
		if n == "n2" {
			cur = f.n2Version
		}
		if cur == v {
			vals[t] = "1"
		} else {
			vals[t] = "stale"
		}
	}
	return strings.Join(vals, " ")
}

// evalPoints: one per step, and where u1 and u2 part.
var evalPoints = []int{2, 7, 12, 17, 22, 27, 30, 33, 37, 42, 47, 52}

// wantPhase is the procedure's progress, written out by hand from the
// walk: one step per evaluation once its gate holds in order; u2 takes the
// early start (7) instead of sync_complete (6).
var wantPhase = map[string]map[int]int{
	"u1": {2: 0, 7: 0, 12: 1, 17: 2, 22: 3, 27: 4, 30: 5, 33: 6, 37: 8, 42: 9, 47: 9, 52: 0},
	"u2": {2: 0, 7: 0, 12: 1, 17: 2, 22: 3, 27: 4, 30: 5, 33: 7, 37: 8, 42: 9, 47: 9, 52: 0},
}

// gatesHold: the gates as DESIGN §6 defines them, from the walk's facts.
func gatesHold(f walkFacts) map[string]bool {
	reasons := reasonsAt(f)
	synced := f.sync["n1"] == "synced" && f.sync["n2"] == "synced"
	return map[string]bool{
		"services_stopped":    !f.served,
		"redundancy_disabled": !f.enabled,
		"versions_match":      f.n1Version == f.n2Version,
		"redundancy_enabled":  f.enabled,
		"roles_restored":      !f.n2Offline,
		"sync_complete":       synced,
		"early_start_ok":      !reasons["disabled"] && !reasons["peer_down"],
		"services_running":    f.served,
		"restart_flag_clear":  !f.restart,
	}
}

func reasonsAt(f walkFacts) map[string]bool {
	return map[string]bool{
		"disabled":  !f.enabled,
		"peer_down": f.n2Offline,
		"syncing":   f.sync["n1"] == "syncing" || f.sync["n2"] == "syncing",
	}
}

// stepWant: the tile state of the gate at position i (DESIGN §6 and the
// dashboard's legend: done, waiting, pending, blocked, unlocked, not
// needed, no window).
func stepWant(i int, open bool, p int, holds bool) int {
	k := i + 1
	name := gen.Gates[i].Name
	if !open {
		return 8
	}
	blockedFrom := map[string]int{"versions_match": 4, "redundancy_enabled": 4, "roles_restored": 5, "early_start_ok": 7, "services_running": 8, "restart_flag_clear": 9}[name]
	if blockedFrom > 0 && p >= blockedFrom && !holds {
		return 5
	}
	if name == "early_start_ok" && (p == 6 || p >= 8) {
		return 7
	}
	done := p >= k
	next := p == k-1
	switch name {
	case "early_start_ok":
		done, next = p == 7, p == 5
	case "sync_complete":
		next = p == 5
	case "services_running":
		next = p == 6 || p == 7
	}
	keepDone := name == "services_stopped" || name == "redundancy_disabled"
	switch {
	case done && !holds && !keepDone:
		return 2
	case done:
		return 1
	case next && holds:
		return 6
	case next:
		return 2
	}
	return 4
}

func phaseExpectations(t *testing.T, c string) []promExpr {
	qs := queriesFor(t, c)
	const file = "mailcluster-update-window.json"
	q := func(panel, ref string) string { return findQuery(t, qs, file, panel, ref) }
	var out []promExpr
	cl := fmt.Sprintf("cluster=%q", c)
	for _, at := range evalPoints {
		f := facts(c, at)
		p := wantPhase[c][at]
		holds := gatesHold(f)
		reasons := reasonsAt(f)
		add := func(expr string, samples ...promSample) {
			if samples == nil {
				samples = []promSample{}
			}
			out = append(out, promExpr{Expr: expr, EvalTime: fmt.Sprintf("%dm", at), ExpSamples: samples})
		}
		s := func(labels string, v float64) promSample { return promSample{"{" + labels + "}", v} }
		b := func(x bool) float64 {
			if x {
				return 1
			}
			return 0
		}
		add(q("Update window", "A"), s(cl, b(f.open)))
		if f.open {
			add(q("Time remaining", "A"), s(cl, float64(7500-60*at)))
			add(q("Window ends", "A"), s(cl, 7500000))
			add(q("Next step", "A"), s(cl, float64(p)))
		} else {
			add(q("Time remaining", "A"))
			add(q("Window ends", "A"))
			add(q("Next step", "A"), s(cl, -1))
		}
		for i, g := range gen.Gates {
			title := fmt.Sprintf("%d. %s", i+1, g.Name)
			if g.Name == "early_start_ok" {
				title += " (optional)"
			}
			add(q(title, "A"), s(cl, float64(stepWant(i, f.open, p, holds[g.Name]))))
			add(q(fmt.Sprintf("%d. why", i+1), "A"), whyWant(c, g.Name, f, reasons)...)
		}
		// redundancy state and its causes
		code := 1.0
		switch {
		case reasons["disabled"]:
			code = 0
		case reasons["peer_down"]:
			code = 3
		case reasons["syncing"]:
			code = 2
		}
		add(q("Redundancy state", "A"), promSample{fmt.Sprintf("mailcluster:redundancy_status:code{%s}", cl), code})
		var causes []promSample
		for _, r := range []string{"disabled", "peer_down", "syncing"} {
			if reasons[r] {
				causes = append(causes, s(fmt.Sprintf(`%s, reason=%q`, cl, r), map[string]float64{"disabled": 0, "peer_down": 3, "syncing": 2}[r]))
			}
		}
		if !f.served {
			causes = append(causes,
				s(cl+`, node="n1", service="smtp", reason="smtp@n1"`, 3),
				s(cl+`, service="smtp", reason="smtp (virtual address)"`, 3))
		}
		add(q("Redundancy state", "B"), causes...)
		n2Role := 2.0
		if f.n2Offline {
			n2Role = 5
		}
		add(q("Node roles", "A"), s(cl+`, node="n1"`, 1), s(cl+`, node="n2"`, n2Role))
		syncCode := map[string]float64{"disabled": 0, "synced": 1, "syncing": 2}
		add(q("Sync state", "A"), s(cl+`, node="n1"`, syncCode[f.sync["n1"]]), s(cl+`, node="n2"`, syncCode[f.sync["n2"]]))
		add(q("Sync progress", "A"))
		add(q("Gated services", "A"),
			s(`node="n1", service="smtp"`, b(f.served)), s(`node="n2", service="smtp"`, 0),
			s(`node="virtual address", service="smtp"`, b(f.served)))
		add(q("Sync progress history", "A"))
		add(q("CPU busy (watch while syncing)", "A"))
	}
	return out
}

// whyWant: the facts each gate's "why" panel lists at this point of the walk.
func whyWant(c, gate string, f walkFacts, reasons map[string]bool) []promSample {
	cl := fmt.Sprintf("cluster=%q", c)
	s := func(labels string, v float64) promSample { return promSample{"{" + cl + ", " + labels + "}", v} }
	var out []promSample
	switch gate {
	case "services_stopped":
		if f.served {
			out = append(out, s(`node="n1", service="smtp", fact="smtp running on n1"`, 3), s(`service="smtp", fact="smtp running through the virtual address"`, 3))
		}
	case "redundancy_disabled", "redundancy_enabled":
		v := 3.0 // "on" holds redundancy_disabled closed
		if gate == "redundancy_enabled" {
			v = 1
		}
		for _, n := range []string{"n1", "n2"} {
			if f.enabled {
				out = append(out, s(fmt.Sprintf(`node=%q, fact="redundancy on: %s"`, n, n), v))
			} else {
				out = append(out, s(fmt.Sprintf(`node=%q, fact="redundancy off: %s"`, n, n), 4-v))
			}
		}
	case "versions_match":
		v := 1.0
		if f.n1Version != f.n2Version {
			v = 3
		}
		out = append(out,
			s(fmt.Sprintf(`node="n1", version=%q, fact="n1: %s"`, f.n1Version, f.n1Version), v),
			s(fmt.Sprintf(`node="n2", version=%q, fact="n2: %s"`, f.n2Version, f.n2Version), v))
	case "roles_restored":
		out = append(out, s(`node="n1", fact="n1 is active"`, 1))
		if f.n2Offline {
			out = append(out, s(`node="n2", fact="n2 is neither active nor standby/slave"`, 3))
		} else {
			out = append(out, s(`node="n2", fact="n2 is standby/slave"`, 1))
		}
	case "sync_complete":
		for _, n := range []string{"n1", "n2"} {
			v := 3.0
			if f.sync[n] == "synced" {
				v = 1
			}
			out = append(out, s(fmt.Sprintf(`node=%q, state=%q, fact="%s: %s"`, n, f.sync[n], n, f.sync[n]), v))
		}
	case "early_start_ok":
		for _, r := range []string{"disabled", "peer_down"} {
			if reasons[r] {
				out = append(out, s(fmt.Sprintf(`reason=%q, fact="redundancy reason: %s"`, r, r), 3))
			}
		}
		if reasons["syncing"] {
			out = append(out, s(`reason="syncing", fact="redundancy reason: syncing (allowed)"`, 1))
		}
	case "services_running":
		if !f.served {
			out = append(out, s(`service="smtp", fact="smtp not running on the active node"`, 3), s(`service="smtp", fact="smtp down through the virtual address"`, 3))
		}
	case "restart_flag_clear":
		if f.restart {
			out = append(out, s(`node="n1", fact="restart required: n1"`, 3))
		}
	}
	return out
}

// phaseDoc renders the walk as a promtool test file; every query is written
// once (a YAML anchor) and referred to at the later steps.
func phaseDoc(t *testing.T) []byte {
	t.Helper()
	var input []promSeries
	var exprs []promExpr
	for _, c := range []string{"u1", "u2"} {
		input = append(input, walkSeries(c)...)
		exprs = append(exprs, phaseExpectations(t, c)...)
	}
	// the recorded phase itself, at every step
	for _, at := range evalPoints {
		exprs = append(exprs, promExpr{Expr: "mailcluster:update_phase", EvalTime: fmt.Sprintf("%dm", at), ExpSamples: []promSample{
			{fmt.Sprintf(`mailcluster:update_phase{cluster="u1"}`), float64(wantPhase["u1"][at])},
			{fmt.Sprintf(`mailcluster:update_phase{cluster="u2"}`), float64(wantPhase["u2"][at])},
		}})
	}
	doc := promTest{
		RuleFiles:          []string{"../mailcluster.rules.yml"},
		EvaluationInterval: "1m",
		GroupEvalOrder:     []string{"mailcluster.rules", "mailcluster.update_phase"},
		Tests:              []promTC{{Name: "update procedure walk: u1 waits for sync, u2 starts early", Interval: "1m", InputSeries: input, ExprTests: exprs}},
	}
	var node yaml.Node
	if err := node.Encode(doc); err != nil {
		t.Fatal(err)
	}
	anchorExprs(&node)
	var buf bytes.Buffer
	buf.WriteString(phaseHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const phaseHeader = `# GENERATED by tools/dashgen (go test ./dashgen -run TestPhaseWalk -update-phase);
# do not edit. The update procedure walked through its nine steps
# (mailcluster:update_phase, DESIGN §6) and every query of the update-window
# dashboard (dashboards/mailcluster-update-window.json, $cluster substituted)
# checked at each step, including after step 9 and after the window closed.
# The walk and the expected values are in tools/dashgen/phase_test.go.
`

// anchorExprs replaces every repeated expr value by an alias of its first
// occurrence.
func anchorExprs(n *yaml.Node) {
	seen := map[string]*yaml.Node{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "expr" && v.Kind == yaml.ScalarNode {
					if first, ok := seen[v.Value]; ok {
						if first.Anchor == "" {
							first.Anchor = fmt.Sprintf("q%d", len(seen))
						}
						n.Content[i+1] = &yaml.Node{Kind: yaml.AliasNode, Alias: first}
						continue
					}
					seen[v.Value] = v
					v.Style = yaml.LiteralStyle
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	// anchors numbered in document order
	var i int
	var number func(n *yaml.Node)
	number = func(n *yaml.Node) {
		if n.Anchor != "" {
			i++
			n.Anchor = fmt.Sprintf("q%d", i)
		}
		for _, c := range n.Content {
			number(c)
		}
	}
	number(n)
	var alias func(n *yaml.Node)
	alias = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			n.Value = n.Alias.Anchor
		}
		for _, c := range n.Content {
			alias(c)
		}
	}
	alias(n)
}

func TestPhaseWalk(t *testing.T) {
	got := phaseDoc(t)
	if *updatePhase {
		if err := os.WriteFile(phaseFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(phaseFile)
	if err != nil {
		t.Fatalf("%v (write it: go test ./dashgen -run TestPhaseWalk -update-phase)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("rules/tests/phase.yml is not what the walk and the committed dashboards give (%s): run go test ./dashgen -run TestPhaseWalk -update-phase", firstDiff(want, got))
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed")
	}
	abs, _ := filepath.Abs(phaseFile)
	cmd := exec.Command(promtool, "test", "rules", filepath.Base(abs))
	cmd.Dir = filepath.Dir(abs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		lines := strings.Split(string(out), "\n")
		sort.SliceStable(lines, func(i, j int) bool { return false })
		msg := strings.Join(lines, "\n")
		if len(msg) > 30000 {
			msg = msg[:30000] + "\n…"
		}
		t.Fatalf("promtool test rules %s: %v\n%s", phaseFile, err, msg)
	}
}
