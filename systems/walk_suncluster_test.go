package systems_test

import (
	"fmt"
	"strings"
	"testing"
)

// Messaging Server on Sun Cluster (seed 004): MAIL-RG with the logical
// host, the HAStoragePlus resource disk-rs (shared storage: nothing syncs
// between the nodes) and the SUNW.ims resource mail-rs. Each node runs an
// exporter with the solaris source and a version source.
//
// Sun Cluster 3.1 prints `scstat` without a Suspended column: the operator
// records a suspension with solaris.suspend_flag_file. 3.2+ prints
// `clresourcegroup status` with one (`clrg suspend`).

const (
	swVIP, swMars, swVenus = "127.0.0.91", "127.0.0.92", "127.0.0.93"
	swOld, swNew           = "6.3-0.15", "6.3-1.02"
)

// solState is the cluster in one step.
type solState struct {
	on        string // node MAIL-RG is Online on ("" = Offline on both)
	mail      bool   // Messaging Server answers there
	suspended bool   // failover suspended (3.2+: clrg suspend; 3.1: the flag file)
	versions  [2]string
}

func (s solState) rgState(node string) string {
	if node == s.on {
		return "Online"
	}
	return "Offline"
}

// scstat31 renders Sun Cluster 3.1 `scstat` (nodes, groups without the
// Suspended column, resources), the layout of scstat(1M) and the parser's
// transcription collector/parse/solaris/testdata/scstat-g-mail-rg.txt.
func scstat31(s solState) string {
	var b strings.Builder
	b.WriteString("-- Cluster Nodes --\n\n                    Node name           Status\n                    ---------           ------\n")
	for _, n := range []string{"mars", "venus"} {
		fmt.Fprintf(&b, "  Cluster node:     %-19s Online\n", n)
	}
	b.WriteString("\n-- Resource Groups and Resources --\n\n            Group Name          Resources\n            ----------          ---------\n Resources: MAIL-RG             meadow disk-rs mail-rs\n")
	b.WriteString("\n-- Resource Groups --\n\n            Group Name          Node Name           State\n            ----------          ---------           -----\n")
	for _, n := range []string{"mars", "venus"} {
		fmt.Fprintf(&b, "     Group: MAIL-RG             %-19s %s\n", n, s.rgState(n))
	}
	b.WriteString("\n-- Resources --\n\n            Resource Name       Node Name           State          Status Message\n            -------------       ---------           -----          --------------\n")
	for _, r := range []string{"meadow", "disk-rs", "mail-rs"} {
		for _, n := range []string{"mars", "venus"} {
			st := s.rgState(n)
			fmt.Fprintf(&b, "  Resource: %-19s %-19s %-14s %s\n", r, n, st, st)
		}
	}
	return b.String()
}

// clrg32 renders 3.2+ `clresourcegroup status`, `clnode status` and
// `clresource status` (the layouts of the real rafacas captures).
func clrg32(s solState) (rg, nodes, res string) {
	susp := "No"
	if s.suspended {
		susp = "Yes"
	}
	rg = fmt.Sprintf("=== Cluster Resource Groups ===\n\nGroup Name      Node Name         Suspended      Status\n----------      ---------         ---------      ------\nMAIL-RG         mars              %-14s %s\n                venus             %-14s %s\n",
		susp, s.rgState("mars"), susp, s.rgState("venus"))
	nodes = "=== Cluster Nodes ===\n\n--- Node Status ---\n\nNode Name                                             Status\n---------                                             ------\nmars                                                  Online\nvenus                                                 Online\n"
	var b strings.Builder
	b.WriteString("=== Cluster Resources ===\n\nResource Name     Node Name      State           Status Message\n-------------     ---------      -----           --------------\n")
	for _, r := range []string{"meadow", "disk-rs", "mail-rs"} {
		first := r
		for _, n := range []string{"mars", "venus"} {
			st := s.rgState(n)
			fmt.Fprintf(&b, "%-17s %-14s %-15s %s\n", first, n, st, st)
			first = ""
		}
		b.WriteString("\n")
	}
	return rg, nodes, b.String()
}

func solWalkSetup(legacy bool, s solState) func(stepEnv) []exporterRun {
	return func(e stepEnv) []exporterRun {
		if s.on != "" && s.mail {
			addr := map[string]string{"mars": swMars, "venus": swVenus}[s.on]
			messagingServer(e.t, addr, swVIP)
		}
		var runs []exporterRun
		for i, node := range []string{"mars", "venus"} {
			setup := solSetup{a: "mars", b: "venus", group: "MAIL-RG", storage: "disk-rs"}
			if legacy {
				flag := e.t.TempDir() + "/MAIL-RG.suspended"
				if s.suspended {
					flag = e.file("MAIL-RG.suspended", "suspended for the update\n", e.At)
				}
				// scstat prints nodes, groups and resources in one output:
				// no clnode/clresource on 3.1.
				setup.cmd = catArgv(e.file(node+".scstat", scstat31(s), e.At))
				setup.nodeCmd, setup.resCmd = solNoResourceCommand, solNoResourceCommand
				setup.extra = fmt.Sprintf("suspend_flag_file: %q", flag)
			} else {
				rg, nodes, res := clrg32(s)
				setup.cmd = catArgv(e.file(node+".clrg", rg, e.At))
				setup.nodeCmd = catArgv(e.file(node+".clnode", nodes, e.At))
				setup.resCmd = catArgv(e.file(node+".clrs", res, e.At))
			}
			ver := e.file(node+".version", "Sun Java(tm) System Messaging Server "+s.versions[i]+"\n", e.At)
			version := fmt.Sprintf(`      - type: version
        version:
          command: {argv: %s}
          regexp: 'Messaging Server (\S+)'
`, catArgv(ver))
			cfg := solarisConfigAt(swVIP, swMars, swVenus, setup, version)
			runs = append(runs, exporterRun{Instance: node + ":9912", Config: cfg, Local: node})
		}
		return runs
	}
}

// solFailoverBranch: Messaging Server stopped outside the RGM, which then
// fails MAIL-RG over.
func solFailoverBranch(legacy bool, versions [2]string) branch {
	return branch{Name: "stop Messaging Server outside the cluster (stop-msg)", From: 1, Steps: []step{
		{ID: "1'", Box: "mars", Action: "`stop-msg` while MAIL-RG is online", Setup: solWalkSetup(legacy, solState{on: "mars", versions: versions}),
			Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok", "restart_flag_clear"},
			Status: 0, Redund: 1, Note: "the mail resource's monitor sees the server down"},
		{ID: "2'", Box: "venus", Action: "the RGM fails MAIL-RG over to venus", Setup: solWalkSetup(legacy, solState{on: "venus", mail: true, versions: versions}),
			Open:   []string{"versions_match", "redundancy_enabled", "sync_complete", "early_start_ok", "services_running", "restart_flag_clear"},
			Alerts: []string{"MailclusterFailoverDuringWindow"},
			Status: 1, Redund: 1, Note: "failover alert"},
	}}
}

var solHealthy = []string{"versions_match", "redundancy_enabled", "roles_restored", "sync_complete",
	"early_start_ok", "services_running", "restart_flag_clear"}

func TestWalkSunCluster31RollingUpgrade(t *testing.T) {
	old, half, updated := [2]string{swOld, swOld}, [2]string{swOld, swNew}, [2]string{swNew, swNew}
	w := walk{
		Name: "suncluster31-rolling", Title: "Messaging Server rolling upgrade on Sun Cluster 3.1", Cluster: "messaging",
		Seed: "Seed 004, step 12: upgrade the packages on one node, switch MAIL-RG to it (`scswitch -z -g MAIL-RG -h …`), " +
			"upgrade the other node (`useconfig`, no second `configure`), switch back. Mail keeps running. Sun Cluster " +
			"3.1's `scstat` has no Suspended column: automatic failover is suspended with `scswitch -n -M -j mail-rs` and " +
			"recorded in `solaris.suspend_flag_file`, which opens `redundancy_disabled`. The mail store is on shared " +
			"storage: the nodes run different versions for a while and nothing syncs between them, so no version-skew " +
			"alert fires.",
		Steps: []step{
			{ID: "0", Box: "—", Action: "open the update window", Setup: solWalkSetup(true, solState{on: "mars", mail: true, versions: old}),
				Open: solHealthy, Status: 1, Redund: 1, Note: "MAIL-RG on mars"},
			{ID: "1", Box: "mars", Action: "`scswitch -n -M -j mail-rs`; create the suspend flag file",
				Setup:  solWalkSetup(true, solState{on: "mars", mail: true, suspended: true, versions: old}),
				Open:   []string{"redundancy_disabled", "versions_match", "roles_restored", "sync_complete", "services_running", "restart_flag_clear"},
				Status: 0, Redund: 0, Note: "failover suspended on purpose: gray"},
			{ID: "2", Box: "venus", Action: "upgrade the Messaging Server packages", Unlock: "redundancy_disabled",
				Setup:  solWalkSetup(true, solState{on: "mars", mail: true, suspended: true, versions: half}),
				Open:   []string{"redundancy_disabled", "roles_restored", "sync_complete", "services_running", "restart_flag_clear"},
				Status: 0, Redund: 0, Note: "versions differ on shared storage: no alert"},
			{ID: "3", Box: "mars → venus", Action: "`scswitch -z -g MAIL-RG -h venus`",
				Setup:  solWalkSetup(true, solState{on: "venus", mail: true, suspended: true, versions: half}),
				Open:   []string{"redundancy_disabled", "sync_complete", "services_running", "restart_flag_clear"},
				Status: 0, Redund: 0, Note: "a deliberate switch: no failover alert"},
			{ID: "4", Box: "mars", Action: "upgrade the packages; `useconfig`", Unlock: "redundancy_disabled",
				Setup:  solWalkSetup(true, solState{on: "venus", mail: true, suspended: true, versions: updated}),
				Open:   []string{"redundancy_disabled", "versions_match", "sync_complete", "services_running", "restart_flag_clear"},
				Status: 0, Redund: 0, Note: "every node upgraded"},
			{ID: "5", Box: "venus → mars", Action: "`scswitch -z -g MAIL-RG -h mars`", Unlock: "versions_match",
				Setup:  solWalkSetup(true, solState{on: "mars", mail: true, suspended: true, versions: updated}),
				Open:   []string{"redundancy_disabled", "versions_match", "roles_restored", "sync_complete", "services_running", "restart_flag_clear"},
				Status: 0, Redund: 0, Note: ""},
			{ID: "6", Box: "mars", Action: "`scswitch -e -M -j mail-rs`; remove the suspend flag file", Unlock: "roles_restored",
				Setup: solWalkSetup(true, solState{on: "mars", mail: true, versions: updated}),
				Open:  solHealthy, Status: 1, Redund: 1, Note: "close the window"},
		},
		Wrong: []branch{solFailoverBranch(true, old)},
	}
	w.checkWrongTurns(t)
	w.run(t)
}

func TestWalkSunCluster32Stop(t *testing.T) {
	old, half, updated := [2]string{swOld, swOld}, [2]string{swNew, swOld}, [2]string{swNew, swNew}
	w := walk{
		Name: "suncluster32-stop", Title: "Messaging Server update with MAIL-RG offline on Solaris Cluster 3.2+", Cluster: "messaging",
		Seed: "Seed 004's unconfigure/reconfigure sequence reduced to an update: take MAIL-RG offline, suspend it so the " +
			"RGM does not act, update the packages on each node, resume, and bring MAIL-RG online on its first node. " +
			"Shared storage: the storage state stands for the sync.",
		Steps: []step{
			{ID: "0", Box: "—", Action: "open the update window", Setup: solWalkSetup(false, solState{on: "mars", mail: true, versions: old}),
				Open: solHealthy, Status: 1, Redund: 1, Note: "MAIL-RG on mars"},
			{ID: "1", Box: "mars", Action: "`clrg offline MAIL-RG`", Setup: solWalkSetup(false, solState{versions: old}),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "sync_complete", "restart_flag_clear"},
				Status: 3, Redund: 3, Note: "no node active (red, expected in the window); the shared storage is healthy"},
			{ID: "2", Box: "mars", Action: "`clrg suspend MAIL-RG`", Unlock: "services_stopped",
				Setup:  solWalkSetup(false, solState{suspended: true, versions: old}),
				Open:   []string{"services_stopped", "redundancy_disabled", "versions_match", "sync_complete", "restart_flag_clear"},
				Status: 0, Redund: 0, Note: "suspended on purpose: gray"},
			{ID: "3a", Box: "mars", Action: "update the packages", Unlock: "redundancy_disabled",
				Setup:  solWalkSetup(false, solState{suspended: true, versions: half}),
				Open:   []string{"services_stopped", "redundancy_disabled", "sync_complete", "restart_flag_clear"},
				Status: 0, Redund: 0, Note: ""},
			{ID: "3b", Box: "venus", Action: "update the packages", Unlock: "redundancy_disabled",
				Setup:  solWalkSetup(false, solState{suspended: true, versions: updated}),
				Open:   []string{"services_stopped", "redundancy_disabled", "versions_match", "sync_complete", "restart_flag_clear"},
				Status: 0, Redund: 0, Note: "every node updated"},
			{ID: "4", Box: "mars", Action: "`clrg resume MAIL-RG`", Unlock: "versions_match",
				Setup:  solWalkSetup(false, solState{versions: updated}),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "sync_complete", "restart_flag_clear"},
				Status: 3, Redund: 3, Note: "no node active yet"},
			{ID: "5", Box: "mars", Action: "`clrg online -n mars MAIL-RG`", Unlock: "redundancy_enabled",
				Setup: solWalkSetup(false, solState{on: "mars", mail: true, versions: updated}),
				Open:  solHealthy, Status: 1, Redund: 1, Note: "close the window"},
		},
		Wrong: []branch{solFailoverBranch(false, old)},
	}
	w.checkWrongTurns(t)
	w.run(t)
}
