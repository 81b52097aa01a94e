package systems_test

import (
	"fmt"
	"strings"
	"testing"
)

// Sun Java System Messaging Server on Sun Cluster / Oracle Solaris Cluster
// (seed 004): a failover resource group MAIL-RG holding the logical host
// (the virtual address clients use), the HAStoragePlus resource with the
// mail store, and the SUNW.ims Messaging Server resource. The exporter
// runs on a cluster node and reads the group (clrg status or scstat -g),
// the node membership (clnode status) and the storage resource (clrs
// status).
//
// Inputs: the real rafacas captures in shared/real-outputs/solaris-cluster
// (nfs-rg online on theo, its HAStoragePlus nfs-stor, two interconnect
// paths online), the parsers' transcriptions in collector/parse/solaris/
// testdata (scstat -g of MAIL-RG on mars, clnode with venus Offline, clrs
// with a faulted disk-rs), and our transcriptions in testdata/.

const (
	solVIP, solA, solB         = "127.0.0.40", "127.0.0.41", "127.0.0.42"
	solSMTPPort, solIMAPPort   = 25025, 25143
	solNoResourceCommand       = `["true"]` // scstat -g already prints the resources
	solarisParseDir            = parseDir + "/solaris/testdata/"
	solarisHealthyStoragePrint = "disk-rs"
)

type solSetup struct {
	a, b     string // node names (configuration)
	nodesMap string // solaris.nodes: printed name -> node name ("" = same names)
	group    string
	storage  string
	cmd      string // argv (JSON)
	nodeCmd  string
	resCmd   string
	extra    string // further solaris: settings, one "key: value" a line
}

func solarisConfig(s solSetup) string {
	return solarisConfigAt(solVIP, solA, solB, s, "")
}

// solarisConfigAt is the configuration of a Messaging Server resource
// group whose logical host is vip and whose nodes s.a and s.b are at addrA
// and addrB; extraSources (whole YAML list items) follow the solaris
// source.
func solarisConfigAt(vip, addrA, addrB string, s solSetup, extraSources string) string {
	var settings strings.Builder
	if s.nodesMap != "" {
		fmt.Fprintf(&settings, "          nodes: %s\n", s.nodesMap)
	}
	for _, l := range strings.Split(s.extra, "\n") {
		if l != "" {
			fmt.Fprintf(&settings, "          %s\n", l)
		}
	}
	return fmt.Sprintf(`
global:
  probe_timeout: 2s
clusters:
  - name: messaging
    kind: failover_group
    virtual_address: %s
    preferred_active: %s
    nodes:
      - {name: %s, address: %s, priority: 1}
      - {name: %s, address: %s, priority: 2}
    services:
      - {name: smtp, protocol: smtp, port: %d, gated: true}
      - {name: imap, protocol: imap, port: %d, gated: true}
    sources:
      - type: solaris
        solaris:
          resource_group: %s
          storage_resource: %s
          command: {argv: %s}
          node_command: {argv: %s}
          resource_command: {argv: %s}
%s%s`, vip, s.a, s.a, addrA, s.b, addrB, solSMTPPort, solIMAPPort, s.group, s.storage, s.cmd, s.nodeCmd, s.resCmd,
		settings.String(), extraSources)
}

// messagingServer starts the mail listeners of the SUNW.ims resource on
// the given addresses (the node holding MAIL-RG, and the logical host).
func messagingServer(t *testing.T, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		listen(t, fmt.Sprintf("%s:%d", a, solSMTPPort), fakeSMTP)
		listen(t, fmt.Sprintf("%s:%d", a, solIMAPPort), fakeIMAP)
	}
}

func TestSolarisCluster(t *testing.T) {
	mailRG := func(cmd, nodeCmd, resCmd string) string {
		return solarisConfig(solSetup{a: "mars", b: "venus", group: "MAIL-RG", storage: solarisHealthyStoragePrint,
			cmd: cmd, nodeCmd: nodeCmd, resCmd: resCmd})
	}

	// Healthy: scstat -g shows MAIL-RG Online on mars (priority 1), not
	// suspended, disk-rs Online there; clnode shows both nodes Online.
	// Messaging Server answers on mars and on the logical host: green.
	t.Run("healthy", func(t *testing.T) {
		messagingServer(t, solA, solVIP)
		cfg := mailRG(stripArgv(abs(t, solarisParseDir+"scstat-g-mail-rg.txt")),
			stripArgv(abs(t, "testdata/clnode-status-mars-venus-online.txt")), solNoResourceCommand)
		scenario(t, expectation{
			Cluster: "messaging", Status: 1, Redundancy: 1,
			Gates: gates("redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok",
				"services_running", "restart_flag_clear"),
		}, exporterRun{Instance: "mars:9912", Config: cfg, Local: "mars"})
	})

	// Failed over, real captures: nfs-rg Online on theo, Offline on
	// vincent, both nodes Online, both interconnect paths online, the
	// HAStoragePlus nfs-stor Online on theo. vincent is the first node
	// of the node list (preferred); the exporter runs on vincent. The
	// printed names are mapped to mail-a/mail-b with solaris.nodes.
	// Green; roles_restored 0 until `clrg switch -n vincent nfs-rg`.
	t.Run("failed-over-real-capture", func(t *testing.T) {
		messagingServer(t, solB, solVIP)
		cfg := solarisConfig(solSetup{a: "mail-a", b: "mail-b", nodesMap: "{vincent: mail-a, theo: mail-b}",
			group: "nfs-rg", storage: "nfs-stor",
			cmd:     catArgv(realOutput(t, "solaris-cluster/rafacas-t-clrg-status.txt"), realOutput(t, "solaris-cluster/rafacas-t-clintr-status.txt")),
			nodeCmd: catArgv(realOutput(t, "solaris-cluster/rafacas-t-clnode-status.txt")),
			resCmd:  catArgv(realOutput(t, "solaris-cluster/rafacas-t-clrs-status.txt"))})
		scenario(t, expectation{
			Cluster: "messaging", Status: 1, Redundancy: 1,
			Gates: gates("redundancy_enabled", "sync_complete", "early_start_ok", "services_running", "restart_flag_clear"),
			Extra: []check{{
				Expr: `min by(cluster, node, peer)(mailcluster_peer_up{cluster="messaging"})`,
				Want: []wantSample{{Labels: `{cluster="messaging",node="mail-a",peer="mail-b"}`, Value: 1}},
			}, {
				Expr: `max by(cluster, node, state)(mailcluster_sync_state{cluster="messaging",state="synced"})`,
				Want: []wantSample{ // the standby's storage is healthy Offline: ready to take over
					{Labels: `{cluster="messaging",node="mail-a",state="synced"}`, Value: 1},
					{Labels: `{cluster="messaging",node="mail-b",state="synced"}`, Value: 1}},
			}},
		}, exporterRun{Instance: "vincent:9912", Config: cfg, Local: "mail-a"})
	})

	// Storage broken: MAIL-RG Online on mars, but the HAStoragePlus
	// disk-rs reports "Faulted - Failed to access the file system." there
	// (and Stop_failed on venus, which blocks the next switchover). Mail
	// still answers; the store is not healthy: red, out_of_sync.
	t.Run("storage-faulted", func(t *testing.T) {
		messagingServer(t, solA, solVIP)
		cfg := mailRG(stripArgv(abs(t, "testdata/clrg-status-mail-rg-online-mars.txt")),
			stripArgv(abs(t, "testdata/clnode-status-mars-venus-online.txt")),
			stripArgv(abs(t, solarisParseDir+"clrs-status-documented-states.txt")))
		scenario(t, expectation{
			Cluster: "messaging", Status: 3, Redundancy: 3, Reasons: []string{"out_of_sync"},
			Gates: gates("redundancy_enabled", "roles_restored", "services_running"),
		}, exporterRun{Instance: "mars:9912", Config: cfg, Local: "mars"})
	})

	// Standby node down: clnode shows venus Offline. MAIL-RG still runs
	// on mars; there is nowhere to fail over to: red, peer_down.
	t.Run("standby-node-offline", func(t *testing.T) {
		messagingServer(t, solA, solVIP)
		cfg := mailRG(stripArgv(abs(t, solarisParseDir+"scstat-g-mail-rg.txt")),
			stripArgv(abs(t, solarisParseDir+"clnode-status-offline.txt")), solNoResourceCommand)
		scenario(t, expectation{
			Cluster: "messaging", Status: 3, Redundancy: 3, Reasons: []string{"peer_down"},
			Gates: gates("redundancy_enabled", "sync_complete", "services_running", "restart_flag_clear"),
		}, exporterRun{Instance: "mars:9912", Config: cfg, Local: "mars"})
	})

	// In the middle of the Messaging Server update
	// (docs/systems/solaris-cluster.md): MAIL-RG offline everywhere and
	// suspended, window open. Gates services_stopped and
	// redundancy_disabled are 1: install the packages. The redundancy
	// state is gray (disabled). Nothing answers on the logical host, but
	// the gated services were stopped on purpose inside the open window,
	// so the wall tile shows the redundancy state, gray (rules/README.md);
	// the virtual service status itself stays red.
	t.Run("update-rg-offline-suspended", func(t *testing.T) {
		cfg := mailRG(stripArgv(abs(t, "testdata/clrg-status-mail-rg-suspended-offline.txt")),
			stripArgv(abs(t, "testdata/clnode-status-mars-venus-online.txt")),
			stripArgv(abs(t, "testdata/clrs-status-mail-rg-offline.txt")))
		scenario(t, expectation{
			Cluster: "messaging", Status: 0, Redundancy: 0, Reasons: []string{"disabled", "no_active"},
			// Shared storage, no sync source: sync_complete holds vacuously.
			Gates: gates("services_stopped", "redundancy_disabled", "sync_complete", "restart_flag_clear"),
			Extra: []check{{
				Expr: `mailcluster:virtual_service_status:code{cluster="messaging"}`,
				Want: []wantSample{
					{Labels: `mailcluster:virtual_service_status:code{cluster="messaging",service="imap"}`, Value: 3},
					{Labels: `mailcluster:virtual_service_status:code{cluster="messaging",service="smtp"}`, Value: 3},
				}}},
		}, exporterRun{Instance: "mars:9912", Config: cfg, Local: "mars", Window: true})
	})
}
