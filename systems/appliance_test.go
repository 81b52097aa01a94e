package systems_test

import (
	"fmt"
	"testing"
)

// Appliance pair with an Active Monitor (NetSHAKER Red-Mail style, seed
// 000): active/standby behind a common IP, a dedicated data-sync link, no
// agent on the boxes. Roles are inferred from the outside by the `service`
// source: the appliance whose own address answers SMTP is active, one that
// only answers the admin port (liveness) is standby, one that answers
// nothing is offline. What only the appliance's screen shows (redundancy
// on/off, peer, sync state, version) comes from a command adapter printing
// the JSON contract (DESIGN §4); the transcriptions in testdata/ are what
// such an adapter prints for each Active Monitor state.

const (
	apVIP, apPrimary, apSecondary = "127.0.0.50", "127.0.0.51", "127.0.0.52"
	apSMTPPort, apPOPPort         = 25025, 25110
	apAdminPort                   = 24444 // the admin screen (liveness)
)

func applianceConfig(t *testing.T, adapterOutput string) string {
	return applianceConfigArgv(stripArgv(abs(t, "testdata/"+adapterOutput)))
}

// applianceConfigArgv is the configuration with the adapter's argv (YAML).
func applianceConfigArgv(adapterArgv string) string {
	return redmailConfig(apVIP, apPrimary, apSecondary, "", adapterArgv)
}

// redmailConfig is the exporter configuration for an appliance pair at
// the given addresses behind the common IP vip: roles from the service
// source (after any extraSources, whole YAML list items), the Active
// Monitor screen from the command adapter with the given argv (YAML).
func redmailConfig(vip, primary, secondary, extraSources, adapterArgv string) string {
	return fmt.Sprintf(`
global:
  probe_timeout: 2s
clusters:
  - name: redmail
    kind: active_standby
    virtual_address: %s
    preferred_active: primary
    nodes:
      - {name: primary, address: %s, priority: 1}
      - {name: secondary, address: %s, priority: 2}
    services:
      - {name: smtp, protocol: smtp, port: %d, gated: true}
      - {name: pop3, protocol: pop3, port: %d, gated: true}
    liveness:
      - {name: admin, protocol: tcp, port: %d}
    sources:
%s      - type: service
        service: {primary_service: smtp}
      - type: command
        name: activemonitor
        command:
          argv: %s
`, vip, primary, secondary, apSMTPPort, apPOPPort, apAdminPort, extraSources, adapterArgv)
}

// appliance starts one box: its admin port when powered on, and SMTP/POP
// when its mail services run.
func appliance(t *testing.T, addr string, mail bool) {
	t.Helper()
	listen(t, fmt.Sprintf("%s:%d", addr, apAdminPort), fakeTCP)
	if mail {
		commonIP(t, addr)
	}
}

// commonIP makes SMTP/POP answer on addr (the active box, or the common IP
// it holds).
func commonIP(t *testing.T, addr string) {
	t.Helper()
	listen(t, fmt.Sprintf("%s:%d", addr, apSMTPPort), fakeSMTP)
	listen(t, fmt.Sprintf("%s:%d", addr, apPOPPort), fakePOP3)
}

func TestAppliancePair(t *testing.T) {
	run := func(t *testing.T, adapter string, window bool) exporterRun {
		return exporterRun{Instance: "monitor:9912", Config: applianceConfig(t, adapter), Window: window}
	}
	roles := func(primary, secondary string) check {
		return check{
			Expr: `mailcluster:node_role:resolved{cluster="redmail"} == 1`,
			Want: []wantSample{
				{Labels: fmt.Sprintf(`mailcluster:node_role:resolved{cluster="redmail",node="primary",role=%q}`, primary), Value: 1},
				{Labels: fmt.Sprintf(`mailcluster:node_role:resolved{cluster="redmail",node="secondary",role=%q}`, secondary), Value: 1},
			}}
	}

	// Healthy: primary serves mail on its own address and the common IP,
	// secondary answers only its admin port; Active Monitor green
	// (同期が完了しました) on both.
	t.Run("healthy", func(t *testing.T) {
		appliance(t, apPrimary, true)
		appliance(t, apSecondary, false)
		commonIP(t, apVIP)
		scenario(t, expectation{
			Cluster: "redmail", Status: 1, Redundancy: 1,
			Gates: gates("versions_match", "redundancy_enabled", "roles_restored", "sync_complete",
				"early_start_ok", "services_running", "restart_flag_clear"),
			Extra: []check{roles("active", "standby")},
		}, run(t, "activemonitor-synced.txt", false))
	})

	// Failed over: the secondary took the common IP and serves; the
	// primary came back as standby and is in sync again. Green; gate
	// roles_restored is 0 until the pair is switched back.
	t.Run("failed-over", func(t *testing.T) {
		appliance(t, apPrimary, false)
		appliance(t, apSecondary, true)
		commonIP(t, apVIP)
		scenario(t, expectation{
			Cluster: "redmail", Status: 1, Redundancy: 1,
			Gates: gates("versions_match", "redundancy_enabled", "sync_complete",
				"early_start_ok", "services_running", "restart_flag_clear"),
			Extra: []check{roles("standby", "active")},
		}, run(t, "activemonitor-synced.txt", false))
	})

	// Data not in sync (Active Monitor red): red, out_of_sync.
	t.Run("out-of-sync", func(t *testing.T) {
		appliance(t, apPrimary, true)
		appliance(t, apSecondary, false)
		commonIP(t, apVIP)
		scenario(t, expectation{
			Cluster: "redmail", Status: 3, Redundancy: 3, Reasons: []string{"out_of_sync"},
			Gates: gates("versions_match", "redundancy_enabled", "roles_restored", "services_running"),
		}, run(t, "activemonitor-out-of-sync.txt", false))
	})

	// Standby powered off outside a window: nothing answers on the
	// secondary (offline); the adapter reads only the primary, whose
	// screen shows the peer down and the data no longer in sync: red,
	// peer_down and out_of_sync.
	t.Run("standby-down", func(t *testing.T) {
		appliance(t, apPrimary, true)
		commonIP(t, apVIP)
		scenario(t, expectation{
			Cluster: "redmail", Status: 3, Redundancy: 3, Reasons: []string{"out_of_sync", "peer_down"},
			Gates: gates("redundancy_enabled", "services_running"),
			Extra: []check{roles("active", "offline")},
		}, run(t, "activemonitor-peer-down.txt", false))
	})

	// STEP4/5 with the early start the procedure allows: sync still
	// running (Active Monitor yellow) and SMTP/POP already started.
	// Yellow; sync_complete 0, early_start_ok 1 (syncing is the only
	// reason), services_running 1.
	t.Run("update-step4-syncing-early-start", func(t *testing.T) {
		appliance(t, apPrimary, true)
		appliance(t, apSecondary, false)
		commonIP(t, apVIP)
		scenario(t, expectation{
			Cluster: "redmail", Status: 2, Redundancy: 2, Reasons: []string{"syncing"},
			Gates: gates("versions_match", "redundancy_enabled", "roles_restored",
				"early_start_ok", "services_running"),
		}, run(t, "activemonitor-syncing.txt", true))
	})

	// STEP1-3: SMTP/POP stopped on the active (STEP1-1), the standby shut
	// down (STEP1-2), redundancy disabled on the active (STEP1-3); window
	// open. Gates 1 and 2 are open: apply the update (STEP1-4). The
	// active, alive but not serving, reads standby to the agentless
	// source; the standby is offline. Redundancy gray (disabled wins);
	// the gated services stopped during the open window do not count as
	// an outage on the tile (rules/README.md), so the tile is gray too.
	t.Run("update-step1-redundancy-disabled", func(t *testing.T) {
		appliance(t, apPrimary, false)
		scenario(t, expectation{
			Cluster: "redmail", Status: 0, Redundancy: 0, Reasons: []string{"disabled", "no_active", "peer_down"},
			Gates: gates("services_stopped", "redundancy_disabled"),
			Extra: []check{roles("standby", "offline")},
		}, run(t, "activemonitor-step1-redundancy-disabled.txt", true))
	})
}
