//go:build e2e

package e2e

import (
	"os"
	"testing"
	"time"
)

// TestProcedureVersionSkew: different versions must never sync (DESIGN §5,
// seeds 000 and 003). On the keepalived testbed Dovecot's dsync replicates
// between the nodes whenever both run, so a node updated alone while dsync
// runs is a version skew with the sync path open: out_of_sync (red), and
// in a window MailclusterRedundancyEnabledWithVersionSkew, whatever
// keepalived's state. Once the other node runs the same version it clears.
// The blocked-sync and start-order cases (m-FILTER replica ports,
// master/slave) have no counterpart on this testbed; systems/walk_*_test.go
// walks them through the real collector and rules.
func TestProcedureVersionSkew(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the e2e scenarios need root (network namespaces); run them with e2e/run.sh or make e2e")
	}
	if _, err := query("up"); err != nil {
		t.Fatalf("Prometheus of the testbed does not answer (is the testbed up? e2e/testbed/up.sh): %v", err)
	}
	scenario(t, "skew_with_sync_open", testSkewWithSyncOpen)
}

func testSkewWithSyncOpen(t *testing.T) {
	// Outside a window: node-a updated alone, dsync still running.
	ops(t, "version", nodeA, "1.1.0")
	waitFor(t, "sync path open while versions differ", 20*time.Second,
		`mailcluster:version_skew:sync_open{cluster="e2e"} == 1`, nonEmpty)
	waitFor(t, "reason out_of_sync", 20*time.Second, reasons, reasonsInclude("out_of_sync"))
	waitValue(t, "redundancy red", 15*time.Second, redundancyCode, 3)
	waitValue(t, "versions_match shut", 15*time.Second, `mailcluster:update_gate:ok{cluster="e2e",gate="versions_match"}`, 0)
	waitValue(t, "sync_complete shut: a sync between versions is never complete", 15*time.Second,
		`mailcluster:update_gate:ok{cluster="e2e",gate="sync_complete"}`, 0)
	waitFor(t, "MailclusterVersionSkew pending (for: 30m)", 20*time.Second, alert("MailclusterVersionSkew", "pending"), nonEmpty)

	// In a window: the procedure alert takes over, no critical alert.
	window(t, "open", "--cluster=e2e", "--for=1h", "--reason=e2e version skew")
	t.Cleanup(func() {
		_, _ = run(20*time.Second, "", exporterBin, "window", "close", "--cluster=e2e",
			"--config.file="+clientCfg, "--windows.file="+windowsFile)
	})
	waitFor(t, "MailclusterRedundancyEnabledWithVersionSkew pending (for: 2m)", 20*time.Second,
		alert("MailclusterRedundancyEnabledWithVersionSkew", "pending"), nonEmpty)
	waitFor(t, "MailclusterVersionSkew gone in the window", 20*time.Second,
		`ALERTS{alertname="MailclusterVersionSkew",cluster="e2e"}`, empty)
	noCriticalFiring(t, "skew in a window")

	// node-b updated too: versions match, the sync may run.
	ops(t, "version", nodeB, "1.1.0")
	waitValue(t, "versions_match open", 20*time.Second, `mailcluster:update_gate:ok{cluster="e2e",gate="versions_match"}`, 1)
	waitFor(t, "MailclusterRedundancyEnabledWithVersionSkew gone", 20*time.Second,
		`ALERTS{alertname="MailclusterRedundancyEnabledWithVersionSkew",cluster="e2e"}`, empty)
	waitFor(t, "out_of_sync gone", 20*time.Second, reasons, empty)
	waitValue(t, "sync_complete open", 20*time.Second, `mailcluster:update_gate:ok{cluster="e2e",gate="sync_complete"}`, 1)
}
