package systems_test

import (
	"fmt"
	"testing"
)

// CLUSTERPRO / EXPRESSCLUSTER X failover group with ExpressMail (seeds 001,
// 002). The exporter runs on a cluster server (--cluster.node) and reads
// clpstat and clpmdstat there; clpstat names the servers server1/server2,
// the configuration maps them to mail1/mail2 (clpstat.servers).
//
// Inputs: the real clpstat captures in shared/real-outputs/expresscluster
// (vagrant-clpstat-fip-md.txt: group failover1 on server1 with fip1+md1;
// apache-tomcat-...-moved-to-server2-ANNOTATED.txt: the group moved to
// server2), the clpmdstat transcriptions of collector/parse/clpstat/
// testdata (normal, abnormal, recovering), and two constructed clpstat
// outputs in testdata/ for states no capture shows (server1 down; cluster
// suspended with the group stopped).

const (
	cpVIP, cpMail1, cpMail2 = "127.0.0.30", "127.0.0.31", "127.0.0.32"
	cpSMTPPort, cpPOPPort   = 25025, 25110
)

type cpSetup struct {
	group  string // the failover group as clpstat prints it
	clp    string // argv (JSON) of the clpstat command
	mirror string // argv of the clpmdstat command; "" = shared disk, no mirror
	vip    bool   // probe the ExpressMail services through the group's fip1 too
}

func clusterproConfig(s cpSetup) string {
	return clusterproConfigAt(cpVIP, cpMail1, cpMail2, s, "")
}

// clusterproConfigAt is the configuration of an ExpressMail failover group
// whose fip1 is vipAddr and whose servers are at mail1 and mail2;
// extraSources (whole YAML list items) follow the clpstat source.
func clusterproConfigAt(vipAddr, mail1, mail2 string, s cpSetup, extraSources string) string {
	vip, mirror := "", ""
	if s.vip {
		vip = "virtual_address: " + vipAddr
	}
	if s.mirror != "" {
		mirror = "mirror_command: {argv: " + s.mirror + "}"
	}
	return fmt.Sprintf(`
global:
  probe_timeout: 2s
clusters:
  - name: expressmail
    kind: failover_group
    %s
    preferred_active: mail1
    nodes:
      - {name: mail1, address: %s, priority: 1}
      - {name: mail2, address: %s, priority: 2}
    services:
      - {name: smtp, protocol: smtp, port: %d, gated: true}
      - {name: pop3, protocol: pop3, port: %d, gated: true}
    sources:
      - type: clpstat
        clpstat:
          group: %s
          command: {argv: %s}
          %s
          servers: {server1: mail1, server2: mail2}
%s`, vip, mail1, mail2, cpSMTPPort, cpPOPPort, s.group, s.clp, mirror, extraSources)
}

// expressMail starts the ExpressMail SMTP and POP services (as the group's
// start script would) on the given addresses.
func expressMail(t *testing.T, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		listen(t, fmt.Sprintf("%s:%d", a, cpSMTPPort), fakeSMTP)
		listen(t, fmt.Sprintf("%s:%d", a, cpPOPPort), fakePOP3)
	}
}

func clpmdstat(t *testing.T, name string) string {
	return stripArgv(abs(t, parseDir+"/clpstat/testdata/"+name))
}

func TestClusterpro(t *testing.T) {
	serviceStatus := func(mail1, mail2 int) check {
		var want []wantSample
		for _, n := range []struct {
			node string
			code int
		}{{"mail1", mail1}, {"mail2", mail2}} {
			for _, svc := range []string{"pop3", "smtp"} {
				want = append(want, wantSample{
					Labels: fmt.Sprintf(`mailcluster:service_status:code{cluster="expressmail",node=%q,service=%q}`, n.node, svc),
					Value:  float64(n.code)})
			}
		}
		return check{Expr: `mailcluster:service_status:code{cluster="expressmail"}`, Want: want}
	}

	// Healthy: failover1 Online on server1 (priority 1), both servers
	// Online with a Normal LAN heartbeat, mirror GREEN/GREEN. ExpressMail
	// answers on mail1 and through the virtual IP; mail2's services are
	// stopped, as a standby's are (gray, not red).
	t.Run("healthy", func(t *testing.T) {
		expressMail(t, cpMail1, cpVIP)
		cfg := clusterproConfig(cpSetup{group: "failover1",
			clp:    catArgv(realOutput(t, "expresscluster/vagrant-clpstat-fip-md.txt")),
			mirror: clpmdstat(t, "clpmdstat-normal.txt"), vip: true})
		scenario(t, expectation{
			Cluster: "expressmail", Status: 1, Redundancy: 1,
			// versions_match: no version source (CLUSTERPRO does not
			// print the ExpressMail version); see docs/systems/clusterpro.md.
			Gates: gates("redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok",
				"services_running", "restart_flag_clear"),
			Extra: []check{serviceStatus(1, 0)},
		}, exporterRun{Instance: "mail1:9912", Config: cfg, Local: "mail1"})
	})

	// Failed over: the real capture of the group moved to server2, seen
	// from server1 (still the local `*` server, still Online). The mail
	// service follows the group: it answers on mail2 and the virtual IP.
	// Redundancy is intact (green); only roles_restored is 0 until the
	// group is moved back to mail1 (clpgrp -m failover1 -h server1).
	t.Run("failed-over", func(t *testing.T) {
		expressMail(t, cpMail2, cpVIP)
		cfg := clusterproConfig(cpSetup{group: "failover",
			clp:    catArgv(realOutput(t, "expresscluster/apache-tomcat-clpstat-group-moved-to-server2-ANNOTATED.txt")),
			mirror: clpmdstat(t, "clpmdstat-normal.txt"), vip: true})
		scenario(t, expectation{
			Cluster: "expressmail", Status: 1, Redundancy: 1,
			Gates: gates("redundancy_enabled", "sync_complete", "early_start_ok", "services_running", "restart_flag_clear"),
			Extra: []check{serviceStatus(0, 1), {
				Expr: `mailcluster:node_active:bool{cluster="expressmail"}`,
				Want: []wantSample{
					{Labels: `mailcluster:node_active:bool{cluster="expressmail",node="mail1"}`, Value: 0},
					{Labels: `mailcluster:node_active:bool{cluster="expressmail",node="mail2"}`, Value: 1},
				}}},
		}, exporterRun{Instance: "mail1:9912", Config: cfg, Local: "mail1"})
	})

	// Failed over because the old active died: server1 Offline, the group
	// Online on server2, seen from server2. Mail still works (the services
	// are green on mail2 and through the virtual IP) but there is no
	// failover target left: red, reason peer_down.
	t.Run("failed-over-old-active-down", func(t *testing.T) {
		expressMail(t, cpMail2, cpVIP)
		cfg := clusterproConfig(cpSetup{group: "failover1",
			clp: stripArgv(abs(t, "testdata/clpstat-server1-down-group-on-server2.txt")), vip: true})
		scenario(t, expectation{
			Cluster: "expressmail", Status: 3, Redundancy: 3, Reasons: []string{"peer_down"},
			// mail1 is offline: it reports no redundancy fact, so the only
			// report (mail2: Online, not suspended) makes redundancy_enabled 1.
			// Shared disk, no sync source: sync_complete holds vacuously.
			Gates: gates("redundancy_enabled", "sync_complete", "services_running", "restart_flag_clear"),
			Extra: []check{{
				Expr: `max by(cluster, node)(mailcluster_node_role{cluster="expressmail",role="offline"})`,
				Want: []wantSample{
					{Labels: `{cluster="expressmail",node="mail1"}`, Value: 1},
					{Labels: `{cluster="expressmail",node="mail2"}`, Value: 0},
				}}},
		}, exporterRun{Instance: "mail2:9912", Config: cfg, Local: "mail2"})
	})

	// Broken mirror: the group runs on server1, but clpmdstat says
	// "Mirror Status: Abnormal" (server2 RED): the standby has no
	// up-to-date copy; a failover now would lose mail. Red, out_of_sync.
	t.Run("mirror-abnormal", func(t *testing.T) {
		expressMail(t, cpMail1, cpVIP)
		cfg := clusterproConfig(cpSetup{group: "failover1",
			clp:    catArgv(realOutput(t, "expresscluster/vagrant-clpstat-fip-md.txt")),
			mirror: clpmdstat(t, "clpmdstat-abnormal.txt"), vip: true})
		scenario(t, expectation{
			Cluster: "expressmail", Status: 3, Redundancy: 3, Reasons: []string{"out_of_sync"},
			Gates: gates("redundancy_enabled", "roles_restored", "services_running"),
		}, exporterRun{Instance: "mail1:9912", Config: cfg, Local: "mail1"})
	})

	// Mirror recovery (after the mirror was rebuilt): yellow, syncing.
	// sync_complete is 0; early_start_ok is 1 because syncing is the only
	// reason - starting mail now means no failover until the copy ends.
	t.Run("mirror-recovering", func(t *testing.T) {
		expressMail(t, cpMail1, cpVIP)
		cfg := clusterproConfig(cpSetup{group: "failover1",
			clp:    catArgv(realOutput(t, "expresscluster/vagrant-clpstat-fip-md.txt")),
			mirror: clpmdstat(t, "clpmdstat-recovering.txt"), vip: true})
		scenario(t, expectation{
			Cluster: "expressmail", Status: 2, Redundancy: 2, Reasons: []string{"syncing"},
			Gates: gates("redundancy_enabled", "roles_restored", "early_start_ok", "services_running"),
		}, exporterRun{Instance: "mail1:9912", Config: cfg, Local: "mail1"})
	})

	// In the middle of the ExpressMail update (docs/systems/clusterpro.md):
	// the mail group is stopped (ExpressMail services down everywhere) and
	// the cluster suspended (no failover), update window open. Gates 1
	// (services_stopped) and 2 (redundancy_disabled) are open: safe to
	// install. The mirror is still consistent. The virtual IP is not
	// probed in this scenario: with virtual_address set, the stopped
	// services are red through it and the tile reads red (see the
	// appliance update scenario); without it the tile shows the
	// redundancy state: gray.
	t.Run("update-group-stopped-cluster-suspended", func(t *testing.T) {
		cfg := clusterproConfig(cpSetup{group: "failover1",
			clp:    stripArgv(abs(t, "testdata/clpstat-suspended-group-stopped.txt")),
			mirror: clpmdstat(t, "clpmdstat-normal.txt")})
		scenario(t, expectation{
			Cluster: "expressmail", Status: 0, Redundancy: 0, Reasons: []string{"disabled", "no_active"},
			Gates: gates("services_stopped", "redundancy_disabled", "sync_complete", "restart_flag_clear"),
			Extra: []check{serviceStatus(0, 0)},
		}, exporterRun{Instance: "mail1:9912", Config: cfg, Local: "mail1", Window: true})
	})
}
