package gen

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
)

// The NOC wall: one 1080p screen, no scrolling, for 1 to 300 clusters.
//
//	y 0  summary line (counts per state) | firing alerts | data freshness | exporters
//	y 4  exceptions: only the clusters that are not green, worst first,
//	     with the word to act on (SPLIT BRAIN, PEER DOWN, …); 24×13 grid
//	     units keep 30 tiles at about 300×90 px, readable across a room
//	y17  all clusters: one small tile per known cluster, always (a cluster
//	     whose data vanished stays, NO DATA in its own colour)
//	y23  the state of every cluster over the last hours (a flap between two
//	     glances stays visible), worst state per interval
//
// Everything reads wallStateExpr, so the tile, the counts, the exceptions
// and the timeline cannot disagree.
const wallTitle = "Mail clusters — NOC wall"

func wallDashboard() (dashboard.Dashboard, error) {
	const m = `cluster=~"$cluster"`
	clusterLink := link("Cluster detail: ${__field.labels.cluster}", dashURL(UIDCluster, "var-cluster=${__field.labels.cluster:percentencode}"), false)
	windowLink := link("Update window: ${__field.labels.cluster}", dashURL(UIDWindow, "var-cluster=${__field.labels.cluster:percentencode}"), false)

	b := newDashboard(wallTitle, UIDWall, "Kiosk wall for HA mail clusters: state counts, the clusters that need attention (worst first), every cluster as a tile and their recent history. Open with ?kiosk&theme=dark.").
		Refresh("30s").
		Time("now-3h", "now").
		Tooltip(dashboard.DashboardCursorSyncOff).
		WithVariable(clusterVar(true))

	b.WithPanel(summaryStat(pos(0, 0, 14, 4), m))

	b.WithPanel(bigStat("Firing alerts", pos(14, 0, 4, 4)).
		Description("Firing Prometheus alerts for the selected clusters (ALERTS), by severity; MailclusterExporterDown carries the cluster of the exporter's last facts. Critical alerts are held back while a cluster's update window is open.").
		WithTarget(instant("A", alertsExpr(m, "critical"), "critical")).
		WithTarget(instant("B", alertsExpr(m, "warning"), "warning")).
		TextMode(showValueAndName).
		Unit("short").
		Decimals(0).
		Thresholds(thresholds(colorGreen, 1, colorRed)).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "thresholds", Value: thresholdsValue(colorGreen, 1, colorYellow)}}).
		Links(links(link("Alertmanager / alert list", "/alerting/list", false), runbook(""))))

	b.WithPanel(bigStat("Data freshness", pos(18, 0, 3, 4)).
		Description("Watchdog. \"as of\": when the rules last recorded a cluster status — compare with a clock: a frozen kiosk or browser keeps its last colours and this time. \"age\": seconds since then, as Prometheus sees it: yellow after 2 minutes, red after 5 (rule evaluation or scraping has stopped).").
		WithTarget(instant("A", fmt.Sprintf("max(timestamp(%s)) * 1000", sel("mailcluster:status:code", m)), "as of")).
		WithTarget(instant("B", fmt.Sprintf("time() - max(timestamp(%s))", sel("mailcluster:status:code", m)), "age")).
		TextMode(showValueAndName).
		Unit("dateTimeAsLocalNoDateIfToday").
		ColorMode(common.BigValueColorModeBackground).
		Thresholds(thresholds(colorBlue)).
		NoValue("NO DATA").
		OverrideByQuery("B", []dashboard.DynamicConfigValue{
			{Id: "unit", Value: "s"},
			{Id: "decimals", Value: 0},
			{Id: "thresholds", Value: thresholdsValue(colorGreen, 120, colorYellow, 300, colorRed)},
		}).
		Links(runbooks("MailclusterFactsMissing.md")))

	b.WithPanel(bigStat("Exporters", pos(21, 0, 3, 4)).
		Description("Exporters that reported the selected clusters within the last hour: how many Prometheus scrapes (up), how many it cannot scrape (MailclusterExporterDown), and how many run on a configuration whose last reload failed.").
		WithTarget(instant("A", exportersExpr(m, "(up == 1)"), "up")).
		WithTarget(instant("B", exportersExpr(m, "(up == 0)"), "down")).
		WithTarget(instant("C", exportersExpr(m, "(mailcluster_exporter_config_last_reload_successful == 0)"), "reload failed")).
		TextMode(showValueAndName).
		Unit("short").
		Decimals(0).
		Thresholds(thresholds(colorGreen, 1, colorRed)).
		OverrideByQuery("A", []dashboard.DynamicConfigValue{{Id: "thresholds", Value: thresholdsValue(colorRed, 1, colorGreen)}}).
		Links(runbooks("MailclusterExporterDown.md", "MailclusterExporterConfigReloadFailed.md")))

	b.WithPanel(codeStat("Needs attention — worst first", pos(0, 4, 24, 13), showValueAndName, wallMappings(), "ALL CLUSTERS OK").
		Description(wallStatesDescription("Only the clusters that are not green, worst first. ⚒ update marks an open update window. Click a tile for the cluster detail.")).
		WithTarget(instant("A", wallTilesExpr(m, fmt.Sprintf(" > %d", wallCode("OK"))), "{{cluster}} {{marker}}")).
		DataLinks(links(clusterLink, windowLink)).
		Links(runbooks("MailclusterRedundancyRed.md", "MailclusterFactsMissing.md")))

	b.WithPanel(codeStat("All clusters", pos(0, 17, 24, 6), showName, wallMappings(), "no cluster configured").
		Description(wallStatesDescription("Every cluster seen within the last hour, worst first; the colour is its state (purple: NO DATA). Hover for the word, click for the detail.")).
		WithTarget(instant("A", wallTilesExpr(m, ""), "{{cluster}}")).
		DataLinks(links(clusterLink)).
		Links(runbooks("MailclusterRedundancyRed.md")))

	b.WithPanel(statetimeline.NewPanelBuilder().
		Title("History — every cluster").
		Description("The wall state of every cluster over time, the worst state of each interval (max_over_time over $__interval), so a short outage between two glances stays visible.").
		Datasource(ds()).
		GridPos(pos(0, 23, 24, 10)).
		WithTarget(rangeQ("A", fmt.Sprintf("max_over_time((%s\n)[$__interval:])", wallStateExpr(m)), "{{cluster}}")).
		Unit("none").
		Mappings(wallMappings()).
		ColorScheme(thresholdColor()).
		Thresholds(thresholds(colorGray)).
		ShowValue(common.VisibilityModeNever).
		MergeValues(true).
		RowHeight(0.9).
		FillOpacity(90).
		Legend(hiddenLegend()).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone)).
		Links(runbooks("MailclusterFailoverHappened.md")))

	return b.Build()
}

// summaryCategories are the counts of the summary line, a partition of the
// known clusters: NO DATA first, then every cluster in an open update
// window, then the rest by colour.
var summaryCategories = []struct {
	name, color string
	filter      func(m, state string) string
}{
	{"OK", colorGreen, func(m, s string) string {
		return fmt.Sprintf("((%s) == %d) unless on(cluster) %s", s, wallCode("OK"), windowOpen(m))
	}},
	{"SYNCING", colorYellow, func(m, s string) string {
		return fmt.Sprintf("(((%s) >= %d) <= %d) unless on(cluster) %s", s, wallCode("SYNCING"), wallCode("DEGRADED"), windowOpen(m))
	}},
	{"DOWN", colorRed, func(m, s string) string {
		return fmt.Sprintf("((%s) >= %d) unless on(cluster) %s", s, wallCode("NO EVIDENCE"), windowOpen(m))
	}},
	{"OFF", colorGray, func(m, s string) string {
		return fmt.Sprintf("((%s) == %d) unless on(cluster) %s", s, wallCode("DISABLED"), windowOpen(m))
	}},
	{"NO DATA", colorNoData, func(m, s string) string { return fmt.Sprintf("(%s) == %d", s, wallCode("NO DATA")) }},
	{"IN UPDATE", colorBlue, func(m, s string) string {
		return fmt.Sprintf("((%s) != %d) and on(cluster) %s", s, wallCode("NO DATA"), windowOpen(m))
	}},
}

// summaryStat is the summary line: "287 OK · 2 SYNCING · 1 DOWN · 0 OFF ·
// 0 NO DATA · 3 IN UPDATE", each count in its colour when not zero.
func summaryStat(gp dashboard.GridPos, m string) *stat.PanelBuilder {
	p := bigStat("Clusters", gp).
		Description("How many of the selected clusters are in each state. OK green; SYNCING yellow (syncing or degraded); DOWN red (any red state); OFF gray (redundancy switched off); NO DATA purple (no exporter reports the cluster any more); IN UPDATE: an update window is open, whatever the colour. Each cluster counts once.").
		TextMode(showValueAndName).
		Orientation(common.VizOrientationVertical).
		Unit("short").
		Decimals(0).
		Thresholds(thresholds(colorPending)).
		Links(runbooks("MailclusterRedundancyRed.md"))
	p.Orientation(common.VizOrientationHorizontal)
	state := wallStateExpr(m)
	for i, c := range summaryCategories {
		ref := string(rune('A' + i))
		p.WithTarget(instant(ref, fmt.Sprintf("count(%s) or vector(0)", c.filter(m, state)), c.name))
		base := colorPending
		if c.name == "OK" {
			base = colorGreen
		}
		p.OverrideByQuery(ref, []dashboard.DynamicConfigValue{{Id: "thresholds", Value: thresholdsValue(base, 1, c.color)}})
	}
	return p
}

// exportersExpr counts the exporters (job, instance) that reported one of
// the clusters matched by m within the last hour and match cond.
func exportersExpr(m, cond string) string {
	return fmt.Sprintf("count(%s and on(job, instance) group by(job, instance)(last_over_time(%s[1h]))) or vector(0)", cond, sel("mailcluster_node_info", m))
}

func wallStatesDescription(lead string) string {
	d := lead + " States, worst last:"
	for _, s := range WallStates {
		d += fmt.Sprintf(" %s — %s;", s.Word, s.What)
	}
	return d
}
