package systems_test

// The evidence model of DESIGN §2.8–2.10 on the Linux pair deployment
// (linuxpair_test.go): reported roles against observations, known against
// unknown, vanished facts, and gray that needs evidence. Each scenario
// injects its fault through the exporters' inputs only, and each phase is
// checked at its last minute.

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func withExtra(e expectation, c ...check) expectation {
	e.Extra = append(append([]check(nil), e.Extra...), c...)
	return e
}

const exporterDownA = `ALERTS{alertname="MailclusterExporterDown",alertstate="firing",cluster="e2e",instance="node-a:9912",job="mailcluster",severity="warning"}`

// The healthy pair is green with every fact known; node-b's keepalived
// (BACKUP) also reports the master it hears, node-a.
func TestLinuxPairSteady(t *testing.T) {
	timeline(t, phase{Name: "steady", Minutes: 10, Start: steadyStart,
		Expect: withExtra(steadyGreen, resolved("active", "standby"),
			check{Expr: `mailcluster_node_role{node="node-a",role="active",instance="node-b:9912"}`, Want: []wantSample{
				{Labels: `mailcluster_node_role{cluster="e2e",instance="node-b:9912",job="mailcluster",node="node-a",role="active"}`, Value: 1}}})})
}

// keepalived killed (SIGKILL) on the active node: the VIP stays on node-a
// (here: the virtual address is on a local interface of every exporter),
// node-b stops hearing adverts and becomes MASTER too, so both hold the
// VIP. That is a split brain: red, never the gray of a switched-off
// redundancy, and MailclusterSplitBrain fires.
func TestLinuxPairKeepalivedCrashSplitBrain(t *testing.T) {
	timeline(t,
		phase{Name: "steady", Minutes: 10, Start: steadyStart, Expect: steadyGreen},
		phase{Name: "killed", Minutes: 10, Start: func(t *testing.T) []exporterRun {
			p := steadyPair()
			p.VIP = lpVIPHere
			p.Running["node-a"] = false // stale MASTER in its state file
			p.Keepalive["node-b"] = "MASTER"
			p.Dump = map[string]string{"node-b": "node-b.split-brain"}
			activeMail(t, "node-a")
			activeMail(t, "node-b")
			mail(t, lpVIPHere, "smtp", "imap", "pop3")
			return p.all(t)
		}, Expect: expectation{Cluster: "e2e", Status: 3, Redundancy: 3, Reasons: []string{"split_brain"},
			Extra: []check{resolved("active", "active"),
				firing("MailclusterSplitBrain", `ALERTS{alertname="MailclusterSplitBrain",alertstate="firing",cluster="e2e",reason="split_brain",severity="critical"}`),
				// the crash is no switch-off: no redundancy_enabled from node-a
				{Expr: `mailcluster_redundancy_enabled{node="node-a"}`}}}})
}

// keepalived stopped gracefully on node-a in an update window: the notify
// script records STOP, the VIP moves to node-b (MASTER). Redundancy is
// switched off on purpose: gray, with node-a standby and its stopped
// services gray too.
func TestLinuxPairKeepalivedStoppedInWindow(t *testing.T) {
	timeline(t,
		phase{Name: "steady", Minutes: 10, Start: steadyStart, Expect: steadyGreen},
		phase{Name: "stopped", Minutes: 10, Start: func(t *testing.T) []exporterRun {
			p := steadyPair()
			p.Window = true
			p.Running["node-a"] = false
			p.Keepalive["node-a"] = "STOP"
			p.Keepalive["node-b"] = "MASTER"
			p.Dump = map[string]string{"node-b": "node-b.failover"}
			standbyMail(t, "node-a")
			activeMail(t, "node-b")
			mail(t, lpVIP, "smtp", "imap", "pop3")
			return p.all(t)
		}, Expect: expectation{Cluster: "e2e", Status: 0, Redundancy: 0, Reasons: []string{"disabled"},
			// node-b's keepalived still runs: redundancy_disabled waits for it
			Gates: gates("versions_match", "sync_complete", "services_running", "restart_flag_clear"),
			Extra: []check{resolved("standby", "active"),
				firing("MailclusterSplitBrain"),
				{Expr: `mailcluster:service_status:code{node="node-a",service="smtp"}`, Want: []wantSample{
					{Labels: `mailcluster:service_status:code{cluster="e2e",node="node-a",service="smtp"}`, Value: 0}}}}}})
}

// The monitoring host loses its route to the active node (Prometheus and
// the agentless exporter cannot reach node-a), while node-a is fine. The
// agentless exporter finds node-a silent, but node-b's exporter still sees
// it serving and node-b's keepalived (BACKUP) hears it as master: node-a
// stays active, nobody is offline, mail is green through the VIP, and the
// exporter that cannot be scraped is reported. Its own facts (sync, peer)
// vanished: unknown, so the wall is red, not green.
func TestLinuxPairMonitorPartitionedFromActive(t *testing.T) {
	timeline(t,
		phase{Name: "steady", Minutes: 10, Start: steadyStart, Expect: steadyGreen},
		phase{Name: "partitioned", Minutes: 12, Start: func(t *testing.T) []exporterRun {
			p := steadyPair()
			p.Unreachable = map[string]bool{"node-a": true}
			activeMail(t, "node-a")
			standbyMail(t, "node-b")
			mail(t, lpVIP, "smtp", "imap", "pop3")
			return []exporterRun{p.nodeRun(t, "node-b"), p.agentlessRun()}
		}, Expect: expectation{Cluster: "e2e", Status: 3, Redundancy: 3, Reasons: []string{"unknown"},
			Extra: []check{resolved("active", "standby"),
				{Expr: `mailcluster:virtual_service_status:code{service="smtp"}`, Want: []wantSample{
					{Labels: `mailcluster:virtual_service_status:code{cluster="e2e",service="smtp"}`, Value: 1}}},
				{Expr: `mailcluster:node_facts:vanished`, Want: []wantSample{
					{Labels: `mailcluster:node_facts:vanished{cluster="e2e",family="peer",node="node-a"}`, Value: 1},
					{Labels: `mailcluster:node_facts:vanished{cluster="e2e",family="sync",node="node-a"}`, Value: 1}}},
				firing("MailclusterNoActiveNode"),
				firing("MailclusterPeerDown"),
				firing("MailclusterExporterDown", exporterDownA)}}})
}

// The standby's IMAP is opened (and later its SMTP too) while both node
// exporters report keepalived BACKUP for it: yellow ("standby serving"),
// never a split brain, even when the probes find node-b serving.
func TestLinuxPairStandbyServing(t *testing.T) {
	standbyOpen := func(services ...string) func(t *testing.T) []exporterRun {
		return func(t *testing.T) []exporterRun {
			activeMail(t, "node-a")
			standbyMail(t, "node-b")
			mail(t, lpB, services...)
			mail(t, lpVIP, "smtp", "imap", "pop3")
			return steadyPair().all(t)
		}
	}
	yellow := func(services ...string) expectation {
		e := expectation{Cluster: "e2e", Status: 2, Redundancy: 1, Reasons: nil,
			Extra: []check{resolved("active", "standby"), firing("MailclusterSplitBrain")}}
		for _, s := range services {
			e.Extra = append(e.Extra, check{Expr: fmt.Sprintf(`mailcluster:service_status:code{node="node-b",service=%q}`, s),
				Want: []wantSample{{Labels: fmt.Sprintf(`mailcluster:service_status:code{cluster="e2e",node="node-b",service=%q}`, s), Value: 2}}})
		}
		return e
	}
	timeline(t,
		phase{Name: "steady", Minutes: 10, Start: steadyStart, Expect: steadyGreen},
		phase{Name: "imap-open", Minutes: 10, Start: standbyOpen("imap"), Expect: yellow("imap")},
		phase{Name: "smtp-open", Minutes: 10, Start: standbyOpen("imap", "smtp"), Expect: withExtra(yellow("imap", "smtp"),
			check{Expr: `mailcluster_node_observed{node="node-b",state="serving",instance="monitor:9912"}`, Want: []wantSample{
				{Labels: `mailcluster_node_observed{cluster="e2e",instance="monitor:9912",job="mailcluster",node="node-b",state="serving"}`, Value: 1}}})})
}

// The exporter on node-b stops (the node itself is fine). Its role, sync
// and peer facts vanish (Prometheus marks them stale at the failed
// scrape): the wall must not stay green while they are missing. It reads
// red, reason unknown, from the next evaluation on and for the hour the
// facts are remembered.
func TestLinuxPairNodeExporterStopped(t *testing.T) {
	stopped := func(t *testing.T) []exporterRun {
		activeMail(t, "node-a")
		standbyMail(t, "node-b")
		mail(t, lpVIP, "smtp", "imap", "pop3")
		p := steadyPair()
		return []exporterRun{p.nodeRun(t, "node-a"), p.agentlessRun()}
	}
	unknown := expectation{Cluster: "e2e", Status: 3, Redundancy: 3, Reasons: []string{"unknown"},
		// node-b's version vanished with its exporter: versions_match 0;
		// node-b is standby by observation: roles_restored holds
		Gates: gates("redundancy_enabled", "roles_restored", "services_running", "restart_flag_clear"),
		Extra: []check{
			// node-b is known only from observations now: alive, standby
			resolved("active", "standby"),
			{Expr: `mailcluster:node_facts:vanished`, Want: []wantSample{
				{Labels: `mailcluster:node_facts:vanished{cluster="e2e",family="peer",node="node-b"}`, Value: 1},
				{Labels: `mailcluster:node_facts:vanished{cluster="e2e",family="role",node="node-b"}`, Value: 1},
				{Labels: `mailcluster:node_facts:vanished{cluster="e2e",family="sync",node="node-b"}`, Value: 1}}}}}
	timeline(t,
		phase{Name: "steady", Minutes: 10, Start: steadyStart, Expect: steadyGreen},
		// one minute after the failed scrape: already red
		phase{Name: "exporter-b-stopped", Minutes: 2, Start: stopped, Expect: unknown},
		phase{Name: "still-stopped", Minutes: 30, Start: stopped, Expect: unknown})
}

// node-b goes down entirely (its exporter with it): both remaining
// observers, node-a's exporter and the agentless one, find it silent, so
// it is offline (peer_down), and node-a's peer check fails too.
func TestLinuxPairStandbyDownBothObserversSilent(t *testing.T) {
	timeline(t,
		phase{Name: "steady", Minutes: 10, Start: steadyStart, Expect: steadyGreen},
		phase{Name: "node-b-down", Minutes: 10, Start: func(t *testing.T) []exporterRun {
			activeMail(t, "node-a")
			mail(t, lpVIP, "smtp", "imap", "pop3")
			p := steadyPair()
			return []exporterRun{p.nodeRun(t, "node-a"), p.agentlessRun()}
		}, Expect: expectation{Cluster: "e2e", Status: 3, Redundancy: 3, Reasons: []string{"peer_down", "unknown"},
			Extra: []check{resolved("active", "offline"),
				firing("MailclusterNoActiveNode")}}})
}

// ---------------------------------------------------------------------
// Observed roles: the appliance pair (appliance_test.go), whose adapter
// reports no role, watched by two agentless monitors.
// ---------------------------------------------------------------------

const apNowhere = "127.0.0.59" // nothing listens here

// monitor is one agentless exporter of the appliance pair; cut lists the
// appliances it cannot reach (its probes of them go nowhere), and argv
// replaces the adapter's command (YAML argv) when not empty.
func monitor(t *testing.T, name, adapterOutput, argv string, cut ...string) exporterRun {
	if argv == "" {
		argv = stripArgv(abs(t, "testdata/"+adapterOutput))
	}
	cfg := applianceConfigArgv(argv)
	for _, addr := range cut {
		cfg = strings.Replace(cfg, "address: "+addr+",", "address: "+apNowhere+",", 1)
	}
	return exporterRun{Instance: name + ":9912", Config: cfg}
}

func apRoles(primary, secondary string) check {
	return check{Expr: `mailcluster:node_role:resolved{cluster="redmail"} == 1`, Want: []wantSample{
		{Labels: fmt.Sprintf(`mailcluster:node_role:resolved{cluster="redmail",node="primary",role=%q}`, primary), Value: 1},
		{Labels: fmt.Sprintf(`mailcluster:node_role:resolved{cluster="redmail",node="secondary",role=%q}`, secondary), Value: 1},
	}}
}

var apGreen = expectation{Cluster: "redmail", Status: 1, Redundancy: 1,
	Gates: gates("versions_match", "redundancy_enabled", "roles_restored", "sync_complete",
		"early_start_ok", "services_running", "restart_flag_clear")}

func healthyAppliances(t *testing.T) {
	appliance(t, apPrimary, true)
	appliance(t, apSecondary, false)
	commonIP(t, apVIP)
}

// One monitor loses its route to both appliances; the other still sees
// the primary serving and the secondary alive. An observer that reaches
// nothing learns only that it cannot reach the node: nobody is offline.
func TestObserverPartitionedNotOffline(t *testing.T) {
	healthyAppliances(t)
	scenario(t, withExtra(apGreen, apRoles("active", "standby"),
		check{Expr: `mailcluster_node_observed{state="silent",instance="mon1:9912"} == 1`, Want: []wantSample{
			{Labels: `mailcluster_node_observed{cluster="redmail",instance="mon1:9912",job="mailcluster",node="primary",state="silent"}`, Value: 1},
			{Labels: `mailcluster_node_observed{cluster="redmail",instance="mon1:9912",job="mailcluster",node="secondary",state="silent"}`, Value: 1}}}),
		monitor(t, "mon1", "activemonitor-synced.txt", "", apPrimary, apSecondary),
		monitor(t, "mon2", "activemonitor-synced.txt", ""))
}

// The secondary is powered off: every observer finds it silent, so it is
// offline (peer_down).
func TestObserversAllSilentOffline(t *testing.T) {
	appliance(t, apPrimary, true)
	commonIP(t, apVIP)
	scenario(t, expectation{Cluster: "redmail", Status: 3, Redundancy: 3, Reasons: []string{"out_of_sync", "peer_down"},
		Gates: gates("redundancy_enabled", "services_running", "restart_flag_clear"),
		Extra: []check{apRoles("active", "offline")}},
		monitor(t, "mon1", "activemonitor-peer-down.txt", ""),
		monitor(t, "mon2", "activemonitor-peer-down.txt", ""))
}

// A shared adapter fails on one monitor and works on the other: the facts
// of the one that worked stand (known beats unknown); green. When it
// fails on both, the cluster is unknown (red).
func TestSharedSourceFailsOnOneExporter(t *testing.T) {
	healthyAppliances(t)
	failing := yamlArgv("false")
	t.Run("one-fails", func(t *testing.T) {
		scenario(t, withExtra(apGreen, apRoles("active", "standby")),
			monitor(t, "mon1", "activemonitor-synced.txt", ""),
			monitor(t, "mon2", "", failing))
	})
	t.Run("both-fail", func(t *testing.T) {
		scenario(t, expectation{Cluster: "redmail", Status: 3, Redundancy: 3, Reasons: []string{"unknown"},
			Gates: gates("roles_restored", "services_running", "restart_flag_clear")},
			monitor(t, "mon1", "", failing),
			monitor(t, "mon2", "", failing))
	})
}

// smtpNoEHLO greets and then refuses EHLO: the server answered, so the
// node is alive (standby by observation), not offline.
func smtpNoEHLO(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("220 broken.example.invalid ESMTP\r\n"))
	buf := make([]byte, 512)
	if _, err := c.Read(buf); err != nil {
		return
	}
	_, _ = c.Write([]byte("502 5.5.2 Error: command not recognized\r\n"))
}

func TestBannerWithoutEHLOIsAlive(t *testing.T) {
	listen(t, fmt.Sprintf("%s:%d", apPrimary, apSMTPPort), smtpNoEHLO)
	appliance(t, apSecondary, false)
	scenario(t, expectation{Cluster: "redmail", Status: 3, Redundancy: 3, Reasons: []string{"no_active"},
		// nothing completes a mail dialogue anywhere: services_stopped holds
		Gates: gates("services_stopped", "versions_match", "redundancy_enabled", "sync_complete", "restart_flag_clear"),
		Extra: []check{apRoles("standby", "standby"),
			{Expr: `mailcluster_node_observed{node="primary"} == 1`, Want: []wantSample{
				{Labels: `mailcluster_node_observed{cluster="redmail",instance="mon1:9912",job="mailcluster",node="primary",state="alive"}`, Value: 1}}}}},
		monitor(t, "mon1", "activemonitor-synced.txt", ""))
}

// A source that describes several nodes (clpstat here) fails: it answers
// for every node it describes (source_up 0 for both servers), so the
// cluster is unknown instead of the other node's facts just vanishing.
// With its mirror_command failing, the sync state is unknown, not absent
// (and the source's roles with it). No role is reported, so the
// observations decide: mail1 serves (active); mail2, a standby whose
// services are stopped and that has no liveness check, is silent to the
// only observer: offline, peer_down.
func TestMultiNodeSourceFails(t *testing.T) {
	expressMail(t, cpMail1, cpVIP)
	failing := yamlArgv("false")
	sourceUp := func(source string) check {
		return check{Expr: fmt.Sprintf(`mailcluster_source_up{source=%q}`, source), Want: []wantSample{
			{Labels: fmt.Sprintf(`mailcluster_source_up{cluster="expressmail",instance="mail1:9912",job="mailcluster",node="mail1",source=%q}`, source), Value: 0},
			{Labels: fmt.Sprintf(`mailcluster_source_up{cluster="expressmail",instance="mail1:9912",job="mailcluster",node="mail2",source=%q}`, source), Value: 0},
		}}
	}
	t.Run("clpstat", func(t *testing.T) {
		cfg := clusterproConfig(cpSetup{group: "failover1", clp: failing,
			mirror: clpmdstat(t, "clpmdstat-normal.txt"), vip: true})
		scenario(t, expectation{Cluster: "expressmail", Status: 3, Redundancy: 3, Reasons: []string{"peer_down", "unknown"},
			Gates: gates("services_running", "restart_flag_clear"),
			Extra: []check{sourceUp("clpstat")}},
			exporterRun{Instance: "mail1:9912", Config: cfg, Local: "mail1"})
	})
	t.Run("mirror", func(t *testing.T) {
		cfg := clusterproConfig(cpSetup{group: "failover1",
			clp:    catArgv(realOutput(t, "expresscluster/vagrant-clpstat-fip-md.txt")),
			mirror: failing, vip: true})
		scenario(t, expectation{Cluster: "expressmail", Status: 3, Redundancy: 3, Reasons: []string{"peer_down", "unknown"},
			Gates: gates("services_running", "restart_flag_clear"),
			Extra: []check{{Expr: `mailcluster:sync_state:max{state="unknown"} == 1`, Want: []wantSample{
				{Labels: `mailcluster:sync_state:max{cluster="expressmail",node="mail1",state="unknown"}`, Value: 1},
				{Labels: `mailcluster:sync_state:max{cluster="expressmail",node="mail2",state="unknown"}`, Value: 1}}}}},
			exporterRun{Instance: "mail1:9912", Config: cfg, Local: "mail1"})
	})
}
