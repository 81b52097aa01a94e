package gen

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statushistory"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Panel shapes shared by the dashboards. Each builder sets what every panel
// of its shape has in common; the dashboards add title-specific text,
// queries and links.

// newDashboard starts a mailcluster dashboard: tagged, read-only, in the
// browser's time zone, with the dashboard links and the datasource variable.
func newDashboard(title, uid, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Tags([]string{Tag}).
		Description(description).
		Readonly().
		Timezone("browser").
		Links(dashboardLinks()).
		WithVariable(datasourceVar()).
		WithVariable(runbookVar())
}

// changeAnnotation marks, per value of the label by, every moment metric
// changed on the cluster(s) matched by m; by is also the annotation's tag.
func changeAnnotation(name, color, metric, by, m string) *dashboard.AnnotationQueryBuilder {
	return dashboard.NewAnnotationQueryBuilder().
		Name(name).
		Datasource(ds()).
		Enable(true).
		IconColor(color).
		Expr(fmt.Sprintf("max by(%s)(changes(%s[2m])) > 0", by, sel(metric, m))).
		Step("1m").
		TagKeys(by)
}

// links is a panel's link list.
func links(ls ...cog.Builder[dashboard.DashboardLink]) []cog.Builder[dashboard.DashboardLink] {
	return ls
}

// runbooks links a panel to runbook pages (see runbook).
func runbooks(pages ...string) []cog.Builder[dashboard.DashboardLink] {
	ls := make([]cog.Builder[dashboard.DashboardLink], 0, len(pages))
	for _, p := range pages {
		ls = append(ls, runbook(p))
	}
	return ls
}

// dashLink links to another mailcluster dashboard for the same $cluster.
func dashLink(title, uid string) cog.Builder[dashboard.DashboardLink] {
	return link(title, dashURL(uid, "var-cluster=$cluster"), false)
}

func nodeExporterLink() cog.Builder[dashboard.DashboardLink] {
	return link("node_exporter join (dashboards/README.md)", "https://github.com/mailcluster/mailcluster_exporter/blob/main/dashboards/README.md#node_exporter-join", true)
}

// --- stat ---------------------------------------------------------------

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

// Text modes of codeStat: the mapped value only (one status), the series
// name only (causes, coloured by their severity) or both (one tile per node
// or series).
const (
	showValue        = common.BigValueTextModeValue
	showName         = common.BigValueTextModeName
	showValueAndName = common.BigValueTextModeValueAndName
)

// codeStat is a bigStat of a status code: each code is shown as the text
// and colour of its mapping in ms; noValue is shown when nothing matches.
func codeStat(title string, gp dashboard.GridPos, mode common.BigValueTextMode, ms []dashboard.ValueMapping, noValue string) *stat.PanelBuilder {
	return bigStat(title, gp).
		TextMode(mode).
		Mappings(ms).
		NoValue(noValue)
}

// --- time series ----------------------------------------------------------

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

// ratioPanel is a time series of a 0..1 share.
func ratioPanel(title string, gp dashboard.GridPos) *timeseries.PanelBuilder {
	return tsPanel(title, gp, "percentunit").Min(0).Max(1)
}

// serviceHistory: service status codes (serviceMappings) of expr over time,
// one line per service.
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

// --- bar gauge --------------------------------------------------------------

// hbarGauge is a horizontal bar gauge of the last values, names on the left,
// coloured by thresholds, from 0 with one decimal.
func hbarGauge(title string, gp dashboard.GridPos, mode common.BarGaugeDisplayMode) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(title).
		Datasource(ds()).
		GridPos(gp).
		DisplayMode(mode).
		Orientation(common.VizOrientationHorizontal).
		ValueMode(common.BarGaugeValueModeColor).
		NamePlacement(common.BarGaugeNamePlacementLeft).
		ShowUnfilled(true).
		Sizing(common.BarGaugeSizingAuto).
		ReduceOptions(lastNotNull()).
		Legend(hiddenLegend()).
		Decimals(1).
		Min(0).
		ColorScheme(thresholdColor())
}

// --- table ------------------------------------------------------------------

// tablePanel is a table of one instant query, with a header and no footer.
func tablePanel(title string, gp dashboard.GridPos, expr string) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).
		Datasource(ds()).
		GridPos(gp).
		WithTarget(tableQ("A", expr)).
		ShowHeader(true).
		Footer(noFooter())
}

// matrixTable: service (rows) × node (columns) of expr, each cell's
// background coloured by its code's mapping in ms.
func matrixTable(title string, gp dashboard.GridPos, expr string, ms []dashboard.ValueMapping) *table.PanelBuilder {
	return tablePanel(title, gp, expr).
		WithTransformation(dashboard.DataTransformerConfig{
			Id:      "groupingToMatrix",
			Options: map[string]any{"columnField": "node", "rowField": "service", "valueField": "Value", "emptyValue": "null"},
		}).
		Align(common.FieldTextAlignmentCenter).
		CellOptions(common.TableCellOptions{TableColoredBackgroundCellOptions: &common.TableColoredBackgroundCellOptions{
			Type: common.TableCellDisplayModeColorBackground,
			Mode: ptr(common.TableCellBackgroundDisplayModeBasic),
		}}).
		Unit("none").
		Mappings(ms).
		ColorScheme(thresholdColor()).
		Thresholds(thresholds("transparent")).
		NoValue("—").
		OverrideByName("service\\node", []dashboard.DynamicConfigValue{
			{Id: "displayName", Value: "service"},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "auto"}},
			{Id: "custom.align", Value: "left"},
		})
}

// noFooter: tables without a footer (the schema requires a reducer anyway).
func noFooter() *common.TableFooterOptionsBuilder {
	return common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}).CountRows(false)
}

// --- panels on more than one dashboard --------------------------------------

// windowOpenStat: is the update window of the cluster open?
func windowOpenStat(gp dashboard.GridPos, m string) *stat.PanelBuilder {
	return codeStat("Update window", gp, showValue, windowMappings, "NO DATA").
		WithTarget(instant("A", maxBy("cluster", sel("mailcluster_update_window_open", m)), "{{cluster}}"))
}

// causesStat lists why the cluster(s) matched by m are not green, each
// cause coloured by its own severity.
func causesStat(title string, gp dashboard.GridPos, m, legend, noValue string) *stat.PanelBuilder {
	return codeStat(title, gp, showName, causeMappings, noValue).
		WithTarget(instant("A", causesExpr(m), legend))
}

func rolesStat(title string, gp dashboard.GridPos, m string) *stat.PanelBuilder {
	return codeStat(title, gp, showValueAndName, roleMappings, "no nodes").
		WithTarget(instant("A", roleExpr(m), "{{node}}")).
		Links(runbooks("MailclusterNoActiveNode.md", "MailclusterSplitBrain.md"))
}

func peersStat(title string, gp dashboard.GridPos, m string) *stat.PanelBuilder {
	return codeStat(title, gp, showValueAndName, peerMappings, "not monitored").
		WithTarget(instant("A", peerExpr(m), "{{node}} → {{peer}}")).
		Links(runbooks("MailclusterPeerDown.md"))
}

func syncStateStat(gp dashboard.GridPos, m, description string) *stat.PanelBuilder {
	return codeStat("Sync state", gp, showValueAndName, syncMappings, "no sync source").
		Description(description).
		WithTarget(instant("A", syncStateExpr(m), "{{node}}")).
		Links(runbooks("MailclusterSyncStalled.md"))
}

func progressGauge(gp dashboard.GridPos, m string) *bargauge.PanelBuilder {
	return hbarGauge("Sync progress", gp, common.BarGaugeDisplayModeLcd).
		Description("mailcluster_sync_progress_ratio per node while syncing. No automatic failover until sync completes.").
		WithTarget(instant("A", maxBy("node", sel("mailcluster_sync_progress_ratio", m)), "{{node}}")).
		Unit("percentunit").
		Max(1).
		Thresholds(thresholds(colorYellow, 1, colorGreen)).
		NoValue("not syncing").
		Links(runbooks("MailclusterSyncStalled.md"))
}

func syncProgressHistory(gp dashboard.GridPos, m, description string) *timeseries.PanelBuilder {
	return ratioPanel("Sync progress history", gp).
		Description(description).
		WithTarget(rangeQ("A", maxBy("node", sel("mailcluster_sync_progress_ratio", m)), "{{node}}")).
		NoValue("not syncing").
		Links(runbooks("MailclusterSyncStalled.md"))
}

// cpuPanel: node_exporter CPU busy share per node, with dashed
// thresholds (yellow above 80 %, red above 95 %).
func cpuPanel(title string, gp dashboard.GridPos, m string) *timeseries.PanelBuilder {
	return ratioPanel(title, gp).
		WithTarget(rangeQ("A", cpuExpr(m), "{{node}}")).
		Thresholds(thresholds(colorGreen, 0.8, colorYellow, 0.95, colorRed)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		NoValue(noNodeExporter)
}

// reasons are the values of the reason label of
// mailcluster_service_probe_failure (DESIGN §3), coded 1.. in this order.
var probeFailureReasons = []string{"refused", "connect_timeout", "unreachable", "timeout", "closed", "bad_greeting", "rejected", "starttls_unavailable", "tls_handshake", "protocol_error", "auth_failed"}

// probeFailureExpr: the reason code of every failed probe of metric, by
// the labels in by (the first reason in probeFailureReasons order if an
// exporter reports several).
func probeFailureExpr(metric, m, by string) string {
	var parts []string
	for i, r := range probeFailureReasons {
		parts = append(parts, fmt.Sprintf("((%s == 1) * 0 + %d)", sel(metric, m, fmt.Sprintf("reason=%q", r)), i+1))
	}
	return "min by(" + by + ")(\n    " + strings.Join(parts, "\n  or\n    ") + "\n)"
}

func probeFailureMappings() []dashboard.ValueMapping {
	var ms []mapping
	for i, r := range probeFailureReasons {
		ms = append(ms, mapping{fmt.Sprint(i + 1), strings.ReplaceAll(r, "_", " "), colorRed})
	}
	return mappings(ms...)
}

// serviceDetailTable: one row per (node, service), the virtual address
// as node "virtual address": its status, why the last probe failed
// (mailcluster_service_probe_failure) and whether its certificate is
// verified (mailcluster_service_tls_verified; min over exporters).
func serviceDetailTable(gp dashboard.GridPos, m string) *table.PanelBuilder {
	virtual := func(e string) string { return fmt.Sprintf(`label_replace(%s, "node", "virtual address", "", "")`, e) }
	return table.NewPanelBuilder().
		Title("Services — status, failure reason, TLS").
		Description("Per node and service, and through the virtual address: the status (as in the matrix), the reason of a failed probe (refused, connect timeout, unreachable, timeout, closed, bad greeting, rejected, STARTTLS unavailable, TLS handshake, protocol error, auth failed) and whether the certificate chains to a trusted root and names tls_server_name (empty without TLS). An unverified certificate never makes a service down; it makes it WARN.").
		Datasource(ds()).
		GridPos(gp).
		WithTarget(tableQ("A", fmt.Sprintf("max by(node, service)(%s)\n  or\n%s", sel("mailcluster:service_status:code", m), virtual(maxBy("service", sel("mailcluster:virtual_service_status:code", m)))))).
		WithTarget(tableQ("B", probeFailureExpr("mailcluster_service_probe_failure", m, "node, service")+"\n  or\n"+virtual(probeFailureExpr("mailcluster_virtual_service_probe_failure", m, "service")))).
		WithTarget(tableQ("C", fmt.Sprintf("min by(node, service)(%s)\n  or\n%s", sel("mailcluster_service_tls_verified", m), virtual(fmt.Sprintf("min by(service)(%s)", sel("mailcluster_virtual_service_tls_verified", m)))))).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": map[string]any{"Time": true},
				"indexByName":   map[string]any{"node": 0, "service": 1, "Value #A": 2, "Value #B": 3, "Value #C": 4},
				"renameByName":  map[string]any{"Value #A": "status", "Value #B": "failure reason", "Value #C": "TLS verified"},
			},
		}).
		ShowHeader(true).
		Footer(noFooter()).
		CellHeight(common.TableCellHeightSm).
		Unit("none").
		NoValue("—").
		OverrideByName("status", colouredColumn(serviceMappings)).
		OverrideByName("failure reason", colouredColumn(probeFailureMappings())).
		OverrideByName("TLS verified", colouredColumn(mappings(mapping{"0", "NOT VERIFIED", colorYellow}, mapping{"1", "verified", colorGreen}))).
		Links(runbooks("MailclusterServiceDownOnServingNode.md", "MailclusterTLSCertificateExpiring.md"))
}

// colouredColumn: a table column shown through ms with its cell's
// background in the mapped colour.
func colouredColumn(ms []dashboard.ValueMapping) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "mappings", Value: ms},
		{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background", "mode": "basic"}},
		{Id: "color", Value: map[string]any{"mode": "thresholds"}},
	}
}

// evidenceTable: per node, the resolved role next to what every exporter
// (instance) reported (mailcluster_node_role) and observed
// (mailcluster_node_observed), so a disagreement between exporters is
// visible at a glance.
func evidenceTable(gp dashboard.GridPos, m string) *table.PanelBuilder {
	column := func(e, name string) string {
		return fmt.Sprintf(`label_replace(%s, "column", %q, "instance", "(.*)")`, e, name)
	}
	expr := fmt.Sprintf("label_replace(%s, \"column\", \" resolved\", \"\", \"\")\n  or\n%s\n  or\n%s",
		roleCodes("mailcluster:node_role:resolved", m, "node"),
		column(roleCodes("mailcluster_node_role", m, "node, instance"), "$1 reported"),
		column(observedCodes(m, "node, instance"), "$1 observed"))
	ms := append(roleMappings, observedMappings...)
	return tablePanel("Evidence per exporter", gp, expr).
		Description("Rows: nodes. \" resolved\": the role the rules use (mailcluster:node_role:resolved). \"<instance> reported\": the role the cluster software told that exporter (mailcluster_node_role). \"<instance> observed\": what that exporter's probes saw of the node (mailcluster_node_observed: serving, alive, silent). Reported beats observed; a node is offline by observation only when every observer finds it silent.").
		WithTransformation(dashboard.DataTransformerConfig{
			Id:      "groupingToMatrix",
			Options: map[string]any{"columnField": "column", "rowField": "node", "valueField": "Value", "emptyValue": "null"},
		}).
		Align(common.FieldTextAlignmentCenter).
		CellOptions(common.TableCellOptions{TableColoredBackgroundCellOptions: &common.TableColoredBackgroundCellOptions{
			Type: common.TableCellDisplayModeColorBackground,
			Mode: ptr(common.TableCellBackgroundDisplayModeBasic),
		}}).
		CellHeight(common.TableCellHeightSm).
		Unit("none").
		Mappings(ms).
		ColorScheme(thresholdColor()).
		Thresholds(thresholds("transparent")).
		NoValue("—").
		OverrideByName("node\\column", []dashboard.DynamicConfigValue{
			{Id: "displayName", Value: "node"},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "auto"}},
			{Id: "custom.align", Value: "left"},
		}).
		Links(runbooks("MailclusterSplitBrain.md", "MailclusterNoActiveNode.md"))
}
