package gate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// facts are the raw facts of one cluster that explain why a gate is
// closed, each reduced by node the way the rules reduce them.
type facts struct {
	nodes     []string           // configured nodes, sorted
	preferred string             // the preferred="true" node, if any
	kind      string             // cluster kind from node_info
	gated     []string           // gated services, sorted
	up        map[string]float64 // node/service -> max service_up
	vup       map[string]float64 // service -> max virtual_service_up
	redMax    map[string]float64 // node -> max redundancy_enabled
	redMin    map[string]float64 // node -> min redundancy_enabled
	versions  map[string][]string
	roles     map[string][]string
	active    map[string]bool
	sync      map[string][]string // node -> states that hold
	pending   map[string][]string // node -> "312 items"
	progress  map[string]float64
	reasons   []string
	restart   []string
}

func key(node, service string) string { return node + "/" + service }

// readFacts queries the facts of a cluster; the queries reduce by node
// (and service, state…) as the rules do, so several exporters reporting
// the same fact count once.
func (c *Checker) readFacts(ctx context.Context, cluster string) (*facts, error) {
	sel := func(metric, extra string) string {
		return fmt.Sprintf("%s{cluster=%s%s}", metric, quote(cluster), extra)
	}
	f := &facts{
		up: map[string]float64{}, vup: map[string]float64{}, redMax: map[string]float64{}, redMin: map[string]float64{},
		versions: map[string][]string{}, roles: map[string][]string{}, active: map[string]bool{},
		sync: map[string][]string{}, pending: map[string][]string{}, progress: map[string]float64{},
	}
	type q struct {
		expr string
		use  func(model.Vector)
	}
	label := func(s *model.Sample, l string) string { return string(s.Metric[model.LabelName(l)]) }
	queries := []q{
		{"group by(node, preferred, kind)(" + sel("mailcluster_node_info", "") + ")", func(v model.Vector) {
			for _, s := range v {
				f.nodes = append(f.nodes, label(s, "node"))
				if label(s, "preferred") == "true" {
					f.preferred = label(s, "node")
				}
				f.kind = label(s, "kind")
			}
		}},
		{"group by(service)(" + sel("mailcluster_service_info", `,gated="true"`) + ")", func(v model.Vector) {
			for _, s := range v {
				f.gated = append(f.gated, label(s, "service"))
			}
		}},
		{"max by(node, service)(" + sel("mailcluster_service_up", "") + ")", func(v model.Vector) {
			for _, s := range v {
				f.up[key(label(s, "node"), label(s, "service"))] = float64(s.Value)
			}
		}},
		{"max by(service)(" + sel("mailcluster_virtual_service_up", "") + ")", func(v model.Vector) {
			for _, s := range v {
				f.vup[label(s, "service")] = float64(s.Value)
			}
		}},
		{"max by(node)(" + sel("mailcluster_redundancy_enabled", "") + ")", func(v model.Vector) {
			for _, s := range v {
				f.redMax[label(s, "node")] = float64(s.Value)
			}
		}},
		{"min by(node)(" + sel("mailcluster_redundancy_enabled", "") + ")", func(v model.Vector) {
			for _, s := range v {
				f.redMin[label(s, "node")] = float64(s.Value)
			}
		}},
		{"group by(node, version)(" + sel("mailcluster_software_info", "") + ")", func(v model.Vector) {
			for _, s := range v {
				f.versions[label(s, "node")] = append(f.versions[label(s, "node")], label(s, "version"))
			}
		}},
		// The resolved role where the rules record it, else the reported one.
		{"(max by(node, role)(" + sel("mailcluster:node_role:resolved", "") + ") == 1) or (max by(node, role)(" +
			sel("mailcluster_node_role", "") + ") == 1 unless on() group(" + sel("mailcluster:node_role:resolved", "") + "))", func(v model.Vector) {
			for _, s := range v {
				f.roles[label(s, "node")] = append(f.roles[label(s, "node")], label(s, "role"))
			}
		}},
		{"max by(node)(" + sel("mailcluster:node_active:bool", "") + ") == 1", func(v model.Vector) {
			for _, s := range v {
				f.active[label(s, "node")] = true
			}
		}},
		{"max by(node, state)(" + sel("mailcluster_sync_state", "") + ") == 1", func(v model.Vector) {
			for _, s := range v {
				f.sync[label(s, "node")] = append(f.sync[label(s, "node")], label(s, "state"))
			}
		}},
		{"max by(node, unit)(" + sel("mailcluster_sync_pending", "") + ")", func(v model.Vector) {
			for _, s := range v {
				f.pending[label(s, "node")] = append(f.pending[label(s, "node")], fmt.Sprintf("%g %s pending", float64(s.Value), label(s, "unit")))
			}
		}},
		{"max by(node)(" + sel("mailcluster_sync_progress_ratio", "") + ")", func(v model.Vector) {
			for _, s := range v {
				f.progress[label(s, "node")] = float64(s.Value)
			}
		}},
		{"group by(reason)(" + sel("mailcluster:redundancy_status:reason", "") + " == 1)", func(v model.Vector) {
			for _, s := range v {
				f.reasons = append(f.reasons, label(s, "reason"))
			}
		}},
		{"max by(node)(" + sel("mailcluster_restart_required", "") + ") == 1", func(v model.Vector) {
			for _, s := range v {
				f.restart = append(f.restart, label(s, "node"))
			}
		}},
	}
	for _, qq := range queries {
		v, err := c.vector(ctx, qq.expr, time.Time{})
		if err != nil {
			return nil, err
		}
		sort.Slice(v, func(i, j int) bool { return v[i].Metric.Before(v[j].Metric) })
		qq.use(v)
	}
	sort.Strings(f.nodes)
	sort.Strings(f.gated)
	sort.Strings(f.reasons)
	sort.Strings(f.restart)
	return f, nil
}

func onOff(v float64) string {
	if v == 1 {
		return "up"
	}
	return "down"
}

// explain lists the facts that hold a gate closed, in words an operator
// can act on. It mirrors the gate rules of rules/mailcluster.rules.yml.
func (f *facts) explain(gate string) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	switch gate {
	case "services_stopped":
		for _, svc := range f.gated {
			for _, n := range f.nodes {
				v, ok := f.up[key(n, svc)]
				switch {
				case !ok:
					add("%s: %s not probed (no result: not known to be stopped)", n, svc)
				case v == 1:
					add("%s: %s up", n, svc)
				}
			}
			if f.vup[svc] == 1 {
				add("virtual address: %s up", svc)
			}
		}
	case "redundancy_disabled":
		out = append(out, redundancyAgainst(f.redMax, 0, "enabled")...)
	case "redundancy_enabled":
		out = append(out, redundancyAgainst(f.redMin, 1, "disabled")...)
	case "versions_match":
		var vs []string
		for _, n := range f.nodes {
			if len(f.versions[n]) == 0 {
				add("%s: no version reported", n)
				continue
			}
			vs = append(vs, fmt.Sprintf("%s %s", n, strings.Join(f.versions[n], "/")))
		}
		if len(vs) > 0 {
			add("versions: %s", strings.Join(vs, ", "))
		}
	case "roles_restored":
		var rs []string
		for _, n := range f.nodes {
			r := strings.Join(f.roles[n], "/")
			if r == "" {
				r = "no role"
			}
			rs = append(rs, n+" "+r)
		}
		add("roles: %s", strings.Join(rs, ", "))
		if f.preferred != "" && !f.active[f.preferred] {
			add("the preferred node %s is not active", f.preferred)
		}
	case "sync_complete":
		if len(f.sync) == 0 {
			add("no node reports a sync state")
		}
		for _, n := range sortedKeys(f.sync) {
			states := f.sync[n]
			if len(states) == 1 && states[0] == "synced" {
				continue
			}
			line := fmt.Sprintf("%s: sync %s", n, strings.Join(states, "/"))
			for _, p := range f.pending[n] {
				line += ", " + p
			}
			if p, ok := f.progress[n]; ok {
				line += fmt.Sprintf(", %.0f%% done", p*100)
			}
			add("%s", line)
		}
	case "early_start_ok":
		var other []string
		for _, r := range f.reasons {
			if r != "syncing" {
				other = append(other, r)
			}
		}
		if len(other) > 0 {
			add("redundancy reasons other than syncing: %s", strings.Join(other, ", "))
		}
	case "services_running":
		var active []string
		for _, n := range f.nodes {
			if f.active[n] {
				active = append(active, n)
			}
		}
		if len(active) == 0 {
			add("no active node")
		}
		for _, svc := range f.gated {
			for _, n := range active {
				v, ok := f.up[key(n, svc)]
				if !ok {
					add("%s (active): %s not probed", n, svc)
				} else if v != 1 {
					add("%s (active): %s %s", n, svc, onOff(v))
				}
			}
			if v, ok := f.vup[svc]; ok && v != 1 {
				add("virtual address: %s down", svc)
			}
		}
	case "restart_flag_clear":
		for _, n := range f.restart {
			add("%s: restart required", n)
		}
		if len(f.restart) == 0 && len(f.explain("sync_complete")) > 0 {
			add("waits for sync_complete: the start-up sync raises the restart flag, so before it completes the flag says nothing")
		}
	}
	if len(f.nodes) == 0 {
		out = append([]string{"no configured node (mailcluster_node_info) is reported for the cluster"}, out...)
	}
	if len(out) == 0 {
		add("the raw facts show no cause; see the %s rule for gate %s in rules/mailcluster.rules.yml", GateMetric, gate)
	}
	return out
}

// redundancyAgainst names the nodes whose redundancy_enabled (per node,
// the extreme the gate rule looks at) is not want, saying it is state.
func redundancyAgainst(byNode map[string]float64, want float64, state string) []string {
	if len(byNode) == 0 {
		return []string{"no node reports redundancy_enabled"}
	}
	var out []string
	for _, n := range sortedKeys(byNode) {
		if byNode[n] != want {
			out = append(out, fmt.Sprintf("%s: redundancy %s", n, state))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
