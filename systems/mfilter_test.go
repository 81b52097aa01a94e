package systems_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// m-FILTER master/slave pair with settings sync and data sync (seed 003).
// Both servers deliver mail (master_slave: both should serve); roles come
// from the configuration. Each server runs an exporter with the mfilter
// source, which reads its mf_replica.def, connects to the settings-sync
// peer (14083) and, on the slave, to the master's data-sync ports
// (14042-14047), and reads the version file, the restart-required flag and
// (slave) the 保存/保留 (saved/held) queue directories. The agentless
// `service` source tells a dead server (offline) from a live one.
//
// Inputs: the def files in testdata/ (our transcriptions of the format the
// vendor FAQ shows, with loopback addresses) and stand-in listeners for
// SMTP, SSH (liveness) and the replica ports. Blocking the replica ports
// (the FAQ's no-stop version-up) is modelled by not listening on them.

const (
	mfMaster, mfSlave = "127.0.0.21", "127.0.0.22"
	mfSMTPPort        = 25025
	mfSSHPort         = 22022
)

var mfDataPorts = []int{14042, 14043, 14044, 14045, 14046, 14047}

// mfNode is one m-FILTER server's local state.
type mfNode struct {
	name    string // mf-master / mf-slave
	version string
	restart bool           // the restart-required flag is set
	queued  map[string]int // files in the saved/held queue directories (slave)
	// noSync: settings sync switched off in mf_replica.def (no
	// REPLICA_SERVER_* line), as FAQ 4105 does for a stop version-up.
	noSync bool
}

func (n mfNode) run(t *testing.T, window bool) exporterRun {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	version := write("version", n.version+"\n")
	restart := filepath.Join(dir, "restart_required") // absent = clear
	if n.restart {
		write("restart_required", "1\n")
	}
	def, queues := abs(t, "testdata/mf_replica-master.def"), ""
	if n.noSync {
		def = write("mf_replica.def", "# settings sync switched off for the version-up (FAQ 4105)\nENABLE_REP_DATA = OFF\n")
	}
	if n.name == "mf-slave" {
		if !n.noSync {
			def = abs(t, "testdata/mf_replica-slave.def")
		}
		queues = "queue_dirs:"
		for _, q := range []string{"saved", "held"} {
			qd := filepath.Join(dir, q)
			if err := os.Mkdir(qd, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n.queued[q]; i++ {
				if err := os.WriteFile(filepath.Join(qd, fmt.Sprintf("%d.eml", i)), []byte("Subject: held\r\n\r\nx\r\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			queues += fmt.Sprintf("\n            - {name: %s, path: %q}", q, qd)
		}
	}
	cfg := mfConfig(mfMaster, mfSlave, def, version, restart, queues)
	return exporterRun{Instance: n.name + ":9912", Config: cfg, Local: n.name, Window: window}
}

// mfConfig is the exporter configuration for an m-FILTER pair at the
// given addresses, reading the settings, version and restart-flag files
// named; queues is an optional queue_dirs line for the slave.
func mfConfig(master, slave, def, version, restart, queues string) string {
	return fmt.Sprintf(`
global:
  probe_timeout: 2s
clusters:
  - name: mfilter
    kind: master_slave
    preferred_active: mf-master
    nodes:
      - {name: mf-master, address: %s, role: master}
      - {name: mf-slave, address: %s, role: slave}
    services:
      - {name: smtp, protocol: smtp, port: %d, gated: true}
    liveness:
      - {name: ssh, protocol: tcp, port: %d}
    sources:
      - type: service
        service: {primary_service: smtp}
      - type: mfilter
        mfilter:
          def_file: %q
          version_file: %q
          restart_required_file: %q
          %s
`, master, slave, mfSMTPPort, mfSSHPort, def, version, restart, queues)
}

// mfServe starts what a running m-FILTER server answers: SMTP, SSH and,
// unless the firewall blocks them, its replica ports (settings sync on
// both; data sync on the master).
func mfServe(t *testing.T, addr string, replica bool) {
	t.Helper()
	listen(t, fmt.Sprintf("%s:%d", addr, mfSMTPPort), fakeSMTP)
	listen(t, fmt.Sprintf("%s:%d", addr, mfSSHPort), fakeTCP)
	if !replica {
		return
	}
	listen(t, addr+":14083", fakeTCP)
	if addr == mfMaster {
		for _, p := range mfDataPorts {
			listen(t, fmt.Sprintf("%s:%d", addr, p), fakeTCP)
		}
	}
}

func TestMFilter(t *testing.T) {
	// Healthy: both servers up, every replica port reachable, same
	// version, no restart flag, no mail held on the slave. Replication is
	// configured in mf_replica.def, so redundancy is enabled (see
	// docs/systems/mfilter.md).
	t.Run("healthy", func(t *testing.T) {
		mfServe(t, mfMaster, true)
		mfServe(t, mfSlave, true)
		scenario(t, expectation{
			Cluster: "mfilter", Status: 1, Redundancy: 1,
			Gates: gates("redundancy_enabled", "versions_match", "roles_restored", "sync_complete", "early_start_ok",
				"services_running", "restart_flag_clear"),
		},
			mfNode{name: "mf-master", version: "5.50R01"}.run(t, false),
			mfNode{name: "mf-slave", version: "5.50R01"}.run(t, false))
	})

	// The master is down (no SMTP, no SSH, no replica ports): it is
	// offline, the slave cannot reach it (settings and data sync fail),
	// and no node is master any more. m-FILTER does not fail over by
	// itself: red (no_active, out_of_sync, peer_down); the slave still
	// delivers mail (its service is green).
	t.Run("master-down", func(t *testing.T) {
		mfServe(t, mfSlave, true)
		scenario(t, expectation{
			Cluster: "mfilter", Status: 3, Redundancy: 3, Reasons: []string{"no_active", "out_of_sync", "peer_down"},
			Gates: gates("redundancy_disabled", "redundancy_enabled"),
			Extra: []check{{
				Expr: `mailcluster:service_status:code{cluster="mfilter"}`,
				Want: []wantSample{
					{Labels: `mailcluster:service_status:code{cluster="mfilter",node="mf-master",service="smtp"}`, Value: 0},
					{Labels: `mailcluster:service_status:code{cluster="mfilter",node="mf-slave",service="smtp"}`, Value: 1},
				}}},
		}, mfNode{name: "mf-slave", version: "5.50R01"}.run(t, false))
	})

	// Sync blocked outside a window: everything answers except the
	// replica ports. Mail flows, but settings and saved/held mail do not
	// reach the master: red (out_of_sync, peer_down).
	t.Run("sync-blocked", func(t *testing.T) {
		mfServe(t, mfMaster, false)
		mfServe(t, mfSlave, false)
		scenario(t, expectation{
			Cluster: "mfilter", Status: 3, Redundancy: 3, Reasons: []string{"out_of_sync", "peer_down"},
			Gates: gates("redundancy_disabled", "redundancy_enabled", "versions_match", "roles_restored", "services_running"),
		},
			mfNode{name: "mf-master", version: "5.50R01"}.run(t, false),
			mfNode{name: "mf-slave", version: "5.50R01"}.run(t, false))
	})

	// No-stop version-up in progress (FAQ 2578, data sync ON): the
	// replica ports are blocked at the firewall, the slave is already on
	// 5.50R01, the master still on 5.41R01, and saved/held mail piles up
	// in the slave's queue directories. Window open: the red is expected
	// (critical alerts are held); versions_match 0 says "do not unblock
	// the ports yet" - different versions must never sync.
	t.Run("update-no-stop-sync-blocked", func(t *testing.T) {
		mfServe(t, mfMaster, false)
		mfServe(t, mfSlave, false)
		scenario(t, expectation{
			Cluster: "mfilter", Status: 3, Redundancy: 3, Reasons: []string{"out_of_sync", "peer_down"},
			Gates: gates("redundancy_disabled", "redundancy_enabled", "roles_restored", "services_running"),
			Extra: []check{{
				Expr: `max by(cluster, node, queue)(mailcluster_queue_messages{cluster="mfilter"})`,
				Want: []wantSample{
					{Labels: `{cluster="mfilter",node="mf-slave",queue="held"}`, Value: 2},
					{Labels: `{cluster="mfilter",node="mf-slave",queue="saved"}`, Value: 3},
				}}, {
				Expr: `count by(cluster)(group by(cluster, version)(mailcluster_software_info{cluster="mfilter"}))`,
				Want: []wantSample{{Labels: `{cluster="mfilter"}`, Value: 2}},
			}},
		},
			mfNode{name: "mf-master", version: "5.41R01"}.run(t, true),
			mfNode{name: "mf-slave", version: "5.50R01", queued: map[string]int{"saved": 3, "held": 2}}.run(t, true))
	})

	// Stop version-up, last step: both servers updated and started
	// (slave first, then master), sync works again, but the start-up sync
	// raised the slave's restart flag: everything is green except gate 9,
	// restart_flag_clear - restart m-FILTER on the slave, then close the
	// window.
	t.Run("update-sync-switched-off", func(t *testing.T) {
		// Settings sync switched off on both servers (FAQ 4105) before a
		// version-up, mail still flowing: redundancy is disabled (gray),
		// gate redundancy_disabled is open; sync_complete is 0 (the sync
		// state is "disabled", not "synced") until sync is switched back on.
		mfServe(t, mfMaster, false)
		mfServe(t, mfSlave, false)
		scenario(t, expectation{
			Cluster: "mfilter", Status: 0, Redundancy: 0, Reasons: []string{"disabled"},
			Gates: gates("redundancy_disabled", "versions_match", "roles_restored", "services_running"),
		},
			mfNode{name: "mf-master", version: "5.50R01", noSync: true}.run(t, true),
			mfNode{name: "mf-slave", version: "5.50R01", noSync: true}.run(t, true))
	})

	t.Run("update-restart-required", func(t *testing.T) {
		mfServe(t, mfMaster, true)
		mfServe(t, mfSlave, true)
		scenario(t, expectation{
			Cluster: "mfilter", Status: 1, Redundancy: 1,
			Gates: gates("redundancy_enabled", "versions_match", "roles_restored", "sync_complete", "early_start_ok", "services_running"),
		},
			mfNode{name: "mf-master", version: "5.50R01"}.run(t, true),
			mfNode{name: "mf-slave", version: "5.50R01", restart: true}.run(t, true))
	})
}
