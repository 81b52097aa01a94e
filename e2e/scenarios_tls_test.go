//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Real mail servers as they ship: Postfix and Dovecot offer STARTTLS with a
// certificate of the test CA for mail.e2e.test; every exporter probes the
// nodes by IP address with tls_server_name mail.e2e.test and the test CA as
// ca_file (e2e/testbed/exporter-config.sh).

// tlsVerified is the worst verification any exporter saw for a service on node.
func tlsVerified(node, service string) string {
	return fmt.Sprintf(`min(mailcluster_service_tls_verified{cluster="e2e",node=%q,service=%q})`, node, service)
}

// 13. A self-signed certificate on node-a (what a stock Debian install
// presents): every service stays up, tls_verified 0, the services of node-a
// and of the virtual address (node-a serves it) are yellow and the wall tile
// is yellow, not red; no down alert. With the site certificate back:
// verified and green again.
func testTLSSelfSigned(t *testing.T) {
	mail := []string{"smtp", "imap", "pop3"}
	for _, svc := range mail {
		waitValue(t, "site certificate verified on node-a: "+svc, 15*time.Second, tlsVerified(nodeA, svc), 1)
		waitValue(t, "site certificate verified through the VIP: "+svc, 15*time.Second,
			fmt.Sprintf(`min(mailcluster_virtual_service_tls_verified{cluster="e2e",service=%q})`, svc), 1)
	}
	ops(t, "tls", "selfsigned", nodeA)
	t.Cleanup(func() { _ = opsTry("tls", "site", nodeA) })
	for _, svc := range mail {
		_, d := waitFor(t, "self-signed: tls_verified 0 on node-a: "+svc, 20*time.Second, tlsVerified(nodeA, svc), one(0))
		t.Logf("%s unverified after %s", svc, d.Round(100*time.Millisecond))
		waitValue(t, "self-signed: still up on node-a: "+svc, 5*time.Second,
			fmt.Sprintf(`min(mailcluster_service_up{cluster="e2e",node="node-a",service=%q})`, svc), 1)
		waitValue(t, "self-signed: yellow on node-a: "+svc, 15*time.Second, serviceStatus(nodeA, svc), 2)
		waitValue(t, "self-signed: yellow through the VIP: "+svc, 15*time.Second, virtualStatus(svc), 2)
	}
	waitValue(t, "wall tile yellow, not red", 15*time.Second, statusCode, 2)
	waitFor(t, "no failure reason on node-a", 5*time.Second,
		`mailcluster_service_probe_failure{cluster="e2e",node="node-a"}`, empty)
	waitFor(t, "no down alert", 5*time.Second,
		`ALERTS{cluster="e2e",alertname=~"MailclusterServiceDownOnServingNode|MailclusterVirtualServiceDown"}`, empty)

	ops(t, "tls", "site", nodeA)
	for _, svc := range mail {
		waitValue(t, "site certificate back: verified on node-a: "+svc, 20*time.Second, tlsVerified(nodeA, svc), 1)
	}
	waitValue(t, "green again", 30*time.Second, statusCode, 1)
}

// 14. A big queue: 20,000 messages to a remote domain, which the testbed
// never delivers (defer_transports), pile up in node-a's deferred queue. The
// postfix_queue source stays up and counts exactly 20,000 for 30 s. The
// scrape duration of node-a's exporter and each source's duration are
// measured (Prometheus' scrape_duration_seconds) and logged, not asserted.
// The queue is emptied afterwards.
func testBigQueue(t *testing.T) {
	const n = 20000
	addrA := "10.213.47.11"
	ops(t, "postsuper", nodeA, "-d", "ALL")
	t.Cleanup(func() { _ = opsTry("postsuper", nodeA, "-d", "ALL") })
	t0 := time.Now()
	if out, err := run(10*time.Minute, "", filepath.Join(testbedDir, "ops.sh"), "bulk", addrA, strconv.Itoa(n), "bulk@remote.invalid", "8"); err != nil {
		t.Fatalf("sending %d messages: %v (%s)", n, err, out)
	}
	t.Logf("%d messages accepted by node-a's Postfix in %s", n, time.Since(t0).Round(time.Second))
	deferred := `max(mailcluster_queue_messages{cluster="e2e",node="node-a",queue="deferred",exporter="node-a"})`
	_, d := waitFor(t, fmt.Sprintf("node-a's exporter counts %d deferred messages", n), 5*time.Minute, deferred, one(n))
	t.Logf("deferred = %d in Prometheus %s after the last message was accepted", n, d.Round(time.Second))
	waitValue(t, "postfix_queue source up on node-a", 10*time.Second,
		`mailcluster_source_up{cluster="e2e",node="node-a",source="postfix_queue",exporter="node-a"}`, 1)
	// every scrape of node-a's exporter for 30 s, the queue full all along
	time.Sleep(30 * time.Second)
	waitValue(t, "still exactly 20,000 after 30 s", 5*time.Second, deferred, n)
	waitValue(t, "postfix_queue source up at every scrape of the last 30 s", 5*time.Second,
		`min_over_time(mailcluster_source_up{cluster="e2e",node="node-a",source="postfix_queue",exporter="node-a"}[30s])`, 1)
	// Measured, not asserted (timing depends on the machine's load): the
	// slowest and the average scrape, and what each source took.
	for _, agg := range []string{"max", "avg"} {
		v := mustQuery(t, agg+`_over_time(scrape_duration_seconds{job="mailcluster",exporter="node-a"}[30s])`)
		if len(v) == 1 {
			t.Logf("%s scrape of node-a's exporter over 30 s with %d queued messages: %.3f s", agg, n, v[0].Value)
		}
	}
	if v := mustQuery(t, `min_over_time(`+deferred[len("max("):len(deferred)-1]+`[30s])`); len(v) == 1 {
		t.Logf("lowest deferred count of the last 30 s: %.0f (below %d only if a scrape's deadline cut postqueue short)", v[0].Value, n)
	}
	for _, s := range mustQuery(t, `max by(source)(max_over_time(mailcluster_source_duration_seconds{cluster="e2e",node="node-a",exporter="node-a"}[30s]))`) {
		t.Logf("  source %-14s slowest %.3f s", s.Metric["source"], s.Value)
	}
	ops(t, "postsuper", nodeA, "-d", "ALL")
	waitValue(t, "queue empty again", 30*time.Second, deferred, 0)
}

// 15. A long replicator status: as many extra users as the box allows
// (E2E_REPL_USERS, default 20,000) added to node-a's replicator; `doveadm -f
// json replicator status '*'` is then over the default max_output_bytes
// (1 MiB) that used to fail the source. The dovecot source of node-a's
// exporter stays up throughout. Undone by restarting
// Dovecot on both nodes with the replicator state cleared.
func testReplicatorUsers(t *testing.T) {
	users := 20000
	if s := os.Getenv("E2E_REPL_USERS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			users = n
		}
	}
	t.Cleanup(func() {
		if _, err := run(5*time.Minute, "", filepath.Join(testbedDir, "ops.sh"), "repl-users", "reset"); err != nil {
			t.Errorf("repl-users reset: %v", err)
		}
	})
	ops(t, "repl-users", nodeA, strconv.Itoa(users))
	out := ops(t, "doveadm", nodeA, "replicator", "status", "*")
	listed := strings.Count(out, "\n") // header + one line per user
	js := ops(t, "doveadm", nodeA, "-f", "json", "replicator", "status", "*")
	t.Logf("node-a's replicator lists %d users (%d bytes of text status, %d bytes of JSON, what the source reads)", listed, len(out), len(js))
	if listed < users {
		t.Errorf("replicator lists %d users, want at least %d", listed, users)
	}
	src := `mailcluster_source_up{cluster="e2e",node="node-a",source="dovecot",exporter="node-a"}`
	waitValue(t, "dovecot source up with the long status", 15*time.Second, src, 1)
	// and stays up while the replicator works through the new users
	time.Sleep(20 * time.Second)
	waitFor(t, "dovecot source never down in the last 20 s", 5*time.Second, "min_over_time("+src+"[20s])", one(1))
}
