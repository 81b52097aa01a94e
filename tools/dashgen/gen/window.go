package gen

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/text"
)

const windowTitle = "Mail cluster — update window"

// Gate is one update gate of DESIGN §6, in procedure order.
type Gate struct {
	Name      string // value of the gate label of mailcluster:update_gate:ok
	Condition string // when it is satisfied
	Unlocks   string // the step it unlocks
}

// Gates are the gates of DESIGN §6 in procedure order (the rules expose
// the same order in the `order` label, "1".."9"; a test checks both agree).
var Gates = []Gate{
	{"services_stopped", "every gated service is down on every node and through the virtual address", "shut the standby / disable redundancy"},
	{"redundancy_disabled", "at least one node reports redundancy_enabled and all that report it have 0", "apply the update"},
	{"versions_match", "every configured node reports a version and all versions are equal", "re-enable redundancy / sync (different versions must never sync)"},
	{"redundancy_enabled", "at least one node reports redundancy_enabled and all that report it have 1", "restart into active/standby"},
	{"roles_restored", "exactly one node is active, every other configured node is standby (slave for master_slave), and the preferred node, if any, is the active one", "wait for sync"},
	{"sync_complete", "at least one node reports a sync state and every node that does is synced", "start mail services"},
	{"early_start_ok", "the only redundancy reason is syncing", "start services before sync ends (accepting: no automatic failover until sync completes; watch CPU)"},
	{"services_running", "every gated service is up on the active node and through the virtual address", "close the window"},
	{"restart_flag_clear", "no node has restart_required == 1", "finish"},
}

// optionalGate is not a step of the main sequence: it allows an
// alternative to waiting for sync_complete.
const optionalGate = "early_start_ok"

const caveats = `### Starting mail services before sync completes

Gate **early_start_ok** (the only redundancy reason is *syncing*) allows starting
the mail services while data is still syncing. Accept the consequences first:

* **No automatic failover** until sync completes: the standby is not a valid
  copy yet. If the active node fails now, mail is down until someone acts.
* **Load is higher than usual** while syncing: **watch CPU** (panel below, from
  node_exporter) and the probe latency; defer the start if CPU is saturated.
* Alert *MailclusterServicesStartedBeforeSyncComplete* (warning) fires for as
  long as services run before *sync_complete*; that is expected in an early start.

Never re-enable redundancy / sync while **versions_match** is red: different
versions must never sync.`

// nextStepExpr: the order of the first gate of the main sequence that is
// not satisfied, or 10 when all are (nextStepMappings).
func nextStepExpr(m string) string {
	var parts []string
	for i, g := range Gates {
		if g.Name == optionalGate {
			continue
		}
		parts = append(parts, fmt.Sprintf("((%s == 0) * 0 + %d)", sel("mailcluster:update_gate:ok", m, fmt.Sprintf("gate=%q", g.Name)), i+1))
	}
	parts = append(parts, fmt.Sprintf("(max by(cluster)(%s) * 0 + 10)", sel("mailcluster:update_gate:ok", m)))
	return "min by(cluster)(\n    " + strings.Join(parts, "\n  or\n    ") + "\n)"
}

func nextStepMappings() []dashboard.ValueMapping {
	var ms []mapping
	for i, g := range Gates {
		if g.Name == optionalGate {
			continue
		}
		ms = append(ms, mapping{fmt.Sprint(i + 1), fmt.Sprintf("waiting for %s → then: %s", g.Name, g.Unlocks), colorYellow})
	}
	ms = append(ms, mapping{"10", "all gates passed: close the window", colorGreen})
	return mappings(ms...)
}

func windowDashboard() (dashboard.Dashboard, error) {
	const m = `cluster="$cluster"`

	b := newDashboard(windowTitle, UIDWindow, "Software update procedure for one cluster: the update gates of mailcluster:update_gate:ok as an ordered checklist, the window's remaining time, sync progress and the early-start caveats.").
		Refresh("30s").
		Time("now-3h", "now").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(clusterVar(false)).
		Annotation(changeAnnotation("Window opened / closed", "blue", "mailcluster_update_window_open", "cluster", m).
			TitleFormat("Update window opened or closed").
			TextFormat("cluster {{cluster}}"))

	b.WithPanel(windowOpenStat(pos(0, 0, 5, 4), m).
		Description("mailcluster_update_window_open. Open one with: mailcluster_exporter window open --cluster X --for 2h --reason \"…\". While open, no critical alert fires for the cluster.").
		Links(links(dashLink("NOC wall", UIDWall), runbook("MailclusterUpdateWindowOpen.md"))))
	b.WithPanel(bigStat("Time remaining", pos(5, 0, 5, 4)).
		Description("mailcluster_update_window_end_timestamp_seconds - time(). Yellow in the last 30 minutes, red in the last 5 (MailclusterUpdateWindowExpired fires then if the cluster is not green) and after the end.").
		WithTarget(instant("A", maxBy("cluster", sel("mailcluster_update_window_end_timestamp_seconds", m))+" - time()", "{{cluster}}")).
		TextMode(showValue).
		Unit("dtdurations").
		Thresholds(thresholds(colorRed, 300, colorYellow, 1800, colorGreen)).
		NoValue("no window open").
		Links(runbooks("MailclusterUpdateWindowExpired.md")))
	b.WithPanel(bigStat("Window ends", pos(10, 0, 5, 4)).
		Description("mailcluster_update_window_end_timestamp_seconds.").
		WithTarget(instant("A", maxBy("cluster", sel("mailcluster_update_window_end_timestamp_seconds", m))+" * 1000", "{{cluster}}")).
		TextMode(showValue).
		ColorMode(common.BigValueColorModeNone).
		Unit("dateTimeAsIso").
		NoValue("no window open").
		Links(runbooks("MailclusterUpdateWindowOpen.md")))
	b.WithPanel(codeStat("Next step", pos(15, 0, 9, 4), showValue, nextStepMappings(), "NO DATA").
		Description("The first gate of the procedure that is not satisfied yet, and the step it unlocks (early_start_ok is an optional shortcut and not part of the sequence).").
		WithTarget(instant("A", nextStepExpr(m), "{{cluster}}")).
		Links(runbooks("MailclusterUpdateWindowOpen.md")))

	// The checklist: one line per gate, in procedure order.
	for i, g := range Gates {
		title := fmt.Sprintf("%d. %s — %s", i+1, g.Name, g.Condition)
		if g.Name == optionalGate {
			title = fmt.Sprintf("%d. %s (optional) — %s", i+1, g.Name, g.Condition)
		}
		gateMappings := mappings(
			mapping{"1", "✔  unlocked: " + g.Unlocks, colorGreen},
			mapping{"0", "✘  locked: " + g.Unlocks, colorRed},
		)
		b.WithPanel(codeStat(title, pos(0, uint32(4+3*i), 14, 3), showValue, gateMappings, "? no data for this gate").
			Description(fmt.Sprintf("mailcluster:update_gate:ok{gate=%q}: %s. Unlocks: %s.", g.Name, g.Condition, g.Unlocks)).
			WithTarget(instant("A", maxBy("cluster", sel("mailcluster:update_gate:ok", m, fmt.Sprintf("gate=%q", g.Name))), g.Name)).
			JustifyMode(common.BigValueJustifyModeAuto).
			Links(runbooks("MailclusterUpdateWindowOpen.md")))
	}

	// Right column: redundancy, sync, gated services, caveats.
	b.WithPanel(codeStat("Redundancy state", pos(14, 4, 10, 4), showValueAndName, redundancyMappings, "NO DATA").
		Description("mailcluster:redundancy_status:code and its reasons.").
		WithTarget(instant("A", sel("mailcluster:redundancy_status:code", m), "state")).
		WithTarget(instant("B", causesExpr(m), "{{reason}}")).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "mappings", Value: causeMappings}}).
		Links(links(dashLink("Cluster detail", UIDCluster), runbook("MailclusterRedundancyRed.md"))))
	b.WithPanel(syncStateStat(pos(14, 8, 10, 4), m, "mailcluster_sync_state per node."))
	b.WithPanel(progressGauge(pos(14, 12, 10, 5), m))
	b.WithPanel(matrixTable("Gated services", pos(14, 17, 10, 6), fmt.Sprintf(`
max by(node, service)(%s and on(cluster, service) %s)
  or
label_replace(max by(service)(%s and on(cluster, service) %s), "node", "virtual address", "", "")`,
		sel("mailcluster:service_up:max", m), sel("mailcluster_service_info", m, `gated="true"`),
		sel("mailcluster:virtual_service_up:max", m), sel("mailcluster_service_info", m, `gated="true"`)), upMappings).
		Description("Services with gated=\"true\" in mailcluster_service_info (stopped during updates), per node and through the virtual address: all STOPPED for services_stopped, RUNNING on the active node and the virtual address for services_running.").
		CellHeight(common.TableCellHeightMd).
		Links(runbooks("MailclusterServicesStartedBeforeSyncComplete.md")))
	b.WithPanel(text.NewPanelBuilder().
		Title("Early start: caveats").
		Description("Seed facts of DESIGN §5: while syncing, automatic failover does not work and load is higher than usual.").
		Datasource(ds()).
		GridPos(pos(14, 23, 10, 8)).
		Mode(text.TextModeMarkdown).
		Content(caveats).
		Links(runbooks("MailclusterServicesStartedBeforeSyncComplete.md")))

	b.WithPanel(syncProgressHistory(pos(0, 31, 12, 7), m, "mailcluster_sync_progress_ratio over the window."))
	b.WithPanel(cpuPanel("CPU busy (watch while syncing)", pos(12, 31, 12, 7), m).
		Description("node_exporter CPU per node, joined on cluster/node labels (dashboards/README.md). Syncing raises load.").
		Thresholds(thresholds(colorGreen, 0.8, colorRed)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		Links(links(nodeExporterLink(), dashLink("Cluster detail: host metrics", UIDCluster), runbook(""))))

	return b.Build()
}
