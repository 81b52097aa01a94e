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

// The procedure's progress is mailcluster:update_phase (rules: latched, the
// highest gate order reached in order since the window opened, 0 while no
// window is open). Every panel below reads it, never "the first gate that
// is 0": gates 1 and 2 close again by design, and the state before step 1
// and after step 9 is the same.

// phaseExpr: the recorded phase of the cluster(s) matched by m.
func phaseExpr(m string) string {
	return maxBy("cluster", sel("mailcluster:update_phase", m))
}

// Step states of one gate tile (stepMappings).
const (
	stepDone     = 1 // reached in order
	stepWaiting  = 2 // the gate the procedure waits for now, not yet holding
	stepPending  = 4 // later
	stepBlocked  = 5 // reached, must still hold, and does not
	stepUnlocked = 6 // the gate waited for holds: the phase moves on at the next evaluation
	stepSkipped  = 7 // the other branch of sync_complete / early_start_ok was taken
	stepClosed   = 8 // no window open
)

// gateSteps says, for gate k (1-based), in which phases it is the gate
// being waited for (next), reached (done), reached but required to hold
// (blockedFrom: a 0 gate from this phase on is blocked; 0 = never) and
// the other branch (skipped).
type gateSteps struct {
	next        [2]int // phase range [lo, hi]
	done        [2]int
	blockedFrom int
	skipped     string // PromQL filter on the phase, or ""
	// keepDone: a reached gate that no longer holds is still done
	// (services_stopped and redundancy_disabled close again by design).
	keepDone bool
}

var steps = map[string]gateSteps{
	"services_stopped":    {next: [2]int{0, 0}, done: [2]int{1, 9}, keepDone: true},
	"redundancy_disabled": {next: [2]int{1, 1}, done: [2]int{2, 9}, keepDone: true},
	"versions_match":      {next: [2]int{2, 2}, done: [2]int{3, 9}, blockedFrom: 4},
	"redundancy_enabled":  {next: [2]int{3, 3}, done: [2]int{4, 9}, blockedFrom: 4},
	"roles_restored":      {next: [2]int{4, 4}, done: [2]int{5, 9}, blockedFrom: 5},
	"sync_complete":       {next: [2]int{5, 5}, done: [2]int{6, 9}},
	"early_start_ok":      {next: [2]int{5, 5}, done: [2]int{7, 7}, blockedFrom: 7, skipped: "(P == 6) or (P >= 8)"},
	"services_running":    {next: [2]int{6, 7}, done: [2]int{8, 9}, blockedFrom: 8},
	"restart_flag_clear":  {next: [2]int{8, 8}, done: [2]int{9, 9}, blockedFrom: 9},
}

func inRange(p string, r [2]int) string {
	if r[0] == r[1] {
		return fmt.Sprintf("(%s == %d)", p, r[0])
	}
	return fmt.Sprintf("((%s >= %d) <= %d)", p, r[0], r[1])
}

// stepExpr: the state of gate g's tile (stepMappings), first match wins.
func stepExpr(m string, g Gate) string {
	st := steps[g.Name]
	p := phaseExpr(m)
	gate := maxBy("cluster", sel("mailcluster:update_gate:ok", m, fmt.Sprintf("gate=%q", g.Name)))
	var parts []string
	add := func(cond string, code int) { parts = append(parts, fmt.Sprintf("(%s) * 0 + %d", cond, code)) }
	add(fmt.Sprintf("%s unless on(cluster) %s", p, windowOpen(m)), stepClosed)
	if st.blockedFrom > 0 {
		add(fmt.Sprintf("(%s >= %d) and on(cluster) (%s == 0)", p, st.blockedFrom, gate), stepBlocked)
	}
	if st.skipped != "" {
		add(strings.ReplaceAll(st.skipped, "P", p), stepSkipped)
	}
	if !st.keepDone {
		add(fmt.Sprintf("%s and on(cluster) (%s == 0)", inRange(p, st.done), gate), stepWaiting)
	}
	add(inRange(p, st.done), stepDone)
	add(fmt.Sprintf("%s and on(cluster) (%s == 1)", inRange(p, st.next), gate), stepUnlocked)
	add(inRange(p, st.next), stepWaiting)
	add(p, stepPending)
	return strings.Join(parts, "\n  or\n")
}

func stepMappings(i int, g Gate) []dashboard.ValueMapping {
	return mappings(
		mapping{fmt.Sprint(stepDone), "✔ done", colorGreen},
		mapping{fmt.Sprint(stepWaiting), "▶ waiting — then: " + g.Unlocks, colorYellow},
		mapping{fmt.Sprint(stepPending), "pending", colorPending},
		mapping{fmt.Sprint(stepBlocked), "✘ blocked: no longer holds", colorRed},
		mapping{fmt.Sprint(stepUnlocked), "▶ unlocked: " + g.Unlocks, colorGreen},
		mapping{fmt.Sprint(stepSkipped), "— not needed", colorGray},
		mapping{fmt.Sprint(stepClosed), "no window open", colorPending},
	)
}

// nextStepExpr: the phase while a window is open, -1 when none is.
func nextStepExpr(m string) string {
	return fmt.Sprintf("(%s and on(cluster) %s)\n  or\n%s * 0 - 1", phaseExpr(m), windowOpen(m), phaseExpr(m))
}

// nextStepMappings: what to do in each phase, and the gate that moves it on.
func nextStepMappings() []dashboard.ValueMapping {
	ms := []mapping{
		{"-1", "no update window open — open one: mailcluster_exporter window open --cluster … --for 2h", colorPending},
		{"0", "stop the gated mail services → waiting for services_stopped", colorYellow},
	}
	for i, g := range Gates {
		phase := i + 1
		var next string
		switch g.Name {
		case "roles_restored":
			next = "sync_complete (or early_start_ok to start early)"
		case "sync_complete", "early_start_ok":
			next = "services_running"
		case "restart_flag_clear":
			ms = append(ms, mapping{fmt.Sprint(phase), "all steps done: close the window", colorGreen})
			continue
		default:
			next = Gates[i+1].Name
		}
		ms = append(ms, mapping{fmt.Sprint(phase), fmt.Sprintf("%s → waiting for %s", g.Unlocks, next), colorBlue})
	}
	return mappings(ms...)
}

// whyExpr lists the facts behind gate g for the cluster(s) matched by m, one
// series per fact, named by the label "fact"; value 3 holds the gate
// closed, 1 does not.
func whyExpr(m string, g Gate) string {
	gated := sel("mailcluster_service_info", m, `gated="true"`)
	fact := func(e, text string) string {
		return fmt.Sprintf(`label_replace(%s, "fact", %q, "", "")`, e, text)
	}
	switch g.Name {
	case "services_stopped":
		return fmt.Sprintf(`
label_join(
  max by(cluster, node, service)((%[1]s == 1) and on(cluster, service) %[2]s) * 0 + 3,
  "fact", " running on ", "service", "node")
  or
label_replace(
  max by(cluster, service)((%[3]s == 1) and on(cluster, service) %[2]s) * 0 + 3,
  "fact", "$1 running through the virtual address", "service", "(.+)")`,
			sel("mailcluster:service_up:max", m), gated, sel("mailcluster:virtual_service_up:max", m))
	case "redundancy_disabled", "redundancy_enabled":
		want, bad := 0, 1
		if g.Name == "redundancy_enabled" {
			want, bad = 1, 0
		}
		words := map[int]string{0: "off", 1: "on"}
		return fmt.Sprintf(`
label_replace(
  (min by(cluster, node)(%[1]s) == %[2]d) * 0 + 3,
  "fact", "redundancy %[3]s: $1", "node", "(.+)")
  or
label_replace(
  (min by(cluster, node)(%[1]s) == %[4]d) * 0 + 1,
  "fact", "redundancy %[5]s: $1", "node", "(.+)")
  or
%[6]s`, sel("mailcluster_redundancy_enabled", m), bad, words[bad], want, words[want],
			fact(fmt.Sprintf("(%s unless on(cluster) %s) * 0 + 3", maxBy("cluster", sel("mailcluster_node_info", m)), sel("mailcluster_redundancy_enabled", m)), "no node reports redundancy_enabled"))
	case "versions_match":
		return fmt.Sprintf(`
label_join(
  max by(cluster, node, version)(%[1]s)
    * on(cluster) group_left()
  (count by(cluster)(group by(cluster, version)(%[1]s)) > bool 1) * 2 + 1,
  "fact", ": ", "node", "version")
  or
label_replace(
  max by(cluster, node)(%[2]s unless on(cluster, node) %[1]s) * 0 + 3,
  "fact", "$1: no version reported", "node", "(.+)")`, sel("mailcluster_software_info", m), sel("mailcluster_node_info", m))
	case "roles_restored":
		active := "(" + sel("mailcluster:node_active:bool", m) + " == 1)"
		return fmt.Sprintf(`
label_replace(
  max by(cluster, node)(%[1]s) * 0
    + on(cluster) group_left()
  (3 - 2 * (count by(cluster)(%[1]s) == bool 1)),
  "fact", "$1 is active", "node", "(.+)")
  or
label_replace(
  max by(cluster, node)(%[2]s unless on(cluster, node) %[1]s) * 0 + 3,
  "fact", "preferred node $1 is not active", "node", "(.+)")
  or
label_replace(
  max by(cluster, node)(
    (%[3]s == 0) unless on(cluster, node) (%[4]s == 1)
  ) * 0 + 3,
  "fact", "$1 is neither active nor standby/slave", "node", "(.+)")
  or
label_replace(
  max by(cluster, node)((%[4]s == 1) unless on(cluster, node) %[1]s) * 0 + 1,
  "fact", "$1 is standby/slave", "node", "(.+)")`,
			active, sel("mailcluster_node_info", m, `preferred="true"`), sel("mailcluster:node_active:bool", m),
			sel("mailcluster:node_role:resolved", m, `role=~"standby|slave"`))
	case "sync_complete":
		return fmt.Sprintf(`
label_join(
  max by(cluster, node, state)(%[1]s == 1) * 0 + 3,
  "fact", ": ", "node", "state")
  or
label_join(
  max by(cluster, node, state)(%[2]s == 1) * 0 + 1,
  "fact", ": ", "node", "state")
  or
%[3]s`, sel("mailcluster_sync_state", m, `state!="synced"`), sel("mailcluster_sync_state", m, `state="synced"`),
			fact(fmt.Sprintf("(%s unless on(cluster) %s) * 0 + 3", maxBy("cluster", sel("mailcluster_node_info", m)), sel("mailcluster_sync_state", m)), "no node reports a sync state"))
	case "early_start_ok":
		return fmt.Sprintf(`
label_replace(
  max by(cluster, reason)(%[1]s) * 3,
  "fact", "redundancy reason: $1", "reason", "(.+)")
  or
label_replace(
  max by(cluster, reason)(%[2]s) * 1,
  "fact", "redundancy reason: $1 (allowed)", "reason", "(.+)")`,
			sel("mailcluster:redundancy_status:reason", m, `reason!="syncing"`), sel("mailcluster:redundancy_status:reason", m, `reason="syncing"`))
	case "services_running":
		return fmt.Sprintf(`
label_replace(
  (
    max by(cluster, service)(%[1]s)
      unless on(cluster, service)
    ((%[2]s == 1) and on(cluster, node) (%[3]s == 1))
  ) * 0 + 3,
  "fact", "$1 not running on the active node", "service", "(.+)")
  or
label_replace(
  max by(cluster, service)((%[4]s == 0) and on(cluster, service) %[1]s) * 0 + 3,
  "fact", "$1 down through the virtual address", "service", "(.+)")
  or
%[5]s`, gated, sel("mailcluster:service_up:max", m), sel("mailcluster:node_active:bool", m), sel("mailcluster:virtual_service_up:max", m),
			fact(fmt.Sprintf("(%s unless on(cluster) (%s == 1)) * 0 + 3", maxBy("cluster", sel("mailcluster_node_info", m)), sel("mailcluster:node_active:bool", m)), "no active node"))
	case "restart_flag_clear":
		return fmt.Sprintf(`
label_replace(
  (max by(cluster, node)(%s) == 1) * 0 + 3,
  "fact", "restart required: $1", "node", "(.+)")`, sel("mailcluster_restart_required", m))
	}
	panic("no facts for gate " + g.Name)
}

var factMappings = mappings(
	mapping{"1", "ok", colorGreen},
	mapping{"3", "holds it closed", colorRed},
)

func windowDashboard() (dashboard.Dashboard, error) {
	const m = `cluster="$cluster"`

	b := newDashboard(windowTitle, UIDWindow, "Software update procedure for one cluster: where the procedure is (mailcluster:update_phase), each gate of mailcluster:update_gate:ok as a step done / waiting / pending / blocked with the facts that hold it, the window's remaining time, sync progress and the early-start caveats.").
		Refresh("30s").
		Time("now-3h", "now").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(clusterVar(false)).
		Annotation(changeAnnotation("Window opened / closed", "blue", "mailcluster_update_window_open", "cluster", m).
			TitleFormat("Update window opened or closed").
			TextFormat("cluster {{cluster}}"))

	b.WithPanel(windowOpenStat(pos(0, 0, 4, 4), m).
		Description("mailcluster_update_window_open. Open one with: mailcluster_exporter window open --cluster X --for 2h --reason \"…\". While open, no critical alert fires for the cluster.").
		Links(links(dashLink("NOC wall", UIDWall), runbook("MailclusterUpdateWindowOpen.md"))))
	b.WithPanel(bigStat("Time remaining", pos(4, 0, 4, 4)).
		Description("mailcluster_update_window_end_timestamp_seconds - time(), only while the window is open. Yellow in the last 30 minutes, red in the last 5 (MailclusterUpdateWindowExpired fires then if the cluster is not green).").
		WithTarget(instant("A", fmt.Sprintf("(%s - time())\n  and on(cluster)\n%s", maxBy("cluster", sel("mailcluster_update_window_end_timestamp_seconds", m)), windowOpen(m)), "{{cluster}}")).
		TextMode(showValue).
		Unit("dtdurations").
		Thresholds(thresholds(colorRed, 300, colorYellow, 1800, colorGreen)).
		NoValue("no window open").
		Links(runbooks("MailclusterUpdateWindowExpired.md")))
	b.WithPanel(bigStat("Window ends", pos(8, 0, 4, 4)).
		Description("mailcluster_update_window_end_timestamp_seconds while the window is open.").
		WithTarget(instant("A", fmt.Sprintf("(%s * 1000)\n  and on(cluster)\n%s", maxBy("cluster", sel("mailcluster_update_window_end_timestamp_seconds", m)), windowOpen(m)), "{{cluster}}")).
		TextMode(showValue).
		ColorMode(common.BigValueColorModeNone).
		Unit("dateTimeAsIso").
		NoValue("no window open").
		Links(runbooks("MailclusterUpdateWindowOpen.md")))
	b.WithPanel(codeStat("Next step", pos(12, 0, 12, 4), showValue, nextStepMappings(), "NO DATA").
		Description("From mailcluster:update_phase, the procedure's latched progress: the step to do now and the gate that moves the procedure on. early_start_ok is an optional shortcut while syncing.").
		WithTarget(instant("A", nextStepExpr(m), "{{cluster}}")).
		Links(runbooks("MailclusterUpdateWindowOpen.md")))

	// The checklist: per gate, its step state and the facts behind it.
	for i, g := range Gates {
		title := fmt.Sprintf("%d. %s", i+1, g.Name)
		if g.Name == optionalGate {
			title += " (optional)"
		}
		y := uint32(4 + 3*i)
		b.WithPanel(codeStat(title, pos(0, y, 8, 3), showValue, stepMappings(i, g), "? no data for this gate").
			Description(fmt.Sprintf("Step %d of the update procedure. Gate %s (mailcluster:update_gate:ok): %s. Unlocks: %s. done: reached in order since the window opened (mailcluster:update_phase ≥ %d); waiting: the procedure waits for it now; pending: later; blocked: reached, but it must still hold and does not; not needed: the other branch (sync_complete or early_start_ok) was taken.", i+1, g.Name, g.Condition, g.Unlocks, i+1)).
			WithTarget(instant("A", stepExpr(m, g), g.Name)).
			JustifyMode(common.BigValueJustifyModeAuto).
			Links(runbooks("MailclusterUpdateWindowOpen.md")))
		b.WithPanel(codeStat(fmt.Sprintf("%d. why", i+1), pos(8, y, 6, 3), showName, factMappings, "—").
			Description(fmt.Sprintf("The facts behind gate %s now: red holds it closed, green does not. %s.", g.Name, g.Condition)).
			WithTarget(instant("A", "sort(\n"+whyExpr(m, g)+"\n)", "{{fact}}")).
			Links(runbooks("MailclusterUpdateWindowOpen.md")))
	}

	// Right column: redundancy, sync, gated services, caveats.
	b.WithPanel(codeStat("Redundancy state", pos(14, 4, 10, 4), showValueAndName, redundancyMappings, "NO DATA").
		Description("mailcluster:redundancy_status:code and its reasons.").
		WithTarget(instant("A", sel("mailcluster:redundancy_status:code", m), "state")).
		WithTarget(instant("B", causesExpr(m), "{{reason}}")).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "mappings", Value: causeMappings}}).
		Links(links(dashLink("Cluster detail", UIDCluster), runbook("MailclusterRedundancyRed.md"))))
	b.WithPanel(rolesStat("Node roles", pos(14, 8, 10, 3), m).
		Description("The resolved role of each node (mailcluster:node_role:resolved)."))
	b.WithPanel(syncStateStat(pos(14, 11, 10, 3), m, "mailcluster_sync_state per node."))
	b.WithPanel(progressGauge(pos(14, 14, 10, 3), m))
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
		Description("node_exporter CPU per node, joined on cluster/node labels (dashboards/README.md). Syncing raises load. Dashed: yellow above 80 %, red above 95 %.").
		Links(links(nodeExporterLink(), dashLink("Cluster detail: host metrics", UIDCluster), runbook(""))))

	return b.Build()
}
