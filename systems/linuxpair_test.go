package systems_test

// The Linux pair of examples/keepalived-postfix-dovecot.yml and the e2e
// testbed, deployed as it runs in production: one exporter on each node
// (--cluster.node) with its local sources, plus one agentless exporter
// that only probes. The inputs are the testbed's captured tool outputs
// (e2e/captured, read in place; keepalived dumps with the testbed's
// addresses mapped to loopback ones), the notify script's state-file line,
// a process named keepalived for pid_file, and loopback mail servers.
// Faults are injected only through those inputs.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Loopback addresses standing in for the testbed's (e2e/testbed/lib.sh).
const (
	lpA       = "127.0.0.71" // node-a 10.213.47.11
	lpB       = "127.0.0.72" // node-b 10.213.47.12
	lpVIP     = "127.0.0.70" // VIP 10.213.47.10
	lpSyncA   = "127.0.1.71" // node-a's sync link 10.213.48.11
	lpSyncB   = "127.0.1.72" // node-b's sync link 10.213.48.12
	lpNowhere = "127.0.0.79" // nothing listens here: a route that goes nowhere
	// lpVIPHere is a virtual address that is on a local interface of every
	// exporter of the test (lo): the VIP left on both nodes.
	lpVIPHere = "127.0.0.1"

	lpSMTP    = 27025
	lpIMAP    = 27143
	lpPOP3    = 27110
	lpDoveadm = 27345 // Dovecot's replication listener: liveness and peer_tcp
)

// testbedAddrs maps the testbed's addresses in the captures to ours.
var testbedAddrs = strings.NewReplacer(
	"10.213.47.10", lpVIP, "10.213.47.11", lpA, "10.213.47.12", lpB,
	"10.213.48.11", lpSyncA, "10.213.48.12", lpSyncB)

var lpNodes = []string{"node-a", "node-b"}

func lpAddr(node string) string {
	if node == "node-a" {
		return lpA
	}
	return lpB
}

func lpSync(node string) string {
	if node == "node-a" {
		return lpSyncA
	}
	return lpSyncB
}

// captured is the absolute path of a file in e2e/captured.
func captured(t *testing.T, rel string) string {
	return abs(t, filepath.Join("../e2e/captured", rel))
}

// linuxPair is one deployment of the pair. Fields describe the inputs of
// the current phase; Start functions set them and call exporters.
type linuxPair struct {
	VIP       string            // the cluster's virtual address
	Window    bool              // an update window is open
	Keepalive map[string]string // node → state-file state: MASTER, BACKUP, STOP
	Running   map[string]bool   // node → keepalived runs (pid_file)
	Dump      map[string]string // node → captured DATA dump (keepalived/<name>.keepalived.data), "" none
	Dovecot   map[string]string // node → capture prefix, e.g. "node-a.steady"
	// Unreachable lists nodes the agentless exporter cannot reach (its
	// probes of them go to an address nothing listens on).
	Unreachable map[string]bool
}

func steadyPair() *linuxPair {
	return &linuxPair{
		VIP:       lpVIP,
		Keepalive: map[string]string{"node-a": "MASTER", "node-b": "BACKUP"},
		Running:   map[string]bool{"node-a": true, "node-b": true},
		Dump:      map[string]string{"node-a": "node-a.steady", "node-b": "node-b.steady"},
		Dovecot:   map[string]string{"node-a": "node-a.steady", "node-b": "node-b.steady"},
	}
}

// mail serves the named services on addr for the phase: "smtp", "imap",
// "pop3", "doveadm" (a bare TCP accept, as the replication listener).
func mail(t *testing.T, addr string, services ...string) {
	t.Helper()
	for _, s := range services {
		switch s {
		case "smtp":
			listen(t, fmt.Sprintf("%s:%d", addr, lpSMTP), fakeSMTP)
		case "imap":
			listen(t, fmt.Sprintf("%s:%d", addr, lpIMAP), fakeIMAP)
		case "pop3":
			listen(t, fmt.Sprintf("%s:%d", addr, lpPOP3), fakePOP3)
		case "doveadm":
			listen(t, fmt.Sprintf("%s:%d", addr, lpDoveadm), fakeTCP)
		default:
			t.Fatalf("no fake server for %s", s)
		}
	}
}

// activeMail is node's mail as the testbed's notify script converges it on
// MASTER: every service on the node's address, replication on both links.
func activeMail(t *testing.T, node string) {
	mail(t, lpAddr(node), "smtp", "imap", "pop3", "doveadm")
	mail(t, lpSync(node), "doveadm")
}

// standbyMail is a BACKUP node: only Dovecot's replication listener.
func standbyMail(t *testing.T, node string) {
	mail(t, lpAddr(node), "doveadm")
	mail(t, lpSync(node), "doveadm")
}

// fakeKeepalived starts a process named keepalived (a copy of sleep) for
// the phase and returns its pid; crashed returns the pid of one that was
// killed with SIGKILL, as `kill -9` leaves it.
func fakeKeepalived(t *testing.T, dir string, crashed bool) int {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "keepalived")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if crashed {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		return pid
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return pid
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// nodeRun is the exporter on node, with the phase's inputs.
func (p *linuxPair) nodeRun(t *testing.T, node string) exporterRun {
	t.Helper()
	dir := filepath.Join(t.TempDir(), node)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	prio := map[string]int{"node-a": 150, "node-b": 100}[node]
	// The line keepalived-notify.sh writes: TYPE NAME STATE PRIORITY unix-time.
	state := writeFile(t, filepath.Join(dir, "keepalived.state"),
		fmt.Sprintf("INSTANCE VI_MAIL %s %d %d\n", p.Keepalive[node], prio, time.Now().Unix()))
	pid := fakeKeepalived(t, dir, !p.Running[node])
	pidFile := writeFile(t, filepath.Join(dir, "keepalived.pid"), strconv.Itoa(pid)+"\n")
	keepalived := fmt.Sprintf("          state_file: %s\n          pid_file: %s\n", state, pidFile)
	if d := p.Dump[node]; d != "" {
		raw, err := os.ReadFile(captured(t, "keepalived/"+d+".keepalived.data"))
		if err != nil {
			t.Fatal(err)
		}
		data := writeFile(t, filepath.Join(dir, "keepalived.data"), testbedAddrs.Replace(string(raw)))
		keepalived += fmt.Sprintf("          data_file: %s\n", data)
	}
	dv := "dovecot/" + p.Dovecot[node]
	version := writeFile(t, filepath.Join(dir, "version"), "3.7.11\n")
	sources := fmt.Sprintf(`
      - type: keepalived
        keepalived:
%s      - type: dovecot
        dovecot:
          command: {argv: %s}
          overview_command: {argv: %s}
          dsync_status_command: {argv: %s}
      - type: peer_tcp
        peer_tcp:
          ports: [%d]
          timeout: 1s
      - type: postfix_queue
        postfix_queue:
          command: {argv: %s}
      - type: version
        version:
          command: {argv: %s}
`, keepalived,
		catArgv(captured(t, dv+".replicator-status-all.json")),
		catArgv(captured(t, dv+".replicator-status.txt")),
		catArgv(captured(t, dv+".replicator-dsync-status.txt")),
		lpDoveadm,
		catArgv(captured(t, "postfix/node-a.steady.postqueue-j.json")),
		catArgv(version))
	return exporterRun{Instance: node + ":9912", Config: p.config(lpAddr, sources), Local: node, Window: p.Window}
}

// agentlessRun is the exporter on the monitoring host: probes only.
func (p *linuxPair) agentlessRun() exporterRun {
	addr := func(node string) string {
		if p.Unreachable[node] {
			return lpNowhere
		}
		return lpAddr(node)
	}
	sources := `
      - type: service
        service:
          primary_service: smtp
`
	return exporterRun{Instance: "monitor:9912", Config: p.config(addr, sources), Window: p.Window}
}

// config is the testbed's configuration (e2e/testbed/exporter-config.sh)
// with the given node addresses and sources.
func (p *linuxPair) config(addr func(string) string, sources string) string {
	var nodes strings.Builder
	for i, n := range lpNodes {
		fmt.Fprintf(&nodes, "      - name: %s\n        address: %s\n        priority: %d\n        sync_address: %s\n",
			n, addr(n), i+1, lpSync(n))
	}
	return fmt.Sprintf(`global:
  probe_timeout: 2s
  max_concurrency: 16
  helo_name: mailcluster-exporter.invalid
clusters:
  - name: e2e
    kind: active_standby
    virtual_address: %s
    preferred_active: node-a
    nodes:
%s    services:
      - {name: smtp, protocol: smtp, port: %d, tls: none, gated: true}
      - {name: imap, protocol: imap, port: %d, tls: none, gated: true}
      - {name: pop3, protocol: pop3, port: %d, tls: none, gated: true}
    liveness:
      - {protocol: tcp, port: %d}
    sources:%s`, p.VIP, nodes.String(), lpSMTP, lpIMAP, lpPOP3, lpDoveadm, sources)
}

// all is every exporter of the deployment.
func (p *linuxPair) all(t *testing.T) []exporterRun {
	return []exporterRun{p.nodeRun(t, "node-a"), p.nodeRun(t, "node-b"), p.agentlessRun()}
}

// steadyStart is the healthy pair: node-a MASTER serving, node-b BACKUP.
func steadyStart(t *testing.T) []exporterRun {
	p := steadyPair()
	activeMail(t, "node-a")
	standbyMail(t, "node-b")
	mail(t, lpVIP, "smtp", "imap", "pop3")
	return p.all(t)
}

var steadyGreen = expectation{Cluster: "e2e", Status: 1, Redundancy: 1, Reasons: nil,
	Gates: gates("versions_match", "redundancy_enabled", "roles_restored", "sync_complete", "early_start_ok",
		"services_running", "restart_flag_clear")}

// resolved checks the resolved roles of both nodes (the role that is 1).
func resolved(a, b string) check {
	return check{Expr: `mailcluster:node_role:resolved{cluster="e2e"} == 1`, Want: []wantSample{
		{Labels: fmt.Sprintf(`mailcluster:node_role:resolved{cluster="e2e",node="node-a",role=%q}`, a), Value: 1},
		{Labels: fmt.Sprintf(`mailcluster:node_role:resolved{cluster="e2e",node="node-b",role=%q}`, b), Value: 1},
	}}
}

// firing lists the firing alerts named alertname (no samples: none).
func firing(alertname string, labels ...string) check {
	c := check{Expr: fmt.Sprintf(`ALERTS{alertname=%q,alertstate="firing"}`, alertname), Want: []wantSample{}}
	for _, l := range labels {
		c.Want = append(c.Want, wantSample{Labels: l, Value: 1})
	}
	return c
}
