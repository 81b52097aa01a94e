package gen

import (
	"fmt"
	"strings"
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

// tileExpr is the wall tile: mailcluster:status:code, refined so the text
// never lies about the cause: 2 stays 2 (SYNCING) only when the redundancy
// state is yellow (i.e. syncing), otherwise it becomes 12 (DEGRADED: a slow
// probe, an expiring certificate); 3 stays 3 (DOWN) when a service of a node
// that should serve or of the virtual address is red, otherwise it becomes
// 13 (RED: redundancy red while mail is still served); 0 stays 0
// (REDUNDANCY OFF) when redundancy is switched off, otherwise it becomes 10
// (STOPPED FOR UPDATE: gated services stopped inside an open update window,
// rules/README.md). The colour is the same as the status code's.
func tileExpr(m string) string {
	status := sel("mailcluster:status:code", m)
	return fmt.Sprintf(`
max by(cluster)(
    (((%[1]s == 2) unless on(cluster) (%[2]s == 2)) + 10)
  or
    (((%[1]s == 0) unless on(cluster) (%[2]s == 0)) + 10)
  or
    (
      (
        (%[1]s == 3)
          unless on(cluster)
        (
            max by(cluster)(%[3]s == 3)
          or
            max by(cluster)((%[4]s == 3) and on(cluster, node) (mailcluster:node_should_serve:bool == 1))
        )
      ) + 10
    )
  or
    %[1]s
)`, status, sel("mailcluster:redundancy_status:code", m),
		sel("mailcluster:virtual_service_status:code", m), sel("mailcluster:service_status:code", m))
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

// roleExpr turns the role state set into one code per node (roleMappings):
// 1 active, 2 standby, 3 master, 4 slave, 5 offline, 6 unknown. A configured
// node without any role fact is unknown (green needs evidence). If
// exporters disagree, the highest code wins (offline/unknown over others).
func roleExpr(m string) string {
	roles := []string{"active", "standby", "master", "slave", "offline", "unknown"}
	var parts []string
	for i, r := range roles {
		parts = append(parts, fmt.Sprintf("((%s == 1) * 0 + %d)", sel("mailcluster_node_role", m, fmt.Sprintf("role=%q", r)), i+1))
	}
	return fmt.Sprintf(`
max by(cluster, node)(
    %s
)
  or
max by(cluster, node)(%s) * 0 + 6`, strings.Join(parts, "\n  or\n    "), sel("mailcluster_node_info", m))
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
