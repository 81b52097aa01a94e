package gen

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// PromQL shared by the dashboards. m is a label matcher list such as
// `cluster=~"$cluster"` (wall, multi-value) or `cluster="$cluster"`.
// Everything reads the recorded series of rules/mailcluster.rules.yml where
// a judgement is involved (colours, reasons, gates) and the raw facts of
// docs/metrics.md otherwise; raw facts are always reduced by (cluster, node…)
// first, because several exporters may report the same fact (DESIGN §3).

// sel renders a selector with extra matchers.
func sel(metric, m string, extra ...string) string {
	all := append([]string{m}, extra...)
	return metric + "{" + strings.Join(all, ", ") + "}"
}

// maxBy aggregates expr with max by the labels in by ("node", "node, queue").
func maxBy(by, expr string) string {
	return "max by(" + by + ")(" + expr + ")"
}

// WallState is one state of a cluster on the wall (and the overall status
// of the detail view): the word an operator acts on, its colour (the
// colour of mailcluster:status:code, except NO DATA's own) and its code.
// Codes are the severity sort key: a higher code is worse, so
// sort_desc puts the worst first and max_over_time keeps the worst state
// of an interval.
type WallState struct {
	Code  int
	Word  string
	Color string
	What  string
}

// WallStates in severity order, best first.
var WallStates = []WallState{
	{10, "OK", colorGreen, "mailcluster:status:code green"},
	{20, "IN UPDATE", colorBlue, "an update window is open and nothing is red or yellow, or only gated services are stopped in it (gray)"},
	{30, "DISABLED", colorGray, "redundancy switched off on purpose (reason disabled, gray)"},
	{40, "SYNCING", colorYellow, "yellow: data is syncing (no automatic failover until synced)"},
	{45, "DEGRADED", colorYellow, "yellow, not syncing: a slow probe, an expiring or unverified certificate, a service up where it should not run"},
	{50, "NO DATA", colorNoData, "the cluster was seen within the last hour but no exporter reports it now"},
	{60, "NO EVIDENCE", colorRed, "red, reason unknown: a role, sync state, source or fact family is missing or unknown"},
	{65, "OUT OF SYNC", colorRed, "red, reason out_of_sync"},
	{70, "PEER DOWN", colorRed, "red, reason peer_down"},
	{75, "NO ACTIVE", colorRed, "red, reason no_active"},
	{80, "DOWN", colorRed, "red: a service of a node that should serve, or of the virtual address, is down"},
	{90, "SPLIT BRAIN", colorRed, "red, reason split_brain"},
}

func wallCode(word string) int {
	for _, s := range WallStates {
		if s.Word == word {
			return s.Code
		}
	}
	panic("no wall state " + word)
}

// wallMappings map every wall code to its word and colour.
func wallMappings() []dashboard.ValueMapping {
	var ms []mapping
	for _, s := range WallStates {
		ms = append(ms, mapping{fmt.Sprint(s.Code), s.Word, s.Color})
	}
	return mappings(ms...)
}

// knownClusters: every cluster whose mailcluster_node_info was seen within
// the last hour, the memory the rules use for vanished facts, so a cluster
// whose exporters all died keeps its tile (NO DATA) instead of vanishing.
func knownClusters(m string) string {
	return fmt.Sprintf("group by(cluster)(last_over_time(%s[1h]))", sel("mailcluster_node_info", m))
}

// windowOpen: clusters whose update window is open.
func windowOpen(m string) string {
	return fmt.Sprintf("(max by(cluster)(%s) == 1)", sel("mailcluster_update_window_open", m))
}

// wallStateExpr is the state of every known cluster as a WallStates code
// (one series per cluster, label cluster only). First match wins:
// red (the worst red reason, DOWN when a service of a serving node or of the
// virtual address is red), yellow (SYNCING when the redundancy is syncing,
// else DEGRADED), gray (DISABLED when redundancy is off, else IN UPDATE:
// gated services stopped in an open window), green (IN UPDATE while a
// window is open, else OK), and NO DATA for a cluster seen within the hour
// that has no status now.
func wallStateExpr(m string) string {
	status := sel("mailcluster:status:code", m)
	reason := func(r string) string {
		return sel("mailcluster:redundancy_status:reason", m, fmt.Sprintf("reason=%q", r))
	}
	return fmt.Sprintf(`
    (
      max by(cluster)(
          %[1]s * %[2]d
        or
          %[3]s * %[4]d
        or
          %[5]s * %[6]d
        or
          %[7]s * %[8]d
        or
          %[9]s * %[10]d
        or
          (
              max by(cluster)(%[11]s == 3)
            or
              max by(cluster)((%[12]s == 3) and on(cluster, node) (mailcluster:node_should_serve:bool == 1))
          ) * 0 + %[13]d
      )
        and on(cluster) (%[14]s == 3)
    )
  or
    (%[14]s == 3) * 0 + %[13]d
  or
    ((%[14]s == 2) and on(cluster) %[15]s) * 0 + %[16]d
  or
    (%[14]s == 2) * 0 + %[17]d
  or
    ((%[14]s == 0) and on(cluster) %[18]s) * 0 + %[19]d
  or
    (%[14]s == 0) * 0 + %[20]d
  or
    ((%[14]s == 1) and on(cluster) %[21]s) * 0 + %[20]d
  or
    (%[14]s == 1) * 0 + %[22]d
  or
    %[23]s * %[24]d`,
		reason("split_brain"), wallCode("SPLIT BRAIN"),
		reason("no_active"), wallCode("NO ACTIVE"),
		reason("peer_down"), wallCode("PEER DOWN"),
		reason("out_of_sync"), wallCode("OUT OF SYNC"),
		reason("unknown"), wallCode("NO EVIDENCE"),
		sel("mailcluster:virtual_service_status:code", m),
		sel("mailcluster:service_status:code", m),
		wallCode("DOWN"),
		status,
		reason("syncing"), wallCode("SYNCING"), wallCode("DEGRADED"),
		reason("disabled"), wallCode("DISABLED"), wallCode("IN UPDATE"),
		windowOpen(m), wallCode("OK"),
		knownClusters(m), wallCode("NO DATA"))
}

// wallTilesExpr: the wall state of every known cluster, worst first, with
// the maintenance marker: label marker="⚒ update" on clusters whose update
// window is open (the tile legend shows it after the name).
func wallTilesExpr(m, filter string) string {
	state := "(" + wallStateExpr(m) + "\n)" + filter
	return fmt.Sprintf(`
sort_desc(
    label_replace(%[1]s and on(cluster) %[2]s, "marker", "⚒ update", "", "")
  or
    (%[1]s unless on(cluster) %[2]s)
)`, state, windowOpen(m))
}

// causesExpr lists why a cluster is not green, one series per cause, the
// value being the cause's colour code (label "reason"): every redundancy
// reason that holds, every service of a node that should serve that is
// yellow or red (reason "service@node") and every virtual service that is
// yellow or red. Red first.
func causesExpr(m string) string {
	reason := "mailcluster:redundancy_status:reason"
	return fmt.Sprintf(`
sort_desc(
    (%s * 3)
  or
    (%s * 2)
  or
    (%s * 0)
  or
    label_join(
      max by(cluster, node, service)((%s >= 2) and on(cluster, node) (mailcluster:node_should_serve:bool == 1)),
      "reason", "@", "service", "node"
    )
  or
    label_replace(
      max by(cluster, service)(%s >= 2),
      "reason", "$1 (virtual address)", "service", "(.+)"
    )
)`,
		sel(reason, m, `reason=~"split_brain|no_active|peer_down|out_of_sync|unknown"`),
		sel(reason, m, `reason="syncing"`),
		sel(reason, m, `reason="disabled"`),
		sel("mailcluster:service_status:code", m),
		sel("mailcluster:virtual_service_status:code", m))
}

// roleExpr turns the resolved role (mailcluster:node_role:resolved, the
// role every rule reads: reported before observed, known before unknown)
// into one code per node (roleMappings): 1 active, 2 standby, 3 master,
// 4 slave, 5 offline, 6 unknown. A configured node without a resolved
// role is unknown (green needs evidence).
func roleExpr(m string) string {
	return roleCodes("mailcluster:node_role:resolved", m, "cluster, node")
}

// roleCodes: the role code (roleMappings) of the role stateset metric,
// by the labels in by; a node of mailcluster_node_info without any role
// is unknown (6) when by is "cluster, node".
func roleCodes(metric, m, by string) string {
	roles := []string{"active", "standby", "master", "slave", "offline", "unknown"}
	var parts []string
	for i, r := range roles {
		parts = append(parts, fmt.Sprintf("((%s == 1) * 0 + %d)", sel(metric, m, fmt.Sprintf("role=%q", r)), i+1))
	}
	e := fmt.Sprintf(`
max by(%s)(
    %s
)`, by, strings.Join(parts, "\n  or\n    "))
	if by == "cluster, node" {
		e += fmt.Sprintf(`
  or
max by(cluster, node)(%s) * 0 + 6`, sel("mailcluster_node_info", m))
	}
	return e
}

// observedCodes: what each exporter's probes saw of each node
// (mailcluster_node_observed), as observedMappings codes: 11 serving,
// 12 alive, 13 silent.
func observedCodes(m, by string) string {
	var parts []string
	for i, st := range []string{"serving", "alive", "silent"} {
		parts = append(parts, fmt.Sprintf("((%s == 1) * 0 + %d)", sel("mailcluster_node_observed", m, fmt.Sprintf("state=%q", st)), 11+i))
	}
	return fmt.Sprintf(`
max by(%s)(
    %s
)`, by, strings.Join(parts, "\n  or\n    "))
}

// syncStateExpr: one code per node (syncMappings): 0 disabled, 1 synced,
// 2 syncing, 3 out_of_sync, 4 unknown. Absent where no sync source is
// configured.
func syncStateExpr(m string) string {
	states := []struct {
		s    string
		code int
	}{{"disabled", 0}, {"synced", 1}, {"syncing", 2}, {"out_of_sync", 3}, {"unknown", 4}}
	var parts []string
	for _, s := range states {
		parts = append(parts, fmt.Sprintf("((%s == 1) * 0 + %d)", sel("mailcluster_sync_state", m, fmt.Sprintf("state=%q", s.s)), s.code))
	}
	return fmt.Sprintf(`
max by(cluster, node)(
    %s
)`, strings.Join(parts, "\n  or\n    "))
}

// serviceMatrixExpr: service status per node plus the virtual address as a
// pseudo node, for the service × node matrix.
func serviceMatrixExpr(m string) string {
	return fmt.Sprintf(`
max by(node, service)(%s)
  or
label_replace(max by(service)(%s), "node", "virtual address", "", "")`,
		sel("mailcluster:service_status:code", m), sel("mailcluster:virtual_service_status:code", m))
}

func peerExpr(m string) string {
	return fmt.Sprintf("min by(cluster, node, peer)(%s)", sel("mailcluster_peer_up", m))
}

func alertsExpr(m, severity string) string {
	return fmt.Sprintf(`count(ALERTS{alertstate="firing", severity=%q, %s}) or vector(0)`, severity, m)
}
