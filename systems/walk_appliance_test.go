package systems_test

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// NetSHAKER Red-Mail system update (seed 000, STEP1-1 … STEP5-1) on an
// appliance pair. Nothing runs on the boxes: one exporter watches them from
// outside. The box holding the common IP is told by the certificate its
// admin screen presents through the common IP (vip_holder, method tls), so
// the roles stay known while SMTP/POP are stopped; the Active Monitor
// screen (redundancy on/off, peer, sync state, version) comes from a
// command adapter printing the JSON contract.

const (
	awVIP, awPrimary, awSecondary = "127.0.0.71", "127.0.0.72", "127.0.0.73"
	awOld, awNew                  = "2.0.7", "2.0.8"
)

// apBox is one appliance in a step.
type apBox struct {
	on     bool // powered on and on the LAN
	mail   bool // SMTP/POP services on
	holds  bool // holds the common IP (active with redundancy on)
	screen *apScreen
}

// apScreen is what the adapter reads from the box's Active Monitor.
type apScreen struct {
	Node              string `json:"node"`
	RedundancyEnabled bool   `json:"redundancy_enabled"`
	PeerUp            bool   `json:"peer_up"`
	SyncState         string `json:"sync_state,omitempty"`
	Version           string `json:"version"`
}

type applianceWalk struct {
	admin map[string]func(net.Conn) // box identities, stable across steps
}

func (a applianceWalk) pair(primary, secondary apBox) func(stepEnv) []exporterRun {
	return func(e stepEnv) []exporterRun {
		doc := struct {
			Nodes []apScreen `json:"nodes"`
		}{Nodes: []apScreen{}}
		for _, b := range []struct {
			name, addr string
			box        apBox
		}{{"primary", awPrimary, primary}, {"secondary", awSecondary, secondary}} {
			if !b.box.on {
				continue
			}
			listen(e.t, fmt.Sprintf("%s:%d", b.addr, apAdminPort), a.admin[b.name])
			if b.box.mail {
				commonIP(e.t, b.addr)
			}
			if b.box.holds {
				listen(e.t, fmt.Sprintf("%s:%d", awVIP, apAdminPort), a.admin[b.name])
				if b.box.mail {
					commonIP(e.t, awVIP)
				}
			}
			if b.box.screen != nil {
				s := *b.box.screen
				s.Node = b.name
				doc.Nodes = append(doc.Nodes, s)
			}
		}
		out, err := json.Marshal(doc)
		if err != nil {
			e.t.Fatal(err)
		}
		adapter := e.file("activemonitor.json", string(out)+"\n", e.At)
		vipHolder := fmt.Sprintf("      - type: vip_holder\n        vip_holder: {method: tls, port: %d}\n", apAdminPort)
		cfg := redmailConfig(awVIP, awPrimary, awSecondary, vipHolder, catArgv(adapter))
		return []exporterRun{{Instance: "monitor:9912", Config: cfg}}
	}
}

// screens of the Active Monitor (冗長化構成の状態).
func screen(redundancy, peer bool, sync, version string) *apScreen {
	return &apScreen{RedundancyEnabled: redundancy, PeerUp: peer, SyncState: sync, Version: version}
}

func TestWalkAppliancePair(t *testing.T) {
	a := applianceWalk{admin: map[string]func(net.Conn){"primary": testmail.TLSBox(t, "primary.nsk.dom"), "secondary": testmail.TLSBox(t, "secondary.nsk.dom")}}
	off := apBox{}
	// alone: a box up with redundancy off (it does not take the common IP).
	alone := func(version string) apBox {
		return apBox{on: true, screen: screen(false, false, "disabled", version)}
	}
	healthyOpen := []string{"versions_match", "redundancy_enabled", "roles_restored", "sync_complete",
		"early_start_ok", "services_running", "restart_flag_clear"}
	activeOld := apBox{on: true, mail: true, holds: true, screen: screen(true, true, "synced", awOld)}
	standbyOld := apBox{on: true, screen: screen(true, true, "synced", awOld)}

	w := walk{
		Name: "appliance-pair", Title: "NetSHAKER Red-Mail system update (appliance pair)", Cluster: "redmail",
		Seed: "Seed 000, STEP1–5: redundancy is switched off and **both** boxes are updated while mail is stopped; " +
			"each box is updated and re-enabled while the other is off; the active box is booted first (3-7), the " +
			"standby second (3-8); services start after the sync completes (STEP4) or, by the seed's (*2), while it " +
			"still runs if syncing is the only thing not normal. Roles come from the common IP's holder (the admin " +
			"screen's certificate seen through it), so they stay known while SMTP/POP are off; a box switched off keeps " +
			"its last-known version, so `versions_match` can open while the other box is off.",
		Steps: []step{
			{ID: "0", Box: "—", Action: "open the update window", Setup: a.pair(activeOld, standbyOld),
				Open: healthyOpen, Status: 1, Redund: 1, Note: "healthy pair"},
			{ID: "STEP1-1", Box: "active", Action: "SMTP/POP service: stop",
				Setup:  a.pair(apBox{on: true, holds: true, screen: activeOld.screen}, standbyOld),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok", "restart_flag_clear"},
				Status: 0, Redund: 1, Note: "roles still known: primary holds the common IP; mail stopped on purpose (gray)"},
			{ID: "STEP1-2", Box: "standby", Action: "shut down", Unlock: "services_stopped",
				Setup:  a.pair(apBox{on: true, holds: true, screen: screen(true, false, "out_of_sync", awOld)}, off),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled"},
				Status: 3, Redund: 3, Note: "standby offline: peer down (red, expected in the window)"},
			{ID: "STEP1-3", Box: "active", Action: "redundancy: disable; reboot", Unlock: "services_stopped",
				Setup:  a.pair(alone(awOld), off),
				Open:   []string{"services_stopped", "redundancy_disabled", "versions_match"},
				Status: 0, Redund: 0, Note: "redundancy off on purpose: gray"},
			{ID: "STEP1-4", Box: "active", Action: "system update", Unlock: "redundancy_disabled",
				Setup:  a.pair(alone(awNew), off),
				Open:   []string{"services_stopped", "redundancy_disabled"},
				Status: 0, Redund: 0, Note: "the standby's last-known version is the old one"},
			{ID: "STEP1-5", Box: "active", Action: "shut down", Setup: a.pair(off, off),
				Open:   []string{"services_stopped"},
				Status: 3, Redund: 3, Note: "both off: nothing reports"},
			{ID: "STEP2-1…2-2", Box: "standby", Action: "LAN1 unplugged; boot (active, direct PC); redundancy: disable; reboot",
				Setup: a.pair(off, off), Open: []string{"services_stopped"},
				Status: 3, Redund: 3, Note: "invisible to the exporter (LAN1 unplugged)"},
			{ID: "STEP2-3", Box: "standby", Action: "SMTP/POP stopped (check); LAN1 cable back",
				Setup: a.pair(off, alone(awOld)), Open: []string{"services_stopped", "redundancy_disabled"},
				Status: 0, Redund: 0, Note: "the standby reports redundancy off"},
			{ID: "STEP2-4", Box: "standby", Action: "system update", Unlock: "redundancy_disabled",
				Setup:  a.pair(off, alone(awNew)),
				Open:   []string{"services_stopped", "redundancy_disabled", "versions_match"},
				Status: 0, Redund: 0, Note: "both boxes on the new version (the active's is last-known)"},
			{ID: "STEP2-5", Box: "standby", Action: "shut down", Setup: a.pair(off, off),
				Open:   []string{"services_stopped", "versions_match"},
				Status: 3, Redund: 3, Note: "both off"},
			{ID: "STEP3-1", Box: "active", Action: "boot", Setup: a.pair(alone(awNew), off),
				Open:   []string{"services_stopped", "redundancy_disabled", "versions_match"},
				Status: 0, Redund: 0, Note: ""},
			{ID: "STEP3-2", Box: "active", Action: "redundancy: enable", Unlock: "versions_match",
				Setup:  a.pair(apBox{on: true, screen: screen(true, false, "out_of_sync", awNew)}, off),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled"},
				Status: 3, Redund: 3, Note: "takes effect at the next boot"},
			{ID: "STEP3-3…3-6", Box: "both", Action: "active: shut down; standby: boot, redundancy: enable, shut down", Unlock: "versions_match",
				Setup: a.pair(off, off), Open: []string{"services_stopped", "versions_match"},
				Status: 3, Redund: 3, Note: "each box re-enabled alone"},
			{ID: "STEP3-7", Box: "active", Action: "boot; 稼働状態 アクティブ", Unlock: "redundancy_enabled",
				Setup:  a.pair(apBox{on: true, holds: true, screen: screen(true, false, "out_of_sync", awNew)}, off),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled"},
				Status: 3, Redund: 3, Note: "primary holds the common IP: active"},
			{ID: "STEP3-8", Box: "standby", Action: "boot; 稼働状態 スタンバイ", Unlock: "redundancy_enabled",
				Setup: a.pair(apBox{on: true, holds: true, screen: screen(true, true, "syncing", awNew)},
					apBox{on: true, screen: screen(true, true, "syncing", awNew)}),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "roles_restored", "early_start_ok"},
				Status: 2, Redund: 2, Note: "roles right, only the sync is yellow: (*2) early start allowed"},
			{ID: "STEP4-1", Box: "active", Action: "wait for 同期が完了しました", Unlock: "roles_restored",
				Setup: a.pair(apBox{on: true, holds: true, screen: screen(true, true, "synced", awNew)},
					apBox{on: true, screen: screen(true, true, "synced", awNew)}),
				Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok", "restart_flag_clear"},
				Status: 0, Redund: 1, Note: "synced; mail still stopped on purpose (gray)"},
			{ID: "STEP5-1", Box: "active", Action: "SMTP/POP service: start", Unlock: "sync_complete",
				Setup: a.pair(apBox{on: true, mail: true, holds: true, screen: screen(true, true, "synced", awNew)},
					apBox{on: true, screen: screen(true, true, "synced", awNew)}),
				Open: healthyOpen, Status: 1, Redund: 1, Note: "close the window"},
		},
		Wrong: []branch{
			{Name: "(*2) early start: SMTP/POP on while the sync runs (allowed, with its caveats)", From: 15, Steps: []step{
				{ID: "STEP5-1 (*2)", Box: "active", Action: "SMTP/POP service: start before 同期が完了しました", Unlock: "early_start_ok",
					Setup: a.pair(apBox{on: true, mail: true, holds: true, screen: screen(true, true, "syncing", awNew)},
						apBox{on: true, screen: screen(true, true, "syncing", awNew)}),
					Open:   []string{"versions_match", "redundancy_enabled", "roles_restored", "early_start_ok", "services_running"},
					Alerts: []string{"MailclusterServicesStartedBeforeSyncComplete"},
					Status: 2, Redund: 2, Note: "allowed: no automatic failover until the sync completes; watch CPU (the warning says so)"},
			}},
			{Name: "the standby was never updated (STEP2 skipped)", From: 6, Steps: []step{
				{ID: "STEP3-1…3-6", Box: "both", Action: "re-enable redundancy on each box alone",
					Setup: a.pair(off, off), Open: []string{"services_stopped"},
					Status: 3, Redund: 3, Note: "versions_match stays shut: the standby's last-known version is old"},
				{ID: "STEP3-7/3-8", Box: "both", Action: "boot the active, then the standby",
					Setup: a.pair(apBox{on: true, holds: true, screen: screen(true, true, "syncing", awNew)},
						apBox{on: true, screen: screen(true, true, "syncing", awOld)}),
					Open:   []string{"services_stopped", "redundancy_enabled", "roles_restored"},
					Alerts: []string{"MailclusterRedundancyEnabledWithVersionSkew"},
					Status: 3, Redund: 3, Note: "different versions sync: red and alert"},
			}},
			{Name: "the old standby booted first (STEP3-7 on the wrong box)", From: 13, Steps: []step{
				{ID: "STEP3-7'", Box: "standby", Action: "boot the standby first",
					Setup:  a.pair(off, apBox{on: true, holds: true, screen: screen(true, false, "out_of_sync", awNew)}),
					Open:   []string{"services_stopped", "versions_match", "redundancy_enabled"},
					Status: 3, Redund: 3, Note: "the secondary takes the common IP"},
				{ID: "STEP3-8'", Box: "active", Action: "boot the primary",
					Setup: a.pair(apBox{on: true, screen: screen(true, true, "syncing", awNew)},
						apBox{on: true, holds: true, screen: screen(true, true, "syncing", awNew)}),
					Open:   []string{"services_stopped", "versions_match", "redundancy_enabled", "early_start_ok"},
					Alerts: []string{"MailclusterSyncFromNonPreferredNode"},
					Status: 2, Redund: 2, Note: "the sync runs from the secondary: roles_restored stays shut and the alert says so"},
			}},
		},
	}
	w.checkWrongTurns(t)
	w.run(t)
}
