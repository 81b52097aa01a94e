package gen

import (
	"fmt"

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
		WithVariable(datasourceVar())
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

// cpuPanel: node_exporter CPU busy share per node.
func cpuPanel(title string, gp dashboard.GridPos, m string) *timeseries.PanelBuilder {
	return ratioPanel(title, gp).
		WithTarget(rangeQ("A", cpuExpr(m), "{{node}}")).
		NoValue(noNodeExporter)
}
