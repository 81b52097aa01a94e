package gen

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
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

	b := dashboard.NewDashboardBuilder(wallTitle).
		Uid(UIDWall).
		Tags([]string{Tag}).
		Description("Kiosk wall for HA mail clusters: one tile per cluster coloured by mailcluster:status:code, causes, alerts, nodes and services. Open with ?kiosk&theme=dark.").
		Readonly().
		Refresh("30s").
		Time("now-1h", "now").
		Timezone("browser").
		Tooltip(dashboard.DashboardCursorSyncOff).
		Links(dashboardLinks()).
		WithVariable(datasourceVar()).
		WithVariable(clusterVar(true))

	// --- the band that always fits the screen -------------------------
	b.WithPanel(bigStat("Cluster status", pos(0, 0, 16, 9)).
		Description("One tile per cluster: mailcluster:status:code. OK green; SYNCING yellow (redundancy syncing: no automatic failover); DEGRADED yellow (slow probe, expiring certificate, service up on a node that should not serve); DOWN red (a service of a serving node or the virtual address is down); RED red (redundancy red, mail still served); REDUNDANCY OFF gray. Click a tile for the cluster detail.").
		WithTarget(instant("A", tileExpr(m), "{{cluster}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(statusTileMappings).
		NoValue("NO DATA").
		DataLinks([]cog.Builder[dashboard.DashboardLink]{clusterLink}).
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterRedundancyRed.md"), runbook("")}))

	b.WithPanel(bigStat("Firing alerts", pos(16, 0, 8, 3)).
		Description("Firing Prometheus alerts for the selected clusters (ALERTS), by severity. Critical alerts are held back while a cluster's update window is open.").
		WithTarget(instant("A", alertsExpr(m, "critical"), "critical")).
		WithTarget(instant("B", alertsExpr(m, "warning"), "warning")).
		TextMode(common.BigValueTextModeValueAndName).
		Unit("short").
		Decimals(0).
		Thresholds(thresholds(colorGreen, 1, colorRed)).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "thresholds", Value: thresholdsValue(colorGreen, 1, colorYellow)}}).
		Links([]cog.Builder[dashboard.DashboardLink]{link("Alertmanager / alert list", "/alerting/list", false), runbook("")}))

	b.WithPanel(bigStat("Needs attention", pos(16, 3, 8, 6)).
		Description("Why a cluster is not green: every redundancy reason (mailcluster:redundancy_status:reason) and every yellow/red service of a serving node (service@node) or of the virtual address. Red first. Empty when all selected clusters are green.").
		WithTarget(instant("A", causesExpr(m), "{{cluster}}: {{reason}}")).
		TextMode(common.BigValueTextModeName).
		Mappings(causeMappings).
		NoValue("all green").
		DataLinks([]cog.Builder[dashboard.DashboardLink]{clusterLink}).
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterRedundancyRed.md"), runbook("MailclusterServiceDownOnServingNode.md")}))

	// --- one row per selected cluster ----------------------------------
	b.WithRow(row("Cluster $cluster", 9).Repeat("cluster"))

	b.WithPanel(bigStat("Status — $cluster", pos(0, 10, 5, 7)).
		Description("mailcluster:status:code of this cluster (same refinement as the Cluster status tiles).").
		WithTarget(instant("A", tileExpr(one), "{{cluster}}")).
		TextMode(common.BigValueTextModeValue).
		Mappings(statusTileMappings).
		NoValue("NO DATA").
		Links([]cog.Builder[dashboard.DashboardLink]{
			link("Cluster detail", dashURL(UIDCluster, "var-cluster=$cluster"), false),
			link("Update window", dashURL(UIDWindow, "var-cluster=$cluster"), false),
			runbook("MailclusterRedundancyRed.md"),
		}))

	b.WithPanel(bigStat("Why not green — $cluster", pos(5, 10, 5, 7)).
		Description("Reasons from mailcluster:redundancy_status:reason and yellow/red services of serving nodes or the virtual address, coloured by their own severity.").
		WithTarget(instant("A", causesExpr(one), "{{reason}}")).
		TextMode(common.BigValueTextModeName).
		Mappings(causeMappings).
		NoValue("—").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterRedundancyRed.md"), runbook("MailclusterPeerDown.md")}))

	b.WithPanel(bigStat("Nodes — $cluster", pos(10, 10, 6, 4)).
		Description("Operating role of each configured node (mailcluster_node_role): ACTIVE / STANDBY / MASTER / SLAVE / OFFLINE / UNKNOWN. A node without any role fact is UNKNOWN.").
		WithTarget(instant("A", roleExpr(one), "{{node}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(roleMappings).
		NoValue("no nodes").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterNoActiveNode.md"), runbook("MailclusterSplitBrain.md")}))

	b.WithPanel(bigStat("Peer links — $cluster", pos(10, 14, 6, 3)).
		Description("mailcluster_peer_up: does each node see its peer (heartbeat / sync link)? Absent where not monitored.").
		WithTarget(instant("A", peerExpr(one), "{{node}} → {{peer}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(peerMappings).
		NoValue("not monitored").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterPeerDown.md")}))

	b.WithPanel(serviceMatrix("Services — $cluster", pos(16, 10, 8, 7), one))

	return b.Build()
}

// bigStat is a wall-style stat: background colour, no sparkline, centred,
// text auto-sized to the tile (readable from across a room at 1080p and 4K).
func bigStat(title string, gp dashboard.GridPos) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Datasource(ds()).
		GridPos(gp).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeBackground).
		JustifyMode(common.BigValueJustifyModeCenter).
		Orientation(common.VizOrientationAuto).
		WideLayout(true).
		ShowPercentChange(false).
		ReduceOptions(lastNotNull()).
		Unit("none").
		ColorScheme(thresholdColor()).
		Thresholds(thresholds(colorGray))
}

// serviceMatrix: service (rows) × node + virtual address (columns), cells
// coloured by mailcluster:service_status:code / virtual_service_status:code.
func serviceMatrix(title string, gp dashboard.GridPos, m string) *table.PanelBuilder {
	const first = "service\\node"
	return table.NewPanelBuilder().
		Title(title).
		Description("mailcluster:service_status:code per node (STOPPED gray: a node that should not serve has it stopped, normal for a standby; OK; WARN: slow, certificate expiring or running where it should not; DOWN on a node that should serve) and mailcluster:virtual_service_status:code through the virtual address.").
		Datasource(ds()).
		GridPos(gp).
		WithTarget(tableQ("A", serviceMatrixExpr(m))).
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "groupingToMatrix",
			Options: map[string]any{
				"columnField": "node",
				"rowField":    "service",
				"valueField":  "Value",
				"emptyValue":  "null",
			},
		}).
		ShowHeader(true).
		CellHeight(common.TableCellHeightLg).
		Footer(noFooter()).
		Align(common.FieldTextAlignmentCenter).
		CellOptions(common.TableCellOptions{TableColoredBackgroundCellOptions: &common.TableColoredBackgroundCellOptions{
			Type: common.TableCellDisplayModeColorBackground,
			Mode: ptr(common.TableCellBackgroundDisplayModeBasic),
		}}).
		Unit("none").
		Mappings(serviceMappings).
		ColorScheme(thresholdColor()).
		Thresholds(thresholds("transparent")).
		NoValue("—").
		OverrideByName(first, []dashboard.DynamicConfigValue{
			{Id: "displayName", Value: "service"},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "auto"}},
			{Id: "custom.align", Value: "left"},
		}).
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterServiceDownOnServingNode.md"), runbook("MailclusterVirtualServiceDown.md")})
}

// noFooter: tables without a footer (the schema requires a reducer anyway).
func noFooter() *common.TableFooterOptionsBuilder {
	return common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}).CountRows(false)
}
