package systems_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// m-FILTER version-up walks (seed 003, FAQ 2578): the stop procedure, and
// the no-stop procedure with settings sync only (switch settings sync off,
// FAQ 4105) and with data sync (block every replica port at the firewall).
// Each server runs an exporter with the mfilter source; the agentless
// service source watches SMTP and SSH.

const (
	mwMaster, mwSlave = "127.0.0.61", "127.0.0.62"
	mwOld, mwNew      = "5.41R01", "5.50R01"
)

// mfBox is one m-FILTER server's state in a step.
type mfBox struct {
	version  string
	running  bool // the m-FILTER services run: SMTP answers, replica ports listen
	blocked  bool // the firewall blocks the replica ports
	settings bool // settings sync configured (REPLICA_SERVER_1)
	data     bool // ENABLE_REP_DATA = ON
	restart  bool // the restart-required flag is set
	queued   int  // saved mail waiting in the slave's queue directory
	stale    bool // the version file was last written 2h ago (the site job stopped)
}

// up is a running server with settings sync and the given data sync.
func up(version string, data bool) mfBox {
	return mfBox{version: version, running: true, settings: true, data: data}
}

func (b mfBox) stopped() mfBox             { b.running = false; return b }
func (b mfBox) block() mfBox               { b.blocked = true; return b }
func (b mfBox) noSettings() mfBox          { b.settings = false; return b }
func (b mfBox) withRestart() mfBox         { b.restart = true; return b }
func (b mfBox) withQueue(n int) mfBox      { b.queued = n; return b }
func (b mfBox) at(version string) mfBox    { b.version = version; return b }
func (b mfBox) serving(running bool) mfBox { b.running = running; return b }
func (b mfBox) staleVersion() mfBox        { b.stale = true; return b }

func mfDef(b mfBox, peer string) string {
	var s strings.Builder
	s.WriteString("# mf_replica.def (format of FAQ 2578)\n")
	if b.settings {
		fmt.Fprintf(&s, "REPLICA_SERVER_1 = %s:14083\n", peer)
	}
	if b.data {
		s.WriteString("# sync mail data(report/save/reserve)\nENABLE_REP_DATA = ON\n")
		for i, k := range []string{"REPORT", "SAVE", "EWEB", "QUARANTINE", "POP", "SMTP_CLIENT"} {
			fmt.Fprintf(&s, "DATA_%s_SYNC_SERVER_PORT = %d\n", k, 14042+i)
		}
	} else {
		s.WriteString("ENABLE_REP_DATA = OFF\n")
	}
	return s.String()
}

func mfWalkServe(e stepEnv, addr string, b mfBox, master bool) {
	listen(e.t, fmt.Sprintf("%s:%d", addr, mfSSHPort), fakeTCP) // the server is powered on
	if !b.running {
		return
	}
	listen(e.t, fmt.Sprintf("%s:%d", addr, mfSMTPPort), fakeSMTP)
	if b.blocked {
		return
	}
	listen(e.t, addr+":14083", fakeTCP)
	if master && b.data {
		for _, p := range mfDataPorts {
			listen(e.t, fmt.Sprintf("%s:%d", addr, p), fakeTCP)
		}
	}
}

func mfWalkRun(e stepEnv, name string, b mfBox) exporterRun {
	peer, dir := mwSlave, e.t.TempDir()
	if name == "mf-slave" {
		peer = mwMaster
	}
	def := e.file(name+".def", mfDef(b, peer), e.At)
	written := e.At
	if b.stale {
		written = e.At.Add(-2 * time.Hour)
	}
	version := e.file(name+".version", b.version+"\n", written)
	flag := "0\n"
	if b.restart {
		flag = "1\n"
	}
	restart := e.file(name+".restart", flag, e.At)
	queues := ""
	if name == "mf-slave" {
		saved := filepath.Join(dir, "saved")
		if err := os.Mkdir(saved, 0o755); err != nil {
			e.t.Fatal(err)
		}
		for i := 0; i < b.queued; i++ {
			if err := os.WriteFile(filepath.Join(saved, fmt.Sprintf("%d.eml", i)), []byte("Subject: saved\r\n\r\nx\r\n"), 0o644); err != nil {
				e.t.Fatal(err)
			}
		}
		queues = fmt.Sprintf("queue_dirs: [{name: saved, path: %q}]", saved)
	}
	cfg := mfConfig(mwMaster, mwSlave, def, version, restart, queues)
	return exporterRun{Instance: name + ":9912", Config: cfg, Local: name}
}

func mfPair(master, slave mfBox) func(stepEnv) []exporterRun {
	return func(e stepEnv) []exporterRun {
		mfWalkServe(e, mwMaster, master, true)
		mfWalkServe(e, mwSlave, slave, false)
		return []exporterRun{mfWalkRun(e, "mf-master", master), mfWalkRun(e, "mf-slave", slave)}
	}
}

// Gates open on a healthy pair (services_stopped and redundancy_disabled
// shut).
var mfHealthy = []string{"versions_match", "redundancy_enabled", "roles_restored", "sync_complete",
	"early_start_ok", "services_running", "restart_flag_clear"}

func TestWalkMFilterStop(t *testing.T) {
	oldM, oldS := up(mwOld, true), up(mwOld, true)
	newM, newS := up(mwNew, true), up(mwNew, true)
	w := walk{
		Name: "mfilter-stop", Title: "m-FILTER version-up with mail stopped", Cluster: "mfilter",
		Seed: "Seed 003 (FAQ 2578), first procedure: stop the m-FILTER services on master and slave, update each server " +
			"with the installer (one at a time; stop a service the installer starts), then start the slave first and the " +
			"master second, and restart m-FILTER on the slave if the start-up sync raised its restart flag. " +
			"Settings and data sync on (`ENABLE_REP_DATA = ON`). The replica ports listen only while the services run, " +
			"so the sync completes after the services start: for m-FILTER, `sync_complete` follows `services_running`.",
		Steps: []step{
			{ID: "0", Box: "—", Action: "open the update window; mail flows", Setup: mfPair(oldM, oldS),
				Open: mfHealthy, Status: 1, Redund: 1, Note: "healthy pair"},
			{ID: "1", Box: "master, slave", Action: "stop the m-FILTER services", Setup: mfPair(oldM.stopped(), oldS.stopped()),
				Open:   []string{"services_stopped", "redundancy_disabled", "versions_match", "redundancy_enabled", "roles_restored"},
				Status: 3, Redund: 3, Note: "replica ports closed: sync path blocked, out of sync (red, expected in the window)"},
			{ID: "2a", Box: "master", Action: "update with the installer (stop the service if the installer started it)", Unlock: "services_stopped",
				Setup:  mfPair(newM.stopped(), oldS.stopped()),
				Open:   []string{"services_stopped", "redundancy_disabled", "redundancy_enabled", "roles_restored"},
				Status: 3, Redund: 3, Note: "versions differ; nothing can sync"},
			{ID: "2b", Box: "slave", Action: "update with the installer", Unlock: "services_stopped",
				Setup:  mfPair(newM.stopped(), newS.stopped()),
				Open:   []string{"services_stopped", "redundancy_disabled", "versions_match", "redundancy_enabled", "roles_restored"},
				Status: 3, Redund: 3, Note: "every server updated"},
			{ID: "3a", Box: "slave", Action: "start the m-FILTER services (slave first)", Unlock: "versions_match",
				Setup:  mfPair(newM.stopped(), newS),
				Open:   []string{"versions_match", "redundancy_enabled", "roles_restored"},
				Status: 3, Redund: 3, Note: "the master is still stopped: no sync yet"},
			{ID: "3b", Box: "master", Action: "start the m-FILTER services", Unlock: "versions_match",
				Setup:  mfPair(newM, newS.withRestart()),
				Open:   []string{"versions_match", "redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok", "services_running"},
				Status: 1, Redund: 1, Note: "synced; the start-up sync raised the slave's restart flag: gate 9 shut"},
			{ID: "4", Box: "slave", Action: "restart m-FILTER (管理画面: 再起動)", Unlock: "sync_complete",
				Setup: mfPair(newM, newS), Open: mfHealthy, Status: 1, Redund: 1, Note: "all clear: close the window"},
		},
		Wrong: []branch{
			{Name: "the installer starts the updated master while the slave is old", From: 3, Steps: []step{
				{ID: "2a'", Box: "master", Action: "installer started m-FILTER after the update; left running",
					Setup:  mfPair(newM, oldS.stopped()),
					Open:   []string{"redundancy_enabled", "roles_restored"},
					Alerts: []string{"MailclusterMasterStartedBeforeSlave", "MailclusterRedundancyEnabledWithVersionSkew"},
					Status: 3, Redund: 3, Note: "the slave reaches the new master's replica ports: versions differ with the sync path open"},
			}},
			{Name: "the site job stopped writing the version files", From: 2, Steps: []step{
				{ID: "2a/2b'", Box: "master, slave", Action: "update both; the version files still say the old version, written before the update",
					Setup:  mfPair(oldM.stopped().staleVersion(), oldS.stopped().staleVersion()),
					Open:   []string{"services_stopped", "redundancy_disabled", "redundancy_enabled", "roles_restored"},
					Status: 3, Redund: 3, Note: "a version file older than 1h is no evidence: versions_match stays shut"},
			}},
			{Name: "start the master before the slave", From: 4, Steps: []step{
				{ID: "3a'", Box: "master", Action: "start the master first", Setup: mfPair(newM, newS.stopped()),
					Open:   []string{"versions_match", "redundancy_enabled", "roles_restored"},
					Alerts: []string{"MailclusterMasterStartedBeforeSlave"},
					Status: 3, Redund: 3, Note: "start order alert"},
			}},
		},
	}
	w.checkWrongTurns(t)
	w.run(t)
}

func TestWalkMFilterNoStopDataSync(t *testing.T) {
	oldM, oldS := up(mwOld, true), up(mwOld, true)
	newM, newS := up(mwNew, true), up(mwNew, true)
	w := walk{
		Name: "mfilter-nostop-data", Title: "m-FILTER version-up without stopping mail, data sync on", Cluster: "mfilter",
		Seed: "Seed 003 (FAQ 2578), \"メール流通を止めずに対応する場合\" with data sync on (`ENABLE_REP_DATA = ON`): " +
			"do not switch settings sync off (that scatters the mail data); block the sync traffic instead — every " +
			"replica port (14083 and the data ports 14042–14047) at the firewall — update each server, then unblock. " +
			"While blocked, saved/held mail piles up in the slave's queue directory and moves to the master once the " +
			"sync resumes.",
		Steps: []step{
			{ID: "0", Box: "—", Action: "open the update window; mail flows", Setup: mfPair(oldM, oldS),
				Open: mfHealthy, Status: 1, Redund: 1, Note: "healthy pair"},
			{ID: "1", Box: "firewall", Action: "block every replica port (14083, 14042–14047)",
				Setup:  mfPair(oldM.block(), oldS.block().withQueue(3)),
				Open:   []string{"redundancy_disabled", "versions_match", "redundancy_enabled", "roles_restored", "services_running"},
				Status: 3, Redund: 3, Note: "every port blocked opens gate 2; mail still flows on both"},
			{ID: "2", Box: "slave", Action: "update with the installer", Unlock: "redundancy_disabled",
				Setup:  mfPair(oldM.block(), newS.block().withQueue(5)),
				Open:   []string{"redundancy_disabled", "redundancy_enabled", "roles_restored", "services_running"},
				Status: 3, Redund: 3, Note: "versions differ while the sync is blocked: no alert"},
			{ID: "3", Box: "master", Action: "update with the installer", Unlock: "redundancy_disabled",
				Setup:  mfPair(newM.block(), newS.block().withQueue(7)),
				Open:   []string{"redundancy_disabled", "versions_match", "redundancy_enabled", "roles_restored", "services_running"},
				Status: 3, Redund: 3, Note: "every server updated"},
			{ID: "4", Box: "firewall", Action: "unblock the replica ports", Unlock: "versions_match",
				Setup:  mfPair(newM, newS.withQueue(7)),
				Open:   []string{"versions_match", "redundancy_enabled", "roles_restored", "early_start_ok", "services_running"},
				Status: 2, Redund: 2, Note: "the slave's queue drains into the master: syncing (yellow)"},
			{ID: "5", Box: "slave", Action: "wait until the queue has drained", Unlock: "",
				Setup: mfPair(newM, newS), Open: mfHealthy, Status: 1, Redund: 1, Note: "synced: close the window"},
		},
		Wrong: []branch{
			{Name: "block only the settings-sync port", From: 1, Steps: []step{
				{ID: "1'", Box: "firewall", Action: "block 14083 only; the data ports stay open",
					Setup: func(e stepEnv) []exporterRun {
						// the master's data ports still listen: the firewall rule missed them
						for _, p := range mfDataPorts {
							listen(e.t, fmt.Sprintf("%s:%d", mwMaster, p), fakeTCP)
						}
						return mfPair(oldM.block(), oldS.block())(e)
					},
					Open:   []string{"versions_match", "redundancy_enabled", "roles_restored", "services_running"},
					Status: 3, Redund: 3, Note: "gate 2 stays shut: a port is still open"},
				{ID: "2'", Box: "slave", Action: "update anyway",
					Setup: func(e stepEnv) []exporterRun {
						for _, p := range mfDataPorts {
							listen(e.t, fmt.Sprintf("%s:%d", mwMaster, p), fakeTCP)
						}
						return mfPair(oldM.block(), newS.block())(e)
					},
					Open:   []string{"redundancy_enabled", "roles_restored", "services_running"},
					Alerts: []string{"MailclusterRedundancyEnabledWithVersionSkew"},
					Status: 3, Redund: 3, Note: "different versions with a data port open"},
			}},
			{Name: "unblock before the master is updated", From: 3, Steps: []step{
				{ID: "4'", Box: "firewall", Action: "unblock the replica ports", Setup: mfPair(oldM, newS.withQueue(5)),
					Open:   []string{"redundancy_enabled", "roles_restored", "services_running"},
					Alerts: []string{"MailclusterRedundancyEnabledWithVersionSkew"},
					Status: 3, Redund: 3, Note: "different versions must never sync: red and alert"},
			}},
		},
	}
	w.checkWrongTurns(t)
	w.run(t)
}

func TestWalkMFilterNoStopSettingsSync(t *testing.T) {
	oldM, oldS := up(mwOld, false), up(mwOld, false)
	newM, newS := up(mwNew, false), up(mwNew, false)
	w := walk{
		Name: "mfilter-nostop-settings", Title: "m-FILTER version-up without stopping mail, settings sync only", Cluster: "mfilter",
		Seed: "Seed 003 (FAQ 2578), \"メール流通を止めずに対応する場合\" with data sync off (`ENABLE_REP_DATA = OFF`): " +
			"switch settings sync off for the version-up (FAQ 4105: no `REPLICA_SERVER_*` line), update each server, " +
			"switch settings sync on again. (Blocking port 14083 instead works like the data-sync walk.)",
		Steps: []step{
			{ID: "0", Box: "—", Action: "open the update window; mail flows", Setup: mfPair(oldM, oldS),
				Open: mfHealthy, Status: 1, Redund: 1, Note: "healthy pair"},
			{ID: "1", Box: "master, slave", Action: "switch settings sync off (FAQ 4105)",
				Setup:  mfPair(oldM.noSettings(), oldS.noSettings()),
				Open:   []string{"redundancy_disabled", "versions_match", "roles_restored", "services_running"},
				Status: 0, Redund: 0, Note: "redundancy disabled on purpose: gray"},
			{ID: "2", Box: "slave", Action: "update with the installer", Unlock: "redundancy_disabled",
				Setup:  mfPair(oldM.noSettings(), newS.noSettings()),
				Open:   []string{"redundancy_disabled", "roles_restored", "services_running"},
				Status: 0, Redund: 0, Note: "versions differ with the sync off: no alert"},
			{ID: "3", Box: "master", Action: "update with the installer", Unlock: "redundancy_disabled",
				Setup:  mfPair(newM.noSettings(), newS.noSettings()),
				Open:   []string{"redundancy_disabled", "versions_match", "roles_restored", "services_running"},
				Status: 0, Redund: 0, Note: "every server updated"},
			{ID: "4", Box: "master, slave", Action: "switch settings sync on again", Unlock: "versions_match",
				Setup: mfPair(newM, newS), Open: mfHealthy, Status: 1, Redund: 1, Note: "synced: close the window"},
		},
		Wrong: []branch{
			{Name: "switch settings sync off while data sync is on", From: 1, Steps: []step{
				{ID: "1'", Box: "master, slave", Action: "settings sync off, `ENABLE_REP_DATA = ON` left",
					Setup:  mfPair(up(mwOld, true).noSettings(), up(mwOld, true).noSettings()),
					Open:   []string{"versions_match", "redundancy_enabled", "roles_restored", "services_running"},
					Status: 3, Redund: 3, Note: "mail data scatters: out of sync (red), never a gray \"redundancy off\""},
			}},
			{Name: "switch settings sync on before the master is updated", From: 3, Steps: []step{
				{ID: "4'", Box: "master, slave", Action: "switch settings sync on", Setup: mfPair(oldM, newS),
					Open:   []string{"redundancy_enabled", "roles_restored", "services_running"},
					Alerts: []string{"MailclusterRedundancyEnabledWithVersionSkew"},
					Status: 3, Redund: 3, Note: "different versions must never sync"},
			}},
		},
	}
	w.checkWrongTurns(t)
	w.run(t)
}
