package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// declCase is one source configuration with representative input.
type declCase struct {
	typ   string // the source type it covers
	name  string
	local string // --cluster.node
	yaml  func(t *testing.T, dir string) string
}

func argv(a ...string) string {
	b, _ := json.Marshal(a)
	return string(b)
}

// stripped feeds a transcription whose '#' header the tool never prints.
func stripped(t *testing.T, rel string) string {
	t.Helper()
	return argv("sed", "-e", "/^#/d", mustAbs(t, rel))
}

const declContract = `{"nodes":[{"node":"a","role":"active","peer_up":true,"sync_state":"synced"},
{"node":"b","role":"standby","sync_state":"syncing","sync_progress":0.5}]}`

func pairWith(extra, sources string) string {
	return `
clusters:
  - name: c
    kind: active_standby
` + extra + `    nodes:
      - {name: a, address: 127.0.0.1}
      - {name: b, address: 127.0.0.2, sync_address: 127.0.0.1}
    sources:
` + sources
}

// twoNodes is a cluster c of the given kind with nodes n1 (127.0.0.1) and
// n2 (127.0.0.2) and the given sources (YAML list items).
func twoNodes(kind, n1, n2, sources string) string {
	return `
clusters:
  - name: c
    kind: ` + kind + `
    nodes:
      - {name: ` + n1 + `, address: 127.0.0.1}
      - {name: ` + n2 + `, address: 127.0.0.2}
    sources:
` + sources
}

func declCases(t *testing.T) []declCase {
	write := func(t *testing.T, dir, name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pair := func(extra, src string) func(t *testing.T, dir string) string {
		return func(t *testing.T, dir string) string { return pairWith(extra, src) }
	}
	return []declCase{
		{typ: "command", name: "default declaration", local: "a", yaml: func(t *testing.T, dir string) string {
			return pairWith("", "      - type: command\n        command: {argv: "+argv("cat", write(t, dir, "c.json", declContract))+"}\n")
		}},
		{typ: "http", name: "default declaration", local: "a", yaml: func(t *testing.T, dir string) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, declContract) }))
			t.Cleanup(srv.Close)
			return pairWith("", "      - type: http\n        http: {url: "+srv.URL+"}\n")
		}},
		{typ: "vip_local", local: "a", yaml: pair("    virtual_address: 127.0.0.1\n", "      - type: vip_local\n")},
		{typ: "peer_tcp", local: "a", yaml: func(t *testing.T, dir string) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			port := ln.Addr().(*net.TCPAddr).Port
			return pairWith("", "      - type: peer_tcp\n        peer_tcp: {ports: ["+strconv.Itoa(port)+"]}\n")
		}},
		{typ: "queue_dir", local: "a", yaml: func(t *testing.T, dir string) string {
			write(t, dir, "m1", "x")
			return pairWith("", "      - type: queue_dir\n        queue_dir: {queues: [{name: q, path: "+dir+"}]}\n")
		}},
		{typ: "version", local: "a", yaml: pair("", "      - type: version\n        version: {command: {argv: [echo, '1.0']}}\n")},
		{typ: "marker", local: "a", yaml: func(t *testing.T, dir string) string {
			p := write(t, dir, "marker", strconv.FormatInt(time.Now().Unix(), 10)+"\n")
			return pairWith("", "      - type: marker\n        marker: {file: "+p+"}\n")
		}},
		{typ: "pacemaker", local: "node1", yaml: func(t *testing.T, dir string) string {
			return twoNodes("active_standby", "node1", "node2", `      - type: pacemaker
        pacemaker: {resource_group: mail-group, command: {argv: `+stripped(t, "parse/crmmon/testdata/healthy.crm_mon.xml")+`}}
`)
		}},
		{typ: "drbd", local: "mx1", yaml: func(t *testing.T, dir string) string {
			return twoNodes("active_standby", "mx1", "mx2", `      - type: drbd
        drbd: {resource: mail, command: {argv: `+argv("sed", "-e", "/^##/d", mustAbs(t, "parse/drbd/testdata/json-9-two-volumes-synctarget.json"))+`}}
`)
		}},
		{typ: "keepalived", local: "a", yaml: func(t *testing.T, dir string) string {
			p := write(t, dir, "state", "INSTANCE VI_MAIL BACKUP 100 1795313171\n")
			return pairWith("", "      - type: keepalived\n        keepalived: {state_file: "+p+"}\n")
		}},
		{typ: "dovecot", local: "a", yaml: func(t *testing.T, dir string) string {
			c := "../e2e/captured/dovecot/node-a.steady."
			return pairWith("", "      - type: dovecot\n        dovecot:\n"+
				"          command: {argv: "+argv("cat", mustAbs(t, c+"replicator-status-all.json"))+"}\n"+
				"          overview_command: {argv: "+argv("cat", mustAbs(t, c+"replicator-status.txt"))+"}\n"+
				"          dsync_status_command: {argv: "+argv("cat", mustAbs(t, c+"replicator-dsync-status.txt"))+"}\n")
		}},
		{typ: "postfix_queue", local: "a", yaml: func(t *testing.T, dir string) string {
			return pairWith("", "      - type: postfix_queue\n        postfix_queue: {command: {argv: "+
				stripped(t, "parse/postqueue/testdata/postqueue-j-mixed.jsonl")+"}}\n")
		}},
		{typ: "clpstat", name: "shared disk", local: "a", yaml: func(t *testing.T, dir string) string {
			return pairWith("", "      - type: clpstat\n        clpstat: {group: failover1, servers: {server1: a, server2: b}, command: {argv: "+
				stripped(t, "../systems/testdata/clpstat-server1-down-group-on-server2.txt")+"}}\n")
		}},
		{typ: "clpstat", name: "mirror disk", local: "a", yaml: func(t *testing.T, dir string) string {
			return pairWith("", "      - type: clpstat\n        clpstat: {group: failover1, servers: {server1: a, server2: b}, command: {argv: "+
				stripped(t, "../systems/testdata/clpstat-server1-down-group-on-server2.txt")+"}, mirror_command: {argv: "+
				stripped(t, "parse/clpstat/testdata/clpmdstat-normal.txt")+"}}\n")
		}},
		{typ: "solaris", name: "no storage resource", local: "mars", yaml: solarisDecl("")},
		{typ: "solaris", name: "storage resource", local: "mars", yaml: solarisDecl("storage_resource: disk-rs, ")},
		{typ: "vip_holder", yaml: func(t *testing.T, dir string) string {
			port := freePort(t)
			for host, box := range map[string]string{"127.0.0.1": "box-a", "127.0.0.2": "box-b", "127.0.0.3": "box-a"} {
				testmail.Listen(t, net.JoinHostPort(host, strconv.Itoa(port)), headerBox(box))
			}
			return pairWith("    virtual_address: 127.0.0.3\n", fmt.Sprintf(
				"      - type: vip_holder\n        vip_holder: {method: http_header, header: X-Box, port: %d}\n", port))
		}},
		{typ: "mfilter", local: "mf-master", yaml: func(t *testing.T, dir string) string {
			return `
clusters:
  - name: c
    kind: master_slave
    nodes:
      - {name: mf-master, address: 127.0.0.21, role: master}
      - {name: mf-slave, address: 127.0.0.22, role: slave}
    sources:
      - type: mfilter
        mfilter: {def_file: ` + mustAbs(t, "../systems/testdata/mf_replica-master.def") + `}
`
		}},
	}
}

func solarisDecl(storage string) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		return twoNodes("failover_group", "mars", "venus", `      - type: solaris
        solaris: {resource_group: MAIL-RG, `+storage+`command: {argv: `+
			stripped(t, "parse/solaris/testdata/scstat-g-mail-rg.txt")+`}, node_command: {argv: [true]}, resource_command: {argv: [true]}}
`)
	}
}

func mustAbs(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test input missing: %v", err)
	}
	return p
}

// familiesIn is the fact families a source's output holds.
func familiesIn(set facts.Set) Provides {
	var p Provides
	for _, n := range set {
		p.Role = p.Role || n.Role != ""
		p.Sync = p.Sync || n.SyncState != ""
	}
	return p
}

// Every source type, run over representative input, emits exactly the fact
// families it declares for its configuration, so that what turns unknown
// when it fails is what it reports when it works. Sources that describe
// several nodes are responsible for every node of the cluster.
func TestSourceDeclarationsMatchOutput(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range declCases(t) {
		covered[c.typ] = true
		t.Run(strings.TrimSpace(c.typ+" "+c.name), func(t *testing.T) {
			cfg := loadCluster(t, c.yaml(t, t.TempDir()))
			cl, err := New(cfg.Clusters[0], cfg.Global, Options{LocalNode: c.local})
			if err != nil {
				t.Fatal(err)
			}
			if len(cl.sources) != 1 {
				t.Fatalf("%d sources built, want 1", len(cl.sources))
			}
			r := cl.sources[0]
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			set, err := r.src.Collect(ctx)
			if err != nil {
				t.Fatalf("representative input failed: %v", err)
			}
			if got := familiesIn(set); got != r.provides {
				t.Errorf("declares %+v, emits %+v", r.provides, got)
			}
			if f := factories[c.typ]; f.all && len(r.nodes) != len(cfg.Clusters[0].Nodes) {
				t.Errorf("describes %v, want every node of the cluster", r.nodes)
			}
		})
	}
	for typ := range factories {
		if !covered[typ] {
			t.Errorf("source type %q has no representative input here", typ)
		}
	}
}

// A JSON adapter declaring fewer families than its output holds reports
// only the declared ones.
func TestAdapterReportsOnlyDeclaredFamilies(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	if err := os.WriteFile(p, []byte(declContract), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := loadCluster(t, pairWith("", "      - type: command\n        command: {provides: [role], argv: "+argv("cat", p)+"}\n"))
	cl, err := New(cfg.Clusters[0], cfg.Global, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap := cl.Collect(context.Background())
	if a := snap.Facts["a"]; a == nil || a.Role != facts.RoleActive || a.SyncState != "" || !a.PeerUp["b"] {
		t.Errorf("node a: %+v; want role, peer_up, and no sync state", a)
	}
}

// A failed source that describes several nodes reports source_up 0 and
// leaves its declared families unknown for every node it describes.
func TestFailedMultiNodeSourceLeavesEveryNodeUnknown(t *testing.T) {
	fail := argv("false")
	for _, c := range []struct {
		typ, src string
		sync     bool
	}{
		{"pacemaker", "pacemaker: {resource_group: g, command: {argv: " + fail + "}}", false},
		{"clpstat", "clpstat: {group: g, command: {argv: " + fail + "}}", false},
		{"clpstat", "clpstat: {group: g, command: {argv: " + fail + "}, mirror_command: {argv: " + fail + "}}", true},
		{"solaris", "solaris: {resource_group: g, command: {argv: " + fail + "}}", false},
		{"solaris", "solaris: {resource_group: g, storage_resource: s, command: {argv: " + fail + "}}", true},
		{"command", "command: {argv: " + fail + "}", true},
		{"command", "command: {provides: [role], argv: " + fail + "}", false},
	} {
		t.Run(c.src, func(t *testing.T) {
			cfg := loadCluster(t, pairWith("", "      - type: "+c.typ+"\n        "+c.src+"\n"))
			cl, err := New(cfg.Clusters[0], cfg.Global, Options{LocalNode: "a"})
			if err != nil {
				t.Fatal(err)
			}
			snap := cl.Collect(context.Background())
			up := map[string]bool{}
			for _, st := range snap.Sources {
				if st.Up {
					t.Errorf("source_up 1 for %s after a failure", st.Node)
				}
				up[st.Node] = true
			}
			for _, n := range []string{"a", "b"} {
				if !up[n] {
					t.Errorf("no source_up for node %s", n)
				}
				f := snap.Facts[n]
				if f == nil || f.Role != facts.RoleUnknown {
					t.Errorf("node %s: %+v, want role unknown", n, f)
					continue
				}
				if wantSync := map[bool]facts.SyncState{true: facts.SyncUnknown, false: ""}[c.sync]; f.SyncState != wantSync {
					t.Errorf("node %s: sync %q, want %q", n, f.SyncState, wantSync)
				}
			}
		})
	}
}

// Pacemaker describes every node of the cluster: the one running the
// group is active, the other members standby, and a configured node it
// does not list is unknown rather than absent.
func TestPacemakerDescribesEveryNode(t *testing.T) {
	cfg := loadCluster(t, `
clusters:
  - name: c
    kind: failover_group
    nodes:
      - {name: node1, address: 127.0.0.1}
      - {name: node2, address: 127.0.0.2}
      - {name: node3, address: 127.0.0.3}
    sources:
      - type: pacemaker
        pacemaker: {resource_group: mail-group, command: {argv: `+stripped(t, "parse/crmmon/testdata/healthy.crm_mon.xml")+`}}
`)
	cl, err := New(cfg.Clusters[0], cfg.Global, Options{LocalNode: "node2"})
	if err != nil {
		t.Fatal(err)
	}
	snap := cl.Collect(context.Background())
	want := map[string]facts.Role{"node1": facts.RoleActive, "node2": facts.RoleStandby, "node3": facts.RoleUnknown}
	for n, role := range want {
		if f := snap.Facts[n]; f == nil || f.Role != role {
			t.Errorf("%s: %+v, want role %q", n, f, role)
		}
	}
	if len(snap.Sources) != 3 {
		t.Errorf("source_up for %d nodes, want 3: %+v", len(snap.Sources), snap.Sources)
	}
}
