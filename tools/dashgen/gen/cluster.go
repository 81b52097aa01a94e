package gen

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/statushistory"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

const clusterTitle = "Mail cluster — detail"

// NodeExporterMetrics are the node_exporter metrics the cluster and update
// window dashboards use, joined on the `cluster` and `node` labels that the
// node_exporter scrape job must set (dashboards/README.md). Without them
// the host panels show their "no data" text and nothing else changes.
var NodeExporterMetrics = []string{
	"node_cpu_seconds_total",
	"node_memory_MemAvailable_bytes",
	"node_memory_MemTotal_bytes",
	"node_filesystem_avail_bytes",
	"node_filesystem_size_bytes",
	"node_network_receive_bytes_total",
	"node_network_transmit_bytes_total",
}

const noNodeExporter = "no node_exporter data for these nodes (see dashboards/README.md: node_exporter join)"

func cpuExpr(m string) string {
	return fmt.Sprintf(`1 - avg by(node)(rate(%s[$__rate_interval]))`, sel("node_cpu_seconds_total", m, `mode="idle"`))
}

func clusterDashboard() (dashboard.Dashboard, error) {
	const m = `cluster="$cluster"`
	const mn = `cluster="$cluster", node=~"$node"`

	b := dashboard.NewDashboardBuilder(clusterTitle).
		Uid(UIDCluster).
		Tags([]string{Tag}).
		Description("Active Monitor view of one HA mail cluster: redundancy state and reasons, roles, peers, sync, services, probes, certificates, queues, versions, failovers, and host metrics where node_exporter is joined.").
		Readonly().
		Refresh("1m").
		Time("now-6h", "now").
		Timezone("browser").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Links(dashboardLinks()).
		WithVariable(datasourceVar()).
		WithVariable(clusterVar(false)).
		WithVariable(nodeVar()).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Role changes").
			Datasource(ds()).
			Enable(true).
			IconColor("orange").
			Expr(`max by(node)(changes(mailcluster_last_role_change_timestamp_seconds{cluster="$cluster"}[2m])) > 0`).
			Step("1m").
			TitleFormat("Role change").
			TextFormat("node {{node}} changed its role").
			TagKeys("node"))

	// --- Redundancy ----------------------------------------------------
	b.WithRow(row("Redundancy (Active Monitor)", 0))
	b.WithPanel(bigStat("Redundancy state", pos(0, 1, 5, 5)).
		Description("mailcluster:redundancy_status:code: REDUNDANCY OFF (disabled) gray, RED (split brain, no active node, peer down, out of sync, unknown) red, SYNCING yellow (no automatic failover until synced), OK green.").
		WithTarget(instant("A", sel("mailcluster:redundancy_status:code", m), "{{cluster}}")).
		TextMode(common.BigValueTextModeValue).
		Mappings(redundancyMappings).
		NoValue("NO DATA").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterRedundancyRed.md"), runbook("MailclusterRedundancyDisabled.md")}))
	b.WithPanel(bigStat("Overall status", pos(5, 1, 4, 5)).
		Description("mailcluster:status:code, as on the wall: redundancy plus services of serving nodes and the virtual address.").
		WithTarget(instant("A", tileExpr(m), "{{cluster}}")).
		TextMode(common.BigValueTextModeValue).
		Mappings(statusTileMappings).
		NoValue("NO DATA").
		Links([]cog.Builder[dashboard.DashboardLink]{link("NOC wall", dashURL(UIDWall, "var-cluster=$cluster"), false), runbook("")}))
	b.WithPanel(bigStat("Reasons", pos(9, 1, 5, 5)).
		Description("Every reason in mailcluster:redundancy_status:reason, and yellow/red services of serving nodes (service@node) or of the virtual address.").
		WithTarget(instant("A", causesExpr(m), "{{reason}}")).
		TextMode(common.BigValueTextModeName).
		Mappings(causeMappings).
		NoValue("none — green").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterRedundancyRed.md"), runbook("MailclusterPeerDown.md")}))
	b.WithPanel(bigStat("Node roles", pos(14, 1, 5, 5)).
		Description("Operating role of each node from mailcluster_node_role.").
		WithTarget(instant("A", roleExpr(m), "{{node}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(roleMappings).
		NoValue("no nodes").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterNoActiveNode.md"), runbook("MailclusterSplitBrain.md")}))
	b.WithPanel(bigStat("Peer", pos(19, 1, 5, 5)).
		Description("mailcluster_peer_up: each node's view of its peer over heartbeat / sync link.").
		WithTarget(instant("A", peerExpr(m), "{{node}} → {{peer}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(peerMappings).
		NoValue("not monitored").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterPeerDown.md")}))

	b.WithPanel(bigStat("Redundancy enabled", pos(0, 6, 5, 4)).
		Description("mailcluster_redundancy_enabled per node (min over exporters). Absent where no source can tell.").
		WithTarget(instant("A", fmt.Sprintf("min by(node)(%s)", sel("mailcluster_redundancy_enabled", m)), "{{node}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(enabledMappings).
		NoValue("not reported").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterRedundancyDisabled.md")}))
	b.WithPanel(bigStat("Sync state", pos(5, 6, 5, 4)).
		Description("mailcluster_sync_state per node. Absent where no sync source is configured; UNKNOWN where it is configured but failed.").
		WithTarget(instant("A", syncStateExpr(m), "{{node}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(syncMappings).
		NoValue("no sync source").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterSyncStalled.md")}))
	b.WithPanel(progressGauge("Sync progress", pos(10, 6, 5, 4), m))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Last role change").
		Description("mailcluster_last_role_change_timestamp_seconds per node (observed by the exporter or reported by the source).").
		Datasource(ds()).
		GridPos(pos(15, 6, 5, 4)).
		WithTarget(instant("A", fmt.Sprintf("max by(node)(%s) * 1000", sel("mailcluster_last_role_change_timestamp_seconds", m)), "{{node}}")).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(lastNotNull()).
		Unit("dateTimeAsIso").
		NoValue("never").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterFailoverHappened.md")}))
	b.WithPanel(bigStat("Update window", pos(20, 6, 4, 4)).
		Description("mailcluster_update_window_open. While open, critical alerts for this cluster are held back and the procedure alerts take over.").
		WithTarget(instant("A", fmt.Sprintf("max by(cluster)(%s)", sel("mailcluster_update_window_open", m)), "{{cluster}}")).
		TextMode(common.BigValueTextModeValue).
		Mappings(windowMappings).
		NoValue("NO DATA").
		Links([]cog.Builder[dashboard.DashboardLink]{link("Update window", dashURL(UIDWindow, "var-cluster=$cluster"), false), runbook("MailclusterUpdateWindowExpired.md")}))

	// --- Failovers and sync ---------------------------------------------
	b.WithRow(row("Failovers and sync", 10))
	b.WithPanel(statetimeline.NewPanelBuilder().
		Title("Role timeline (failovers)").
		Description("Role of each node over time; a colour change is a role change (failover). The Role changes annotation marks mailcluster_last_role_change_timestamp_seconds changes.").
		Datasource(ds()).
		GridPos(pos(0, 11, 24, 6)).
		WithTarget(rangeQ("A", roleExpr(m), "{{node}}")).
		Unit("none").
		Mappings(roleMappings).
		ColorScheme(thresholdColor()).
		Thresholds(thresholds(colorGray)).
		ShowValue(common.VisibilityModeAuto).
		MergeValues(true).
		RowHeight(0.8).
		FillOpacity(80).
		Legend(hiddenLegend()).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone)).
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterFailoverHappened.md")}))
	b.WithPanel(tsPanel("Sync lag", pos(0, 17, 8, 7), "s").
		Description("mailcluster_sync_lag_seconds: age of the newest replicated change, where measurable.").
		WithTarget(rangeQ("A", fmt.Sprintf("max by(node)(%s)", sel("mailcluster_sync_lag_seconds", m)), "{{node}}")).
		NoValue("not measured").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterSyncStalled.md")}))
	b.WithPanel(tsPanel("Sync pending", pos(8, 17, 8, 7), "bytes").
		Description("mailcluster_sync_pending: data still to replicate, bytes (left axis) and items (right axis).").
		WithTarget(rangeQ("A", fmt.Sprintf("max by(node)(%s)", sel("mailcluster_sync_pending", m, `unit="bytes"`)), "{{node}} bytes")).
		WithTarget(rangeQ("B", fmt.Sprintf("max by(node)(%s)", sel("mailcluster_sync_pending", m, `unit="items"`)), "{{node}} items")).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "unit", Value: "short"}, {Id: "custom.axisPlacement", Value: "right"}}).
		NoValue("not reported").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterSyncStalled.md")}))
	b.WithPanel(tsPanel("Sync progress history", pos(16, 17, 8, 7), "percentunit").
		Description("mailcluster_sync_progress_ratio over time (0..1 while syncing).").
		WithTarget(rangeQ("A", fmt.Sprintf("max by(node)(%s)", sel("mailcluster_sync_progress_ratio", m)), "{{node}}")).
		Min(0).Max(1).
		NoValue("not syncing").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterSyncStalled.md")}))

	// --- Services -------------------------------------------------------
	b.WithRow(row("Services", 24))
	b.WithPanel(serviceHistory("Service status — virtual address", pos(0, 25, 24, 5),
		fmt.Sprintf("max by(service)(%s)", sel("mailcluster:virtual_service_status:code", m))).
		Description("mailcluster:virtual_service_status:code over time: what clients see through the common/virtual address.").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterVirtualServiceDown.md")}))
	b.WithPanel(serviceHistory("Service status — $node", pos(0, 30, 12, 7),
		fmt.Sprintf("max by(service)(%s)", sel("mailcluster:service_status:code", `cluster="$cluster", node=~"$node"`))).
		Description("mailcluster:service_status:code of one node over time (repeats per node). STOPPED gray is normal on a node that should not serve.").
		Repeat("node").
		RepeatDirection(dashboard.PanelRepeatDirectionH).
		MaxPerRow(2).
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterServiceDownOnServingNode.md"), runbook("MailclusterServiceRunningOnStandby.md")}))
	b.WithPanel(tsPanel("Probe latency", pos(0, 37, 12, 8), "s").
		Description("Protocol probe duration per node and service, and through the virtual address; dashed lines are each service's slow threshold (mailcluster_service_slow_threshold_seconds): slower probes turn the service yellow.").
		WithTarget(rangeQ("A", fmt.Sprintf("max by(node, service)(%s)", sel("mailcluster_service_probe_duration_seconds", mn)), "{{node}} {{service}}")).
		WithTarget(rangeQ("B", fmt.Sprintf("max by(service)(%s)", sel("mailcluster_virtual_service_probe_duration_seconds", m)), "virtual {{service}}")).
		WithTarget(rangeQ("C", fmt.Sprintf("max by(service)(%s)", sel("mailcluster_service_slow_threshold_seconds", m)), "{{service}} slow threshold")).
		OverrideByQuery("C", []dashboard.DynamicConfigValue{
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": colorYellow}},
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterServiceDownOnServingNode.md")}))
	b.WithPanel(bargauge.NewPanelBuilder().
		Title("TLS certificate expiry").
		Description("Days until the certificate each service presents expires (TLS or STARTTLS), per node and through the virtual address. Yellow within the rules' threshold (14 days by default), red within 3 days.").
		Datasource(ds()).
		GridPos(pos(12, 37, 12, 8)).
		WithTarget(instant("A", fmt.Sprintf("(min by(node, service)(%s) - time()) / 86400", sel("mailcluster_service_tls_cert_expiry_timestamp_seconds", mn)), "{{node}} {{service}}")).
		WithTarget(instant("B", fmt.Sprintf("(min by(service)(%s) - time()) / 86400", sel("mailcluster_virtual_service_tls_cert_expiry_timestamp_seconds", m)), "virtual {{service}}")).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		Orientation(common.VizOrientationHorizontal).
		ValueMode(common.BarGaugeValueModeColor).
		NamePlacement(common.BarGaugeNamePlacementLeft).
		ShowUnfilled(true).
		Sizing(common.BarGaugeSizingAuto).
		ReduceOptions(lastNotNull()).
		Legend(hiddenLegend()).
		Unit("d").
		Decimals(1).
		Min(0).
		Max(90).
		ColorScheme(thresholdColor()).
		Thresholds(thresholds(colorRed, 3, colorYellow, 14, colorGreen)).
		NoValue("no TLS services").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterTLSCertificateExpiring.md")}))

	// --- Queues ---------------------------------------------------------
	b.WithRow(row("Queues", 45))
	queue := func(title, metric, unit string, x uint32, desc string) {
		b.WithPanel(tsPanel(title, pos(x, 46, 8, 7), unit).
			Description(desc).
			WithTarget(rangeQ("A", fmt.Sprintf("max by(node, queue)(%s)", sel(metric, mn)), "{{node}} {{queue}}")).
			NoValue("no queue source").
			Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterQueueBacklogGrowing.md")}))
	}
	queue("Queue messages", "mailcluster_queue_messages", "short", 0, "mailcluster_queue_messages per node and queue.")
	queue("Queue size", "mailcluster_queue_bytes", "bytes", 8, "mailcluster_queue_bytes per node and queue.")
	queue("Oldest queued message", "mailcluster_queue_oldest_age_seconds", "s", 16, "mailcluster_queue_oldest_age_seconds per node and queue (absent while the queue is empty).")

	// --- Software and sources ---------------------------------------------
	b.WithRow(row("Software and sources", 53))
	b.WithPanel(table.NewPanelBuilder().
		Title("Software version").
		Description("mailcluster_software_info: the version each node reports. Different versions must never sync (gate versions_match).").
		Datasource(ds()).
		GridPos(pos(0, 54, 8, 6)).
		WithTarget(tableQ("A", fmt.Sprintf("max by(node, version)(%s)", sel("mailcluster_software_info", m)))).
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value": true},
				"indexByName":   map[string]any{"node": 0, "version": 1},
				"renameByName":  map[string]any{},
			},
		}).
		ShowHeader(true).
		CellHeight(common.TableCellHeightMd).
		Footer(noFooter()).
		Unit("none").
		NoValue("no version reported").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterVersionSkew.md")}))
	b.WithPanel(bigStat("Restart required", pos(8, 54, 4, 6)).
		Description("mailcluster_restart_required per node.").
		WithTarget(instant("A", fmt.Sprintf("max by(node)(%s)", sel("mailcluster_restart_required", m)), "{{node}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(restartMappings).
		NoValue("not reported").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterRestartRequired.md")}))
	b.WithPanel(bigStat("Sources", pos(12, 54, 6, 6)).
		Description("mailcluster_source_up per node and source: could the source produce its facts? A failed source makes the redundancy state red (reason unknown).").
		WithTarget(instant("A", fmt.Sprintf("max by(node, source)(%s)", sel("mailcluster_source_up", m)), "{{node}} {{source}}")).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(sourceMappings).
		NoValue("no sources").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterExporterSourceFailing.md")}))
	b.WithPanel(tsPanel("Source duration", pos(18, 54, 6, 6), "s").
		Description("mailcluster_source_duration_seconds: how long each source took in the scrape (bounded by the scrape timeout).").
		WithTarget(rangeQ("A", fmt.Sprintf("max by(node, source)(%s)", sel("mailcluster_source_duration_seconds", m)), "{{node}} {{source}}")).
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterExporterSourceFailing.md")}))

	// --- Host metrics ---------------------------------------------------
	b.WithRow(row("Host metrics (node_exporter, optional)", 60))
	for _, h := range hostPanels(mn, 61) {
		b.WithPanel(h)
	}

	return b.Build()
}

// hostPanels are the optional node_exporter panels, joined on the cluster
// and node labels of the node_exporter scrape job.
func hostPanels(m string, y uint32) []cog.Builder[dashboard.Panel] {
	nodeLinks := []cog.Builder[dashboard.DashboardLink]{nodeExporterLink(), runbook("")}
	return []cog.Builder[dashboard.Panel]{
		tsPanel("CPU busy", pos(0, y, 6, 7), "percentunit").
			Description("1 - idle CPU share per node (node_cpu_seconds_total). Sync raises CPU: watch it while syncing.").
			WithTarget(rangeQ("A", cpuExpr(m), "{{node}}")).
			Min(0).Max(1).
			NoValue(noNodeExporter).
			Links(nodeLinks),
		tsPanel("Memory used", pos(6, y, 6, 7), "percentunit").
			Description("1 - MemAvailable / MemTotal per node.").
			WithTarget(rangeQ("A", fmt.Sprintf("1 - max by(node)(%s) / max by(node)(%s)", sel("node_memory_MemAvailable_bytes", m), sel("node_memory_MemTotal_bytes", m)), "{{node}}")).
			Min(0).Max(1).
			NoValue(noNodeExporter).
			Links(nodeLinks),
		tsPanel("Disk used", pos(12, y, 6, 7), "percentunit").
			Description("Used share of each real filesystem per node (tmpfs/overlay/squashfs excluded); mail spools and mirror disks live here.").
			WithTarget(rangeQ("A", fmt.Sprintf("1 - max by(node, mountpoint)(%s) / max by(node, mountpoint)(%s)",
				sel("node_filesystem_avail_bytes", m, `fstype!~"tmpfs|overlay|squashfs|ramfs"`),
				sel("node_filesystem_size_bytes", m, `fstype!~"tmpfs|overlay|squashfs|ramfs"`)), "{{node}} {{mountpoint}}")).
			Min(0).Max(1).
			NoValue(noNodeExporter).
			Links(nodeLinks),
		tsPanel("Network traffic", pos(18, y, 6, 7), "Bps").
			Description("Receive (positive) and transmit (negative) bytes per second per node, loopback excluded; includes the sync link.").
			WithTarget(rangeQ("A", fmt.Sprintf("sum by(node)(rate(%s[$__rate_interval]))", sel("node_network_receive_bytes_total", m, `device!="lo"`)), "{{node}} rx")).
			WithTarget(rangeQ("B", fmt.Sprintf("-sum by(node)(rate(%s[$__rate_interval]))", sel("node_network_transmit_bytes_total", m, `device!="lo"`)), "{{node}} tx")).
			NoValue(noNodeExporter).
			Links(nodeLinks),
	}
}

func tsPanel(title string, gp dashboard.GridPos, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Datasource(ds()).
		GridPos(gp).
		Unit(unit).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: ptr(false)}).
		Legend(listLegend()).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

func serviceHistory(title string, gp dashboard.GridPos, expr string) *statushistory.PanelBuilder {
	return statushistory.NewPanelBuilder().
		Title(title).
		Datasource(ds()).
		GridPos(gp).
		WithTarget(rangeQ("A", expr, "{{service}}")).
		Unit("none").
		Mappings(serviceMappings).
		ColorScheme(thresholdColor()).
		Thresholds(thresholds(colorGray)).
		ShowValue(common.VisibilityModeNever).
		RowHeight(0.9).
		FillOpacity(80).
		Legend(hiddenLegend()).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone)).
		MaxDataPoints(120).
		NoValue("no service probed")
}

func progressGauge(title string, gp dashboard.GridPos, m string) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(title).
		Description("mailcluster_sync_progress_ratio per node while syncing. No automatic failover until sync completes.").
		Datasource(ds()).
		GridPos(gp).
		WithTarget(instant("A", fmt.Sprintf("max by(node)(%s)", sel("mailcluster_sync_progress_ratio", m)), "{{node}}")).
		DisplayMode(common.BarGaugeDisplayModeLcd).
		Orientation(common.VizOrientationHorizontal).
		ValueMode(common.BarGaugeValueModeColor).
		NamePlacement(common.BarGaugeNamePlacementLeft).
		ShowUnfilled(true).
		Sizing(common.BarGaugeSizingAuto).
		ReduceOptions(lastNotNull()).
		Legend(hiddenLegend()).
		Unit("percentunit").
		Decimals(1).
		Min(0).
		Max(1).
		ColorScheme(thresholdColor()).
		Thresholds(thresholds(colorYellow, 1, colorGreen)).
		NoValue("not syncing").
		Links([]cog.Builder[dashboard.DashboardLink]{runbook("MailclusterSyncStalled.md")})
}

func nodeExporterLink() cog.Builder[dashboard.DashboardLink] {
	return link("node_exporter join (dashboards/README.md)", "https://github.com/mailcluster/mailcluster_exporter/blob/main/dashboards/README.md#node_exporter-join", true)
}
