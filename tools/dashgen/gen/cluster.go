package gen

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
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

	b := newDashboard(clusterTitle, UIDCluster, "Active Monitor view of one HA mail cluster: redundancy state and reasons, roles, peers, sync, services, probes, certificates, queues, versions, failovers, and host metrics where node_exporter is joined.").
		Refresh("1m").
		Time("now-6h", "now").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(clusterVar(false)).
		WithVariable(nodeVar()).
		Annotation(changeAnnotation("Role changes", "orange", "mailcluster_last_role_change_timestamp_seconds", "node", m).
			TitleFormat("Role change").
			TextFormat("node {{node}} changed its role"))

	// --- Redundancy ----------------------------------------------------
	b.WithRow(row("Redundancy (Active Monitor)", 0))
	b.WithPanel(codeStat("Redundancy state", pos(0, 1, 5, 5), showValue, redundancyMappings, "NO DATA").
		Description("mailcluster:redundancy_status:code: REDUNDANCY OFF (disabled) gray, RED (split brain, no active node, peer down, out of sync, unknown) red, SYNCING yellow (no automatic failover until synced), OK green.").
		WithTarget(instant("A", sel("mailcluster:redundancy_status:code", m), "{{cluster}}")).
		Links(runbooks("MailclusterRedundancyRed.md", "MailclusterRedundancyDisabled.md")))
	b.WithPanel(codeStat("Overall status", pos(5, 1, 4, 5), showValue, wallMappings(), "NO DATA").
		Description(wallStatesDescription("The cluster's state as on the NOC wall (mailcluster:status:code and the reason to act on).")).
		WithTarget(instant("A", wallStateExpr(m), "{{cluster}}")).
		Links(links(dashLink("NOC wall", UIDWall), runbook(""))))
	b.WithPanel(causesStat("Reasons", pos(9, 1, 5, 5), m, "{{reason}}", "none — green").
		Description("Every reason in mailcluster:redundancy_status:reason, and yellow/red services of serving nodes (service@node) or of the virtual address.").
		Links(runbooks("MailclusterRedundancyRed.md", "MailclusterPeerDown.md")))
	b.WithPanel(rolesStat("Node roles", pos(14, 1, 5, 5), m).
		Description("The resolved role of each node (mailcluster:node_role:resolved), the role every rule reads: the cluster software's reported roles first, the observers' view where none is known, else UNKNOWN. The table Evidence per exporter shows what each exporter said."))
	b.WithPanel(peersStat("Peer", pos(19, 1, 5, 5), m).
		Description("mailcluster_peer_up: each node's view of its peer over heartbeat / sync link (min over exporters)."))

	b.WithPanel(tablePanel("Firing alerts", pos(0, 6, 12, 6), fmt.Sprintf(`max by(alertname, severity, node, service, reason)(%s)`, sel("ALERTS", m, `alertstate="firing"`))).
		Description("Alerts firing for this cluster now (ALERTS{alertstate=\"firing\"}), by severity. Critical alerts are held back while an update window is open.").
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value": true},
				"indexByName":   map[string]any{"severity": 0, "alertname": 1, "node": 2, "service": 3, "reason": 4},
				"renameByName":  map[string]any{},
			},
		}).
		Unit("none").
		NoValue("no alert firing").
		OverrideByName("severity", []dashboard.DynamicConfigValue{
			{Id: "mappings", Value: mappings(mapping{"critical", "CRITICAL", colorRed}, mapping{"warning", "WARNING", colorYellow}, mapping{"info", "info", colorBlue})},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background"}},
		}).
		Links(links(link("Alertmanager / alert list", "/alerting/list", false), runbook(""))))
	b.WithPanel(evidenceTable(pos(12, 6, 12, 6), m))

	b.WithPanel(codeStat("Redundancy enabled", pos(0, 12, 5, 4), showValueAndName, enabledMappings, "not reported").
		Description("mailcluster_redundancy_enabled per node (min over exporters). Absent where no source can tell.").
		WithTarget(instant("A", fmt.Sprintf("min by(node)(%s)", sel("mailcluster_redundancy_enabled", m)), "{{node}}")).
		Links(runbooks("MailclusterRedundancyDisabled.md")))
	b.WithPanel(syncStateStat(pos(5, 12, 5, 4), m, "mailcluster_sync_state per node. Absent where no sync source is configured; UNKNOWN where it is configured but failed."))
	b.WithPanel(bigStat("Sync lag", pos(10, 12, 4, 4)).
		Description("mailcluster_sync_lag_seconds per node: age of the newest replicated change, where measurable. Yellow above 1 minute, red above 15 minutes (dashboard thresholds; no rule reads the lag).").
		WithTarget(instant("A", maxBy("node", sel("mailcluster_sync_lag_seconds", m)), "{{node}}")).
		TextMode(showValueAndName).
		Unit("s").
		Decimals(0).
		Thresholds(thresholds(colorGreen, 60, colorYellow, 900, colorRed)).
		NoValue("not measured").
		Links(runbooks("MailclusterSyncStalled.md")))
	b.WithPanel(progressGauge(pos(14, 12, 4, 4), m))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Last role change").
		Description("mailcluster_last_role_change_timestamp_seconds per node (observed by the exporter or reported by the source).").
		Datasource(ds()).
		GridPos(pos(18, 12, 3, 4)).
		WithTarget(instant("A", maxBy("node", sel("mailcluster_last_role_change_timestamp_seconds", m))+" * 1000", "{{node}}")).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeNone).
		TextMode(showValueAndName).
		ReduceOptions(lastNotNull()).
		Unit("dateTimeAsIso").
		NoValue("never").
		Links(runbooks("MailclusterFailoverHappened.md")))
	b.WithPanel(windowOpenStat(pos(21, 12, 3, 4), m).
		Description("mailcluster_update_window_open. While open, critical alerts for this cluster are held back and the procedure alerts take over.").
		Links(links(dashLink("Update window", UIDWindow), runbook("MailclusterUpdateWindowExpired.md"))))

	// --- Services now ---------------------------------------------------
	b.WithRow(row("Services now", 16))
	b.WithPanel(matrixTable("Services — node × service", pos(0, 17, 10, 8), serviceMatrixExpr(m), serviceMappings).
		Description("mailcluster:service_status:code per node now (STOPPED gray: a node that should not serve has it stopped, normal for a standby; OK; WARN: slow, certificate expiring or unverified, or running where it should not; DOWN on a node that should serve) and mailcluster:virtual_service_status:code through the virtual address.").
		CellHeight(common.TableCellHeightMd).
		Links(runbooks("MailclusterServiceDownOnServingNode.md", "MailclusterVirtualServiceDown.md")))
	b.WithPanel(serviceDetailTable(pos(10, 17, 14, 8), m))

	// --- Failovers and sync ---------------------------------------------
	b.WithRow(row("History: failovers, sync, services", 25))
	b.WithPanel(statetimeline.NewPanelBuilder().
		Title("Role timeline (failovers)").
		Description("Resolved role of each node over time, the highest code of each interval (max_over_time over $__interval, so a short OFFLINE/UNKNOWN stays visible); a colour change is a role change (failover). The Role changes annotation marks mailcluster_last_role_change_timestamp_seconds changes.").
		Datasource(ds()).
		GridPos(pos(0, 26, 24, 6)).
		WithTarget(rangeQ("A", fmt.Sprintf("max_over_time((%s\n)[$__interval:])", roleExpr(m)), "{{node}}")).
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
		Links(runbooks("MailclusterFailoverHappened.md")))
	b.WithPanel(tsPanel("Sync lag history", pos(0, 32, 8, 7), "s").
		Description("mailcluster_sync_lag_seconds: age of the newest replicated change, the highest of each interval. Dashed: the 1 min / 15 min thresholds of the Sync lag stat.").
		WithTarget(rangeQ("A", maxBy("node", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster_sync_lag_seconds", m))), "{{node}}")).
		Thresholds(thresholds(colorGreen, 60, colorYellow, 900, colorRed)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		NoValue("not measured").
		Links(runbooks("MailclusterSyncStalled.md")))
	b.WithPanel(tsPanel("Sync pending", pos(8, 32, 8, 7), "bytes").
		Description("mailcluster_sync_pending: data still to replicate, bytes (left axis) and items (right axis), the highest of each interval.").
		WithTarget(rangeQ("A", maxBy("node", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster_sync_pending", m, `unit="bytes"`))), "{{node}} bytes")).
		WithTarget(rangeQ("B", maxBy("node", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster_sync_pending", m, `unit="items"`))), "{{node}} items")).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "unit", Value: "short"}, {Id: "custom.axisPlacement", Value: "right"}}).
		NoValue("not reported").
		Links(runbooks("MailclusterSyncStalled.md")))
	b.WithPanel(syncProgressHistory(pos(16, 32, 8, 7), m, "mailcluster_sync_progress_ratio over time (0..1 while syncing)."))
	b.WithPanel(serviceHistory("Service status — virtual address", pos(0, 39, 24, 5),
		maxBy("service", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster:virtual_service_status:code", m)))).
		Description("mailcluster:virtual_service_status:code over time, the worst of each interval (max_over_time over $__interval): what clients see through the common/virtual address.").
		Links(runbooks("MailclusterVirtualServiceDown.md")))
	b.WithPanel(serviceHistory("Service status — $node", pos(0, 44, 12, 7),
		maxBy("service", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster:service_status:code", mn)))).
		Description("mailcluster:service_status:code of one node over time, the worst of each interval (repeats per node). STOPPED gray is normal on a node that should not serve.").
		Repeat("node").
		RepeatDirection(dashboard.PanelRepeatDirectionH).
		MaxPerRow(2).
		Links(runbooks("MailclusterServiceDownOnServingNode.md", "MailclusterServiceRunningOnStandby.md")))
	b.WithPanel(tsPanel("Probe latency", pos(0, 51, 12, 8), "s").
		Description("Protocol probe duration per node and service, and through the virtual address, the highest of each interval; dashed lines are each service's slow threshold (mailcluster_service_slow_threshold_seconds): slower probes turn the service yellow.").
		WithTarget(rangeQ("A", maxBy("node, service", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster_service_probe_duration_seconds", mn))), "{{node}} {{service}}")).
		WithTarget(rangeQ("B", maxBy("service", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster_virtual_service_probe_duration_seconds", m))), "virtual {{service}}")).
		WithTarget(rangeQ("C", maxBy("service", sel("mailcluster_service_slow_threshold_seconds", m)), "{{service}} slow threshold")).
		OverrideByQuery("C", []dashboard.DynamicConfigValue{
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": colorYellow}},
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).
		Links(runbooks("MailclusterServiceDownOnServingNode.md")))
	b.WithPanel(hbarGauge("TLS certificate expiry", pos(12, 51, 12, 8), common.BarGaugeDisplayModeBasic).
		Description("Days until the certificate each service presents expires (TLS or STARTTLS), per node and through the virtual address, and the chain: the first certificate of the presented chain to expire, often an intermediate. Yellow within the rules' threshold (14 days by default), red within 3 days.").
		WithTarget(instant("A", fmt.Sprintf("(min by(node, service)(%s) - time()) / 86400", sel("mailcluster_service_tls_cert_expiry_timestamp_seconds", mn)), "{{node}} {{service}}")).
		WithTarget(instant("B", fmt.Sprintf("(min by(service)(%s) - time()) / 86400", sel("mailcluster_virtual_service_tls_cert_expiry_timestamp_seconds", m)), "virtual {{service}}")).
		WithTarget(instant("C", fmt.Sprintf("(min by(node, service)(%s) - time()) / 86400", sel("mailcluster_service_tls_chain_expiry_timestamp_seconds", mn)), "{{node}} {{service}} chain")).
		WithTarget(instant("D", fmt.Sprintf("(min by(service)(%s) - time()) / 86400", sel("mailcluster_virtual_service_tls_chain_expiry_timestamp_seconds", m)), "virtual {{service}} chain")).
		Unit("d").
		Max(90).
		Thresholds(thresholds(colorRed, 3, colorYellow, 14, colorGreen)).
		NoValue("no TLS services").
		Links(runbooks("MailclusterTLSCertificateExpiring.md")))

	// --- Round trip (optional roundtrip: per cluster), collapsed ----------
	rt := row("Round trip: a real message through the virtual address", 59).Collapsed(true)
	rt.WithPanel(tsPanel("Round trip: delivery and replication", pos(0, 60, 16, 8), "s").
		Description("The end-to-end check (roundtrip:): a message submitted through the virtual address, looked for over IMAP on each node. Delivery: until the first node shows it. Replication: until that node shows it; for a node the last round did not reach, how long its oldest unseen message has been on its way (it keeps growing). Dashed: slow_threshold (delivery) and max_lag (replication; above it a node not reached is out_of_sync unless syncing). The highest of each interval over exporters.").
		WithTarget(rangeQ("A", fmt.Sprintf("max(max_over_time(%s[$__interval]))", sel("mailcluster_roundtrip_delivery_seconds", m)), "delivery")).
		WithTarget(rangeQ("B", maxBy("node", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster_roundtrip_replication_seconds", m))), "replication {{node}}")).
		WithTarget(rangeQ("C", fmt.Sprintf("max(%s)", sel("mailcluster_roundtrip_slow_threshold_seconds", m)), "delivery slow threshold")).
		WithTarget(rangeQ("D", fmt.Sprintf("max(%s)", sel("mailcluster_roundtrip_max_lag_seconds", m)), "replication max lag")).
		OverrideByQuery("C", []dashboard.DynamicConfigValue{
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": colorYellow}},
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).
		OverrideByQuery("D", []dashboard.DynamicConfigValue{
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": colorRed}},
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).
		NoValue("no round trip configured").
		Links(runbooks("MailclusterRedundancyRed.md", "MailclusterVirtualServiceDown.md")))
	rt.WithPanel(tsPanel("Round trip: nodes reached", pos(16, 60, 8, 8), "none").
		Description("mailcluster_roundtrip_success per node: 1 the last round reached the node, 0 it did not (any exporter's failing round trip counts: the lowest over exporters).").
		WithTarget(rangeQ("A", fmt.Sprintf("min by(node)(min_over_time(%s[$__interval]))", sel("mailcluster_roundtrip_success", m)), "{{node}}")).
		Min(0).
		Max(1).
		NoValue("no round trip configured").
		Links(runbooks("MailclusterRedundancyRed.md")))
	b.WithRow(rt)

	// --- Secondary rows, collapsed: queues, software and sources, hosts ---
	queues := row("Queues", 68).Collapsed(true)
	queue := func(title, metric, unit string, x uint32, desc string, th *dashboard.ThresholdsConfigBuilder) {
		p := tsPanel(title, pos(x, 69, 8, 7), unit).
			Description(desc).
			WithTarget(rangeQ("A", maxBy("node, queue", fmt.Sprintf("max_over_time(%s[$__interval])", sel(metric, mn))), "{{node}} {{queue}}")).
			NoValue("no queue source").
			Links(runbooks("MailclusterQueueBacklogGrowing.md"))
		if th != nil {
			p.Thresholds(th).ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
		}
		queues.WithPanel(p)
	}
	queue("Queue messages", "mailcluster_queue_messages", "short", 0, "mailcluster_queue_messages per node and queue. Dashed: the rules' backlog threshold (mailcluster:threshold:queue_backlog_messages, 1000 by default; MailclusterQueueBacklogGrowing fires above it while growing).", thresholds(colorGreen, 1000, colorYellow))
	queue("Queue size", "mailcluster_queue_bytes", "bytes", 8, "mailcluster_queue_bytes per node and queue.", nil)
	queue("Oldest queued message", "mailcluster_queue_oldest_age_seconds", "s", 16, "mailcluster_queue_oldest_age_seconds per node and queue (absent while the queue is empty). Dashed: yellow after 15 minutes, red after 1 hour (dashboard thresholds).", thresholds(colorGreen, 900, colorYellow, 3600, colorRed))
	b.WithRow(queues)

	sw := row("Software and sources", 76).Collapsed(true)
	sw.WithPanel(tablePanel("Software version", pos(0, 77, 8, 6), maxBy("node, version", sel("mailcluster_software_info", m))).
		Description("mailcluster_software_info: the version each node reports. Different versions must never sync (gate versions_match).").
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value": true},
				"indexByName":   map[string]any{"node": 0, "version": 1},
				"renameByName":  map[string]any{},
			},
		}).
		CellHeight(common.TableCellHeightMd).
		Unit("none").
		NoValue("no version reported").
		Links(runbooks("MailclusterVersionSkew.md")))
	sw.WithPanel(codeStat("Restart required", pos(8, 77, 4, 6), showValueAndName, restartMappings, "not reported").
		Description("mailcluster_restart_required per node.").
		WithTarget(instant("A", maxBy("node", sel("mailcluster_restart_required", m)), "{{node}}")).
		Links(runbooks("MailclusterRestartRequired.md")))
	sw.WithPanel(codeStat("Sources", pos(12, 77, 6, 6), showValueAndName, sourceMappings, "no sources").
		Description("mailcluster_source_up per node and source: could the source produce its facts? A source that failed on every exporter that runs it makes the redundancy state red (reason unknown).").
		WithTarget(instant("A", maxBy("node, source", sel("mailcluster_source_up", m)), "{{node}} {{source}}")).
		Links(runbooks("MailclusterExporterSourceFailing.md")))
	sw.WithPanel(tsPanel("Source duration", pos(18, 77, 6, 6), "s").
		Description("mailcluster_source_duration_seconds: how long each source took in the scrape (bounded by the scrape timeout), the highest of each interval.").
		WithTarget(rangeQ("A", maxBy("node, source", fmt.Sprintf("max_over_time(%s[$__interval])", sel("mailcluster_source_duration_seconds", m))), "{{node}} {{source}}")).
		Links(runbooks("MailclusterExporterSourceFailing.md")))
	b.WithRow(sw)

	hosts := row("Host metrics (node_exporter, optional)", 83).Collapsed(true)
	for _, h := range hostPanels(mn, 84) {
		hosts.WithPanel(h)
	}
	b.WithRow(hosts)

	return b.Build()
}

// hostPanels are the optional node_exporter panels, joined on the cluster
// and node labels of the node_exporter scrape job.
func hostPanels(m string, y uint32) []cog.Builder[dashboard.Panel] {
	nodeLinks := links(nodeExporterLink(), runbook(""))
	realFS := `fstype!~"tmpfs|overlay|squashfs|ramfs"`
	return []cog.Builder[dashboard.Panel]{
		cpuPanel("CPU busy", pos(0, y, 6, 7), m).
			Description("1 - idle CPU share per node (node_cpu_seconds_total). Sync raises CPU: watch it while syncing. Dashed: yellow above 80 %, red above 95 %.").
			Links(nodeLinks),
		ratioPanel("Memory used", pos(6, y, 6, 7)).
			Description("1 - MemAvailable / MemTotal per node.").
			WithTarget(rangeQ("A", fmt.Sprintf("1 - %s / %s", maxBy("node", sel("node_memory_MemAvailable_bytes", m)), maxBy("node", sel("node_memory_MemTotal_bytes", m))), "{{node}}")).
			NoValue(noNodeExporter).
			Links(nodeLinks),
		ratioPanel("Disk used", pos(12, y, 6, 7)).
			Description("Used share of each real filesystem per node (tmpfs/overlay/squashfs excluded); mail spools and mirror disks live here. Dashed: yellow above 80 %, red above 90 %.").
			Thresholds(thresholds(colorGreen, 0.8, colorYellow, 0.9, colorRed)).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
			WithTarget(rangeQ("A", fmt.Sprintf("1 - %s / %s",
				maxBy("node, mountpoint", sel("node_filesystem_avail_bytes", m, realFS)),
				maxBy("node, mountpoint", sel("node_filesystem_size_bytes", m, realFS))), "{{node}} {{mountpoint}}")).
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
