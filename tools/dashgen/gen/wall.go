package gen

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// The NOC wall.
//
// Layout decision (1 to 50 clusters): the top band is a *grid that grows*:
// a single stat panel with one tile per cluster (Grafana lays the tiles out
// as a grid and scales the text to the tile), next to the firing alert
// counts and a "needs attention" list of the causes of every non-green
// cluster. That band has a fixed size, so 50 clusters fit on one 1080p or
// 4K screen and nothing scrolls out of sight. Below it, a row *repeats per
// value of the multi-value $cluster variable* (All by default) with the
// large tile, the reasons, the nodes with role and peer state and the
// service × node matrix of that cluster. With a handful of clusters the
// wall shows everything; with 50, the band is the wall and the repeated
// rows are the detail below the fold (or one wall per group of clusters:
// open it with ?var-cluster=a&var-cluster=b). A grid alone could not show
// nodes and services "under" each tile; rows alone would push clusters off
// the screen.
const wallTitle = "Mail clusters — NOC wall"

func wallDashboard() (dashboard.Dashboard, error) {
	const m = `cluster=~"$cluster"`
	const one = `cluster="$cluster"`
	clusterLink := link("Cluster detail: ${__field.labels.cluster}", dashURL(UIDCluster, "var-cluster=${__field.labels.cluster}"), false)

	b := newDashboard(wallTitle, UIDWall, "Kiosk wall for HA mail clusters: one tile per cluster coloured by mailcluster:status:code, causes, alerts, nodes and services. Open with ?kiosk&theme=dark.").
		Refresh("30s").
		Time("now-1h", "now").
		Tooltip(dashboard.DashboardCursorSyncOff).
		WithVariable(clusterVar(true))

	// --- the band that always fits the screen -------------------------
	b.WithPanel(codeStat("Cluster status", pos(0, 0, 16, 9), showValueAndName, statusTileMappings, "NO DATA").
		Description("One tile per cluster: mailcluster:status:code. OK green; SYNCING yellow (redundancy syncing: no automatic failover); DEGRADED yellow (slow probe, expiring certificate, service up on a node that should not serve); DOWN red (a service of a serving node or the virtual address is down); RED red (redundancy red, mail still served); REDUNDANCY OFF gray. Click a tile for the cluster detail.").
		WithTarget(instant("A", tileExpr(m), "{{cluster}}")).
		DataLinks(links(clusterLink)).
		Links(runbooks("MailclusterRedundancyRed.md", "")))

	b.WithPanel(bigStat("Firing alerts", pos(16, 0, 8, 3)).
		Description("Firing Prometheus alerts for the selected clusters (ALERTS), by severity. Critical alerts are held back while a cluster's update window is open.").
		WithTarget(instant("A", alertsExpr(m, "critical"), "critical")).
		WithTarget(instant("B", alertsExpr(m, "warning"), "warning")).
		TextMode(showValueAndName).
		Unit("short").
		Decimals(0).
		Thresholds(thresholds(colorGreen, 1, colorRed)).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "thresholds", Value: thresholdsValue(colorGreen, 1, colorYellow)}}).
		Links(links(link("Alertmanager / alert list", "/alerting/list", false), runbook(""))))

	b.WithPanel(causesStat("Needs attention", pos(16, 3, 8, 6), m, "{{cluster}}: {{reason}}", "all green").
		Description("Why a cluster is not green: every redundancy reason (mailcluster:redundancy_status:reason) and every yellow/red service of a serving node (service@node) or of the virtual address. Red first. Empty when all selected clusters are green.").
		DataLinks(links(clusterLink)).
		Links(runbooks("MailclusterRedundancyRed.md", "MailclusterServiceDownOnServingNode.md")))

	// --- one row per selected cluster ----------------------------------
	b.WithRow(row("Cluster $cluster", 9).Repeat("cluster"))

	b.WithPanel(codeStat("Status — $cluster", pos(0, 10, 5, 7), showValue, statusTileMappings, "NO DATA").
		Description("mailcluster:status:code of this cluster (same refinement as the Cluster status tiles).").
		WithTarget(instant("A", tileExpr(one), "{{cluster}}")).
		Links(links(
			dashLink("Cluster detail", UIDCluster),
			dashLink("Update window", UIDWindow),
			runbook("MailclusterRedundancyRed.md"),
		)))

	b.WithPanel(causesStat("Why not green — $cluster", pos(5, 10, 5, 7), one, "{{reason}}", "—").
		Description("Reasons from mailcluster:redundancy_status:reason and yellow/red services of serving nodes or the virtual address, coloured by their own severity.").
		Links(runbooks("MailclusterRedundancyRed.md", "MailclusterPeerDown.md")))

	b.WithPanel(rolesStat("Nodes — $cluster", pos(10, 10, 6, 4), one).
		Description("Operating role of each configured node (mailcluster_node_role): ACTIVE / STANDBY / MASTER / SLAVE / OFFLINE / UNKNOWN. A node without any role fact is UNKNOWN."))

	b.WithPanel(peersStat("Peer links — $cluster", pos(10, 14, 6, 3), one).
		Description("mailcluster_peer_up: does each node see its peer (heartbeat / sync link)? Absent where not monitored."))

	// Service (rows) × node + virtual address (columns), cells coloured by
	// mailcluster:service_status:code / virtual_service_status:code.
	b.WithPanel(matrixTable("Services — $cluster", pos(16, 10, 8, 7), serviceMatrixExpr(one), serviceMappings).
		Description("mailcluster:service_status:code per node (STOPPED gray: a node that should not serve has it stopped, normal for a standby; OK; WARN: slow, certificate expiring or running where it should not; DOWN on a node that should serve) and mailcluster:virtual_service_status:code through the virtual address.").
		CellHeight(common.TableCellHeightLg).
		Links(runbooks("MailclusterServiceDownOnServingNode.md", "MailclusterVirtualServiceDown.md")))

	return b.Build()
}
