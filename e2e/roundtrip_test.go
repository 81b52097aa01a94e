//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const (
	rtSuccess     = `mailcluster_roundtrip_success{cluster="e2e"}`
	rtReplication = `mailcluster_roundtrip_replication_seconds{cluster="e2e"}`
	rtRounds      = `mailcluster_roundtrip_rounds_total{cluster="e2e"}`
	rtSkipped     = `mailcluster_roundtrip_skipped_total{cluster="e2e"}`
)

// rtOn is a round-trip metric of one node.
func rtOn(metric, node string) string {
	return fmt.Sprintf(`mailcluster_roundtrip_%s{cluster="e2e",node=%q}`, metric, node)
}

// TestRoundTrip switches the agentless exporter's round trip on (ops.sh
// roundtrip on: every 10 s, a message through the VIP to rtprobe@e2e.test,
// looked for on both nodes' always-open IMAP monitor listener; max_lag 30s)
// and walks it through the testbed's faults:
//
//  1. steady: both nodes reached, replication within a few seconds, green;
//  2. node-b's replication blocked (ops.sh repl block): node-b's round trip
//     fails, and once its unseen message is older than max_lag the cluster
//     is red with reason out_of_sync; green again after unblocking;
//  3. node-b's sync link stalled (ops.sh repl stall): node-b's replication
//     seconds grow round after round, and the state is yellow (the dovecot
//     source says syncing: merely late);
//  4. the gated services stopped in an update window: no round trip is
//     started (skipped instead) and no critical alert fires;
//  5. sync_complete opens only after a round that started after the sync
//     state became synced again has reached both nodes.
func TestRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the e2e scenarios need root (network namespaces); run them with e2e/run.sh or make e2e")
	}
	if _, err := query("up"); err != nil {
		t.Fatalf("Prometheus of the testbed does not answer (is the testbed up? e2e/testbed/up.sh): %v", err)
	}
	ensureSteady(t)
	ops(t, "roundtrip", "on")
	t.Cleanup(func() {
		_ = opsTry("repl", "unblock", nodeB)
		_ = opsTry("roundtrip", "off")
	})
	scenario(t, "rt1_steady", testRoundTripSteady)
	scenario(t, "rt2_replication_blocked", testRoundTripBlocked)
	scenario(t, "rt3_replication_stalled", testRoundTripStalled)
	scenario(t, "rt4_window_services_stopped", testRoundTripWindow)
	scenario(t, "rt5_sync_complete_after_a_round", testRoundTripSyncComplete)
}

func bothReached(v Vector) bool {
	m := v.By("node")
	return len(v) == 2 && m[nodeA] == 1 && m[nodeB] == 1
}

func testRoundTripSteady(t *testing.T) {
	_, d := waitFor(t, "round trip reaches node-a and node-b", 60*time.Second, rtSuccess, bothReached)
	t.Logf("both nodes reached after %s", d.Round(100*time.Millisecond))
	v := mustQuery(t, rtReplication)
	if len(v) != 2 {
		t.Fatalf("replication seconds: %s, want node-a and node-b", v)
	}
	for _, s := range v {
		if s.Value <= 0 || s.Value > 5 {
			t.Errorf("replication seconds on %s = %.2f, want (0, 5]", s.Metric["node"], s.Value)
		}
	}
	t.Logf("replication seconds: %s; delivery: %s", v, mustQuery(t, `mailcluster_roundtrip_delivery_seconds{cluster="e2e"}`))
	// every round deletes its messages: at most the one of a round in flight is left
	for _, n := range []string{nodeA, nodeB} {
		out := ops(t, "doveadm", n, "search", "-u", "rtprobe", "mailbox", "INBOX", "ALL")
		if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; strings.TrimSpace(out) != "" && lines > 2 {
			t.Errorf("%s: %d probe messages in the probe mailbox, want at most 2 (rounds delete their own):\n%s", n, lines, out)
		}
	}
	waitValue(t, "green", 30*time.Second, statusCode, 1)
	waitValue(t, "smtp green through the VIP (delivery below slow_threshold)", 10*time.Second, virtualStatus("smtp"), 1)
	waitFor(t, "sync_complete open (a round reached both nodes after synced)", 30*time.Second,
		`mailcluster:update_gate:ok{cluster="e2e",gate="sync_complete"}`, one(1))
	// the cluster detail dashboard's round-trip panels show it
	panels := 0
	for _, q := range dashboardQueries(t) {
		if q.Kind != "panel" || !strings.HasPrefix(q.Panel, "Round trip") {
			continue
		}
		panels++
		if v, err := query(q.Expr); err != nil || len(v) == 0 {
			t.Errorf("dashboard panel %q: no data (%v)\n  expr: %s", q.Panel, err, q.Expr)
		}
	}
	if panels < 2 {
		t.Errorf("%d round-trip panel queries in the dashboards, want the delivery/replication and nodes-reached panels", panels)
	}
}

func testRoundTripBlocked(t *testing.T) {
	waitFor(t, "round trip reaches both nodes first", 60*time.Second, rtSuccess, bothReached)
	ops(t, "repl", "block", nodeB)
	t.Cleanup(func() { _ = opsTry("repl", "unblock", nodeB) })
	t0 := time.Now()
	waitFor(t, "node-b's round trip fails", 60*time.Second, rtSuccess+` == 0`,
		func(v Vector) bool { return len(v) == 1 && v[0].Metric["node"] == nodeB })
	waitValue(t, "node-a still reached", 5*time.Second, rtOn("success", nodeA), 1)
	t.Logf("node-b not reached after %s", time.Since(t0).Round(100*time.Millisecond))
	_, d := waitFor(t, "reason out_of_sync (node-b behind longer than max_lag)", 120*time.Second, reasons, reasonsInclude("out_of_sync"))
	t.Logf("out_of_sync %s later (%s after blocking)", d.Round(100*time.Millisecond), time.Since(t0).Round(time.Second))
	// The dovecot source may say out_of_sync first (a failed dsync); the round trip's own
	// evidence follows once node-b's oldest unseen message is older than max_lag (30s):
	// rounds of 20s (the timeout) every 10s, so within two or three rounds.
	_, d = waitFor(t, "node-b behind in the rules (round trip evidence)", 90*time.Second,
		`mailcluster:roundtrip_node_behind:bool{cluster="e2e",node="node-b"}`, one(1))
	t.Logf("round trip: node-b behind %s later (%s after blocking)", d.Round(100*time.Millisecond), time.Since(t0).Round(time.Second))
	waitValue(t, "cluster red", 15*time.Second, statusCode, 3)

	ops(t, "repl", "unblock", nodeB)
	ops(t, "replicate", nodeA)
	t1 := time.Now()
	waitFor(t, "round trip reaches node-b again", 90*time.Second, rtSuccess, bothReached)
	waitFor(t, "out_of_sync gone", 30*time.Second, reasons, empty)
	waitValue(t, "green after unblocking", 30*time.Second, statusCode, 1)
	t.Logf("green %s after unblocking", time.Since(t1).Round(100*time.Millisecond))
}

func testRoundTripStalled(t *testing.T) {
	waitFor(t, "round trip reaches both nodes first", 60*time.Second, rtSuccess, bothReached)
	ops(t, "repl", "stall", nodeB)
	t.Cleanup(func() { _ = opsTry("repl", "unblock", nodeB) })
	waitFor(t, "node-b's round trip late", 60*time.Second, rtOn("success", nodeB)+` == 0`, nonEmpty)
	first := mustQuery(t, rtOn("replication_seconds", nodeB))
	if len(first) != 1 {
		t.Fatalf("node-b replication seconds: %s", first)
	}
	grown, _ := waitFor(t, "node-b's replication seconds grow round after round", 60*time.Second,
		rtOn("replication_seconds", nodeB), func(v Vector) bool { return len(v) == 1 && v[0].Value > first[0].Value+5 })
	t.Logf("node-b replication seconds %.1f → %.1f", first[0].Value, grown[0].Value)
	_, d := waitFor(t, "only reason syncing (late while the sync source says syncing)", 60*time.Second, reasons, reasonsAre("syncing"))
	t.Logf("syncing after %s", d.Round(100*time.Millisecond))
	waitValue(t, "cluster yellow", 15*time.Second, statusCode, 2)
	noCriticalFiring(t, "stalled")

	ops(t, "repl", "unblock", nodeB)
	waitFor(t, "round trip reaches node-b again", 90*time.Second, rtSuccess, bothReached)
	waitValue(t, "green after the stall", 60*time.Second, statusCode, 1)
}

func testRoundTripWindow(t *testing.T) {
	waitFor(t, "round trip reaches both nodes first", 60*time.Second, rtSuccess, bothReached)
	window(t, "open", "--cluster=e2e", "--for=30m", "--reason=e2e round trip in a window")
	t.Cleanup(func() {
		_, _ = run(20*time.Second, "", exporterBin, "window", "close", "--cluster=e2e",
			"--config.file="+clientCfg, "--windows.file="+windowsFile)
		_ = opsTry("maint", "off", nodeA)
		_ = opsTry("maint", "off", nodeB)
		_ = opsTry("converge", nodeA)
	})
	waitFor(t, "window open on every exporter", 15*time.Second, `mailcluster_update_window_open{cluster="e2e"} == 1`,
		func(v Vector) bool { return len(v) == 3 })
	ops(t, "maint", "on", nodeA)
	ops(t, "maint", "on", nodeB)
	ops(t, "services", "stop", nodeA)
	waitValue(t, "smtp down through the VIP (every exporter)", 20*time.Second, `max(mailcluster_virtual_service_up{cluster="e2e",service="smtp"})`, 0)
	// A round may still be running from before the stop: wait for the first skip, then watch.
	skips0 := mustQuery(t, rtSkipped)
	if len(skips0) != 1 {
		t.Fatalf("skipped_total: %s", skips0)
	}
	waitFor(t, "a due round skipped", 40*time.Second, rtSkipped, func(v Vector) bool { return len(v) == 1 && v[0].Value > skips0[0].Value })
	rounds := mustQuery(t, rtRounds)
	if len(rounds) != 1 {
		t.Fatalf("rounds_total: %s", rounds)
	}
	time.Sleep(35 * time.Second) // three round intervals
	after := mustQuery(t, rtRounds)
	if len(after) != 1 || after[0].Value != rounds[0].Value {
		t.Errorf("rounds started while the services were stopped in the window: %s → %s", rounds, after)
	}
	waitFor(t, "more rounds skipped", 10*time.Second, rtSkipped, func(v Vector) bool { return len(v) == 1 && v[0].Value >= skips0[0].Value+2 })
	noCriticalFiring(t, "services stopped in the window")
	waitFor(t, "no out_of_sync from the round trip", 5*time.Second, reasons, func(v Vector) bool { return !reasonsInclude("out_of_sync")(v) })

	ops(t, "services", "start", nodeA)
	waitFor(t, "rounds run again once the services are up", 40*time.Second, rtRounds,
		func(v Vector) bool { return len(v) == 1 && v[0].Value > after[0].Value })
	waitFor(t, "round trip reaches both nodes after the window", 60*time.Second, rtSuccess, bothReached)
}

func testRoundTripSyncComplete(t *testing.T) {
	const gate = `mailcluster:update_gate:ok{cluster="e2e",gate="sync_complete"}`
	waitFor(t, "round trip reaches both nodes first", 60*time.Second, rtSuccess, bothReached)
	ops(t, "repl", "stall", nodeB)
	t.Cleanup(func() { _ = opsTry("repl", "unblock", nodeB) })
	ops(t, "deliver", vip)
	time.Sleep(time.Second)
	ops(t, "deliver", vip)
	waitValue(t, "sync_complete closed while syncing", 60*time.Second, gate, 0)
	unblocked := time.Now()
	ops(t, "repl", "unblock", nodeB)
	_, d := waitFor(t, "sync_complete open again", 90*time.Second, gate, one(1))
	t.Logf("sync_complete open %s after unblocking", d.Round(100*time.Millisecond))
	since := mustQuery(t, `mailcluster:sync_complete:since_timestamp{cluster="e2e"}`)
	if len(since) != 1 || since[0].Value < float64(unblocked.Unix())-1 {
		t.Fatalf("since_timestamp %s: want the time the sync state became synced again, after %d", since, unblocked.Unix())
	}
	// the round that opened it was submitted after that, and reached both nodes
	reached := mustQuery(t, `max by(node)(mailcluster_roundtrip_last_success_timestamp_seconds{cluster="e2e"}) >= scalar(mailcluster:sync_complete:since_timestamp{cluster="e2e"})`)
	if len(reached) != 2 {
		t.Errorf("nodes reached by a round submitted after since_timestamp %s: %s, want node-a and node-b", since, reached)
	}
}
