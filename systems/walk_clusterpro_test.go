package systems_test

import (
	"fmt"
	"strings"
	"testing"
)

// CLUSTERPRO X with ExpressMail (seeds 001, 002): an update by group move.
// Shared disk (no mirror): nothing syncs between the servers. Each server
// runs an exporter with the clpstat source (its own `*` in the output) and
// a version source reading the installed ExpressMail version.

const (
	cwVIP, cwMail1, cwMail2 = "127.0.0.81", "127.0.0.82", "127.0.0.83"
	cwOld, cwNew            = "6.0", "6.1"
)

// clpStatus renders `clpstat` (CLUSTER STATUS view, the layout of the real
// captures in shared/real-outputs/expresscluster) as seen on server
// `local`, with failover1 online on `on` ("" = offline everywhere) and the
// ExpressMail exec resource online or not.
func clpStatus(local, on string, execOnline bool) string {
	var b strings.Builder
	b.WriteString(" ========================  CLUSTER STATUS  ===========================\n  Cluster : expressmail\n  <server>\n")
	for _, s := range []string{"server1", "server2"} {
		mark := " "
		if s == local {
			mark = "*"
		}
		fmt.Fprintf(&b, "   %s%s .........: Online\n      lankhb1        : Normal           Kernel Mode LAN Heartbeat\n", mark, s)
	}
	b.WriteString("  <group>\n")
	state, current, res, exec := "Offline", "None", "Offline", "Offline"
	if on != "" {
		state, current, res = "Online", on, "Online"
		if execOnline {
			exec = "Online"
		}
	}
	fmt.Fprintf(&b, "    failover1 .......: %s\n      current        : %s\n      fip1           : %s\n      disk1          : %s\n      exec-mail      : %s\n", state, current, res, res, exec)
	b.WriteString("  <monitor>\n    fipw1            : Normal\n    userw            : Normal\n =====================================================================\n")
	return b.String()
}

// cpState is the cluster in one step.
type cpState struct {
	on       string // server the group is online on ("" = offline)
	mail     bool   // ExpressMail answers (exec resource online)
	versions [2]string
}

func cpWalkSetup(st cpState) func(stepEnv) []exporterRun {
	return func(e stepEnv) []exporterRun {
		if st.on != "" && st.mail {
			addr := map[string]string{"server1": cwMail1, "server2": cwMail2}[st.on]
			for _, a := range []string{addr, cwVIP} {
				listen(e.t, fmt.Sprintf("%s:%d", a, cpSMTPPort), fakeSMTP)
				listen(e.t, fmt.Sprintf("%s:%d", a, cpPOPPort), fakePOP3)
			}
		}
		var runs []exporterRun
		for i, n := range []struct{ node, server string }{{"mail1", "server1"}, {"mail2", "server2"}} {
			clp := e.file(n.node+".clpstat", clpStatus(n.server, st.on, st.mail), e.At)
			ver := e.file(n.node+".version", "ExpressMail Ver"+st.versions[i]+"\n", e.At)
			version := fmt.Sprintf("      - type: version\n        version:\n          command: {argv: %s}\n          regexp: 'Ver([0-9.]+)'\n", catArgv(ver))
			cfg := clusterproConfigAt(cwVIP, cwMail1, cwMail2, cpSetup{group: "failover1", clp: catArgv(clp), vip: true}, version)
			runs = append(runs, exporterRun{Instance: n.node + ":9912", Config: cfg, Local: n.node})
		}
		return runs
	}
}

func TestWalkClusterproGroupMove(t *testing.T) {
	healthy := []string{"versions_match", "redundancy_enabled", "roles_restored", "sync_complete",
		"early_start_ok", "services_running", "restart_flag_clear"}
	old, half, updated := [2]string{cwOld, cwOld}, [2]string{cwNew, cwOld}, [2]string{cwNew, cwNew}
	w := walk{
		Name: "clusterpro-group-move", Title: "CLUSTERPRO ExpressMail update by group move", Cluster: "expressmail",
		Seed: "Seeds 001/002: ExpressMail's program files are on each server's local disk and its data on the switch " +
			"partition, so each server is updated while the failover group runs there (the data must be reachable), " +
			"with ExpressMail stopped through the cluster (the exec resource, or a group stop/start) — never from the " +
			"ExpressMail manager, whose service stop the monitor treats as a failure and fails the group over. The group " +
			"is moved to the next server with `clpgrp -m` and back at the end. Shared disk: `sync_complete` holds " +
			"vacuously; servers on different versions never sync, so no version-skew alert fires.",
		Steps: []step{
			{ID: "0", Box: "—", Action: "open the update window", Setup: cpWalkSetup(cpState{on: "server1", mail: true, versions: old}),
				Open: healthy, Status: 1, Redund: 1, Note: "group on mail1"},
			{ID: "1", Box: "mail1", Action: "stop ExpressMail through the cluster (`clprsc -t exec-mail`)",
				Setup:  cpWalkSetup(cpState{on: "server1", versions: old}),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok", "restart_flag_clear"},
				Status: 0, Redund: 1, Note: "mail stopped on purpose: gray"},
			{ID: "2", Box: "mail1", Action: "update ExpressMail (installer)", Unlock: "services_stopped",
				Setup:  cpWalkSetup(cpState{on: "server1", versions: half}),
				Open:   []string{"services_stopped", "redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok", "restart_flag_clear"},
				Status: 0, Redund: 1, Note: "versions differ: no alert (nothing syncs)"},
			{ID: "3", Box: "mail1", Action: "start ExpressMail (`clprsc -s exec-mail`)",
				Setup:  cpWalkSetup(cpState{on: "server1", mail: true, versions: half}),
				Open:   []string{"redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok", "services_running", "restart_flag_clear"},
				Status: 1, Redund: 1, Note: ""},
			{ID: "4", Box: "mail1 → mail2", Action: "move the group (`clpgrp -m failover1`)", Unlock: "services_running",
				Setup:  cpWalkSetup(cpState{on: "server2", mail: true, versions: half}),
				Open:   []string{"redundancy_enabled", "sync_complete", "early_start_ok", "services_running", "restart_flag_clear"},
				Status: 1, Redund: 1, Note: "a deliberate move: no failover alert"},
			{ID: "5", Box: "mail2", Action: "stop ExpressMail through the cluster",
				Setup:  cpWalkSetup(cpState{on: "server2", versions: half}),
				Open:   []string{"services_stopped", "redundancy_enabled", "sync_complete", "early_start_ok", "restart_flag_clear"},
				Status: 0, Redund: 1, Note: ""},
			{ID: "6", Box: "mail2", Action: "update ExpressMail (installer)", Unlock: "services_stopped",
				Setup:  cpWalkSetup(cpState{on: "server2", versions: updated}),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "sync_complete", "early_start_ok", "restart_flag_clear"},
				Status: 0, Redund: 1, Note: "every server updated"},
			{ID: "7", Box: "mail2", Action: "start ExpressMail",
				Setup:  cpWalkSetup(cpState{on: "server2", mail: true, versions: updated}),
				Open:   []string{"versions_match", "redundancy_enabled", "sync_complete", "early_start_ok", "services_running", "restart_flag_clear"},
				Status: 1, Redund: 1, Note: ""},
			{ID: "8", Box: "mail2 → mail1", Action: "move the group back (`clpgrp -m failover1 -h server1`)", Unlock: "versions_match",
				Setup: cpWalkSetup(cpState{on: "server1", mail: true, versions: updated}),
				Open:  healthy, Status: 1, Redund: 1, Note: "close the window"},
		},
		Wrong: []branch{
			{Name: "restart ExpressMail from the ExpressMail manager", From: 4, Steps: []step{
				{ID: "4'", Box: "mail1", Action: "stop the ExpressMail services from the ExpressMail manager",
					Setup:  cpWalkSetup(cpState{on: "server1", versions: half}),
					Open:   []string{"services_stopped", "redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok", "restart_flag_clear"},
					Status: 0, Redund: 1, Note: "the group's monitor sees the services down"},
				{ID: "5'", Box: "mail2", Action: "the monitor fails the group over to mail2",
					Setup:  cpWalkSetup(cpState{on: "server2", mail: true, versions: half}),
					Open:   []string{"redundancy_enabled", "sync_complete", "early_start_ok", "services_running", "restart_flag_clear"},
					Alerts: []string{"MailclusterFailoverDuringWindow"},
					Status: 1, Redund: 1, Note: "mail now runs on the not yet updated server: failover alert"},
			}},
		},
	}
	w.checkWrongTurns(t)
	w.run(t)
}
