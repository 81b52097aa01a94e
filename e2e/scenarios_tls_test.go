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
// postfix_queue source stays up and counts exactly 20,000; the scrape of
// node-a's exporter stays under 2 s (measured by Prometheus:
// scrape_duration_seconds). The queue is emptied afterwards.
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
	// every scrape of node-a's exporter in the last 30 s, the queue full all along
	time.Sleep(30 * time.Second)
	waitValue(t, "still exactly 20,000 after 30 s", 5*time.Second, deferred, n)
	v := mustQuery(t, `max_over_time(scrape_duration_seconds{job="mailcluster",exporter="node-a"}[30s])`)
	if len(v) != 1 {
		t.Fatalf("scrape_duration_seconds of node-a: %s", v)
	}
	t.Logf("slowest scrape of node-a's exporter with %d queued messages: %.3f s", n, v[0].Value)
	if v[0].Value >= 2 {
		t.Errorf("a scrape of node-a took %.3f s with %d queued messages, want under 2 s", v[0].Value, n)
	}
	ops(t, "postsuper", nodeA, "-d", "ALL")
	waitValue(t, "queue empty again", 30*time.Second, deferred, 0)
}

// 15. A long replicator status: as many extra users as the box allows
// (E2E_REPL_USERS, default 5,000) added to node-a's replicator; `doveadm -f
// json replicator status '*'` is then far over max_output_bytes. The dovecot
// source of node-a's exporter stays up throughout. Undone by restarting
// Dovecot on both nodes with the replicator state cleared.
func testReplicatorUsers(t *testing.T) {
	users := 5000
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
	t.Logf("node-a's replicator lists %d users (%d bytes of text status)", listed, len(out))
	if listed < users {
		t.Errorf("replicator lists %d users, want at least %d", listed, users)
	}
	src := `mailcluster_source_up{cluster="e2e",node="node-a",source="dovecot",exporter="node-a"}`
	waitValue(t, "dovecot source up with the long status", 15*time.Second, src, 1)
	// and stays up while the replicator works through the new users
	time.Sleep(20 * time.Second)
	waitFor(t, "dovecot source never down in the last 20 s", 5*time.Second, "min_over_time("+src+"[20s])", one(1))
}
