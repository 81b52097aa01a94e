package clpstat

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

// want describes what a real output must parse to.
type want struct {
	cluster   string
	local     string
	servers   map[string]string // name -> state
	hbCount   map[string]int    // server -> heartbeat lines (not NP)
	npCount   map[string]int
	groups    map[string][2]string // name -> {state, current}
	resources map[string]int       // group -> resource lines
	monitors  map[string]string
	groupMap  map[string][]string // server name -> groups
}

var realWant = map[string]want{
	"apache-tomcat-clpstat-group-moved-to-server2-ANNOTATED.txt": {
		cluster: "TomcatCluster", local: "server1",
		servers:   map[string]string{"server1": "Online", "server2": "Online"},
		hbCount:   map[string]int{"server1": 1, "server2": 1},
		groups:    map[string][2]string{"failover": {"Online", "server2"}},
		resources: map[string]int{"failover": 3},
		monitors:  map[string]string{"fipw1": "Normal", "jraw": "Normal", "mdnw1": "Normal", "mdw1": "Normal", "userw": "Normal"},
	},
	"apache-tomcat-clpstat-online-current-server1.txt": {
		cluster: "TomcatCluster", local: "server1",
		servers:   map[string]string{"server1": "Online", "server2": "Online"},
		groups:    map[string][2]string{"failover": {"Online", "server1"}},
		resources: map[string]int{"failover": 3},
	},
	"clpaic-clpstat-all-offline.txt": {
		cluster: "cluster-x600", local: "116rhel94",
		servers:   map[string]string{"116rhel94": "Offline", "117rhel94": "Offline"},
		hbCount:   map[string]int{"116rhel94": 1, "117rhel94": 1},
		npCount:   map[string]int{"116rhel94": 1, "117rhel94": 1},
		groups:    map[string][2]string{"failover1": {"Offline", ""}, "failover2": {"Offline", ""}},
		resources: map[string]int{"failover1": 1, "failover2": 1},
		monitors:  map[string]string{"userw": "Offline"},
	},
	"clpaic-clpstat-g-groupmap-after-move.txt": {
		cluster: "cluster-x600", local: "116rhel94",
		groupMap: map[string][]string{"116rhel94": {"failover1"}, "117rhel94": {"failover2"}},
	},
	"clpaic-clpstat-s-online-trailing-spaces.txt": {
		cluster: "cluster-x600", local: "116rhel94",
		servers:   map[string]string{"116rhel94": "Online", "117rhel94": "Online"},
		hbCount:   map[string]int{"116rhel94": 1, "117rhel94": 1},
		npCount:   map[string]int{"116rhel94": 1, "117rhel94": 1},
		groups:    map[string][2]string{"failover1": {"Online", "116rhel94"}, "failover2": {"Online", "116rhel94"}},
		resources: map[string]int{"failover1": 1, "failover2": 1},
		monitors:  map[string]string{"userw": "Normal"},
	},
	"docker-clpstat-long.txt": {
		cluster: "cluster", local: "node1",
		servers:   map[string]string{"node1": "Online", "node2": "Online"},
		hbCount:   map[string]int{"node1": 2, "node2": 2},
		groups:    map[string][2]string{"failover-mariadb1": {"Online", "node1"}},
		resources: map[string]int{"failover-mariadb1": 2},
		monitors:  map[string]string{"mdnw1": "Normal", "mdw1": "Normal", "mysqlw1": "Normal"},
	},
	"kubernetes-singleserversafe-clpstat.txt": {
		cluster: "mariadb-sss-0", local: "mariadb-sss-0",
		servers: map[string]string{"mariadb-sss-0": "Online"},
		hbCount: map[string]int{"mariadb-sss-0": 1},
		groups:  map[string][2]string{"container-recove": {"Online", "mariadb-sss-0"}},
	},
	"podman-mariadb-clpstat-with-comment-column.txt": {
		cluster: "cluster", local: "server1",
		servers:  map[string]string{"server1": "Online", "server2": "Online"},
		hbCount:  map[string]int{"server1": 1, "server2": 1},
		npCount:  map[string]int{"server1": 1, "server2": 1},
		groups:   map[string][2]string{"failover1": {"Online", "server1"}},
		monitors: map[string]string{"mdnw1": "Normal", "mdw1": "Normal", "userw": "Normal"},
	},
	"podman-postgresql-clpstat-with-comment-column.txt": {
		cluster: "cluster", local: "server1",
		servers: map[string]string{"server1": "Online", "server2": "Online"},
		groups:  map[string][2]string{"failover1": {"Online", "server1"}},
	},
	"selinux-clpstat-lankhb-diskhb-witnesshb-httpnp-pingnp.txt": {
		cluster: "cluster", local: "ml8-221",
		servers:   map[string]string{"ml8-221": "Online", "ml8-222": "Online"},
		hbCount:   map[string]int{"ml8-221": 4, "ml8-222": 4},
		npCount:   map[string]int{"ml8-221": 2, "ml8-222": 2},
		groups:    map[string][2]string{"failover1": {"Online", "ml8-221"}},
		resources: map[string]int{"failover1": 4},
	},
	"vagrant-clpstat-fip-md.txt": {
		cluster: "cluster-vagrant", local: "server1",
		servers:   map[string]string{"server1": "Online", "server2": "Online"},
		groups:    map[string][2]string{"failover1": {"Online", "server1"}},
		resources: map[string]int{"failover1": 2},
	},
	"wsl2-windows-clpstat-long.txt": {
		cluster: "cluster", local: "ws2022-01",
		servers:   map[string]string{"ws2022-01": "Online", "ws2022-02": "Online"},
		hbCount:   map[string]int{"ws2022-01": 1, "ws2022-02": 1},
		groups:    map[string][2]string{"failover": {"Online", "ws2022-01"}},
		resources: map[string]int{"failover": 2},
		monitors:  map[string]string{"mdw1": "Normal", "userw": "Normal"},
	},
}

func TestRealOutputs(t *testing.T) {
	files := realFiles(t, "expresscluster")
	for name := range realWant {
		if _, ok := files[name]; !ok {
			t.Errorf("expected real output %s is missing", name)
		}
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			st, err := Parse(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			w, ok := realWant[name]
			if !ok {
				t.Fatalf("new real output %s: add its expectations to realWant", name)
			}
			if st.Cluster != w.cluster || st.Local != w.local {
				t.Errorf("cluster/local = %q/%q, want %q/%q", st.Cluster, st.Local, w.cluster, w.local)
			}
			if w.servers != nil {
				got := map[string]string{}
				for _, s := range st.Servers {
					got[s.Name] = s.State
				}
				if !reflect.DeepEqual(got, w.servers) {
					t.Errorf("servers = %v, want %v", got, w.servers)
				}
			}
			for srv, n := range w.hbCount {
				s, _ := st.Server(srv)
				if s == nil || len(s.Heartbeats) != n {
					t.Errorf("server %s heartbeats = %v, want %d", srv, s, n)
				}
			}
			for srv, n := range w.npCount {
				s, _ := st.Server(srv)
				if s == nil || len(s.NP) != n {
					t.Errorf("server %s NP = %v, want %d", srv, s, n)
				}
			}
			if w.groups != nil {
				got := map[string][2]string{}
				for _, g := range st.Groups {
					got[g.Name] = [2]string{g.State, g.Current}
				}
				if !reflect.DeepEqual(got, w.groups) {
					t.Errorf("groups = %v, want %v", got, w.groups)
				}
			}
			for g, n := range w.resources {
				gg, _ := st.Group(g)
				if gg == nil || len(gg.Resources) != n {
					t.Errorf("group %s resources = %v, want %d", g, gg, n)
				}
			}
			if w.monitors != nil {
				got := map[string]string{}
				for _, m := range st.Monitors {
					got[m.Name] = m.State
				}
				if !reflect.DeepEqual(got, w.monitors) {
					t.Errorf("monitors = %v, want %v", got, w.monitors)
				}
			}
			if w.groupMap != nil {
				if st.GroupMap == nil {
					t.Fatal("no group map")
				}
				got := map[string][]string{}
				for _, r := range st.GroupMap.Servers {
					for _, g := range r.Groups {
						got[r.Name] = append(got[r.Name], g.Name)
					}
				}
				if !reflect.DeepEqual(got, w.groupMap) {
					t.Errorf("group map = %v, want %v", got, w.groupMap)
				}
			}
			// Every group of every real output maps without error, and
			// nothing unknown appears in a healthy capture.
			for _, g := range allGroups(st) {
				fs, err := st.NodeFacts(g, nil)
				if err != nil {
					t.Errorf("NodeFacts(%s): %v", g, err)
				}
				for n, f := range fs {
					if f.Role == facts.RoleUnknown {
						t.Errorf("NodeFacts(%s): %s unknown (%s)", g, n, f.RoleCause)
					}
				}
			}
		})
	}
}

func allGroups(st *Status) []string {
	_, gs := st.effective()
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func parseReal(t *testing.T, name string) *Status {
	t.Helper()
	b := realFiles(t, "expresscluster")[name]
	if b == nil {
		t.Fatalf("real output expresscluster/%s is missing although the folder exists (renamed or removed? see SOURCES.md)", name)
	}
	st, err := Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func roles(fs facts.Set) map[string]facts.Role {
	out := map[string]facts.Role{}
	for n, f := range fs {
		out[n] = f.Role
	}
	return out
}

func TestNodeFactsReal(t *testing.T) {
	t.Run("online on first priority", func(t *testing.T) {
		st := parseReal(t, "apache-tomcat-clpstat-online-current-server1.txt")
		fs, err := st.NodeFacts("failover", []string{"server1", "server2"})
		if err != nil {
			t.Fatal(err)
		}
		if got := roles(fs); !reflect.DeepEqual(got, map[string]facts.Role{"server1": facts.RoleActive, "server2": facts.RoleStandby}) {
			t.Fatalf("roles = %v", got)
		}
		if !reflect.DeepEqual(fs["server1"].PeerUp, map[string]bool{"server2": true}) {
			t.Errorf("peer_up = %v", fs["server1"].PeerUp)
		}
		if fs["server2"].PeerUp != nil {
			t.Errorf("peer_up reported for a non-local server: %v", fs["server2"].PeerUp)
		}
		for _, n := range []string{"server1", "server2"} {
			if r := fs[n].RedundancyEnabled; r == nil || !*r {
				t.Errorf("%s redundancy_enabled = %v, want true", n, r)
			}
		}
		if fs["server1"].RoleCause != "" {
			t.Errorf("cause = %q", fs["server1"].RoleCause)
		}
		p, err := st.Placement("failover", []string{"server1", "server2"})
		if err != nil || !p.OnPreferred || p.Current != "server1" {
			t.Errorf("placement = %+v, %v", p, err)
		}
	})
	t.Run("moved to second priority (annotated)", func(t *testing.T) {
		st := parseReal(t, "apache-tomcat-clpstat-group-moved-to-server2-ANNOTATED.txt")
		fs, err := st.NodeFacts("failover", []string{"server1", "server2"})
		if err != nil {
			t.Fatal(err)
		}
		if got := roles(fs); !reflect.DeepEqual(got, map[string]facts.Role{"server1": facts.RoleStandby, "server2": facts.RoleActive}) {
			t.Fatalf("roles = %v", got)
		}
		if !strings.Contains(fs["server2"].RoleCause, "not on its first priority server server1") {
			t.Errorf("cause = %q", fs["server2"].RoleCause)
		}
		p, _ := st.Placement("failover", []string{"server1", "server2"})
		if p.OnPreferred || p.Current != "server2" || p.Preferred != "server1" {
			t.Errorf("placement = %+v", p)
		}
	})
	t.Run("cluster stopped: only the local server", func(t *testing.T) {
		st := parseReal(t, "clpaic-clpstat-all-offline.txt")
		fs, err := st.NodeFacts("failover1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := roles(fs); !reflect.DeepEqual(got, map[string]facts.Role{"116rhel94": facts.RoleOffline}) {
			t.Fatalf("roles = %v", got)
		}
		if fs["116rhel94"].PeerUp != nil || fs["116rhel94"].RedundancyEnabled != nil {
			t.Errorf("unexpected facts %+v", fs["116rhel94"])
		}
	})
	t.Run("group map after move", func(t *testing.T) {
		st := parseReal(t, "clpaic-clpstat-g-groupmap-after-move.txt")
		fs, err := st.NodeFacts("failover2", []string{"116rhel94", "117rhel94"})
		if err != nil {
			t.Fatal(err)
		}
		if got := roles(fs); !reflect.DeepEqual(got, map[string]facts.Role{"116rhel94": facts.RoleStandby, "117rhel94": facts.RoleActive}) {
			t.Fatalf("roles = %v", got)
		}
	})
	t.Run("truncated group name", func(t *testing.T) {
		st := parseReal(t, "kubernetes-singleserversafe-clpstat.txt")
		fs, err := st.NodeFacts("container-recovery", nil)
		if err != nil {
			t.Fatal(err)
		}
		if fs["mariadb-sss-0"].Role != facts.RoleActive {
			t.Fatalf("roles = %v", roles(fs))
		}
	})
	t.Run("NP resources are not heartbeats", func(t *testing.T) {
		st := parseReal(t, "selinux-clpstat-lankhb-diskhb-witnesshb-httpnp-pingnp.txt")
		s, _ := st.Server("ml8-222")
		for _, h := range s.Heartbeats {
			if strings.Contains(h.Name, "np") {
				t.Errorf("NP %s classified as heartbeat", h.Name)
			}
		}
		if s.Heartbeats[3].Name != "witnesshb1" || s.Heartbeats[3].Comment != "Witness Heartbeat" {
			t.Errorf("heartbeat = %+v", s.Heartbeats[3])
		}
	})
	t.Run("comment column", func(t *testing.T) {
		st := parseReal(t, "podman-mariadb-clpstat-with-comment-column.txt")
		s, _ := st.Server("server2")
		g, _ := st.Group("failover1")
		if s.Comment != "Secondary server" || g.Comment != "Group for MariaDB" || st.Monitors[2].Comment != "User mode monitor" {
			t.Errorf("comments: %q %q %q", s.Comment, g.Comment, st.Monitors[2].Comment)
		}
	})
	t.Run("unknown group is a source error", func(t *testing.T) {
		st := parseReal(t, "vagrant-clpstat-fip-md.txt")
		if _, err := st.NodeFacts("mailgroup", nil); err == nil || !strings.Contains(err.Error(), "failover1") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("priority server missing from output", func(t *testing.T) {
		st := parseReal(t, "vagrant-clpstat-fip-md.txt")
		fs, err := st.NodeFacts("failover1", []string{"server1", "server2", "server3"})
		if err != nil {
			t.Fatal(err)
		}
		if fs["server3"].Role != facts.RoleUnknown {
			t.Errorf("server3 = %v", fs["server3"].Role)
		}
		if _, ok := fs["server1"].PeerUp["server3"]; ok {
			t.Errorf("peer_up invented for an unlisted server")
		}
	})
}

func TestDocumentedStates(t *testing.T) {
	st, err := Parse(strings.NewReader(testdata(t, "clpstat-documented-states.txt")))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := st.NodeFacts("ExpressMail", []string{"sv1", "sv2", "sv3"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]facts.Role{"sv1": facts.RoleStandby, "sv2": facts.RoleActive, "sv3": facts.RoleOffline}
	if got := roles(fs); !reflect.DeepEqual(got, want) {
		t.Fatalf("roles = %v, want %v", got, want)
	}
	c := fs["sv2"].RoleCause
	for _, s := range []string{"group ExpressMail is Caution", "not on its first priority server sv1", "monitor smtpw: Error", "monitor diskw1: Warning", "resource exec-batch of batch: Online Failure", "heartbeat diskhb1 on sv1: Error"} {
		if !strings.Contains(c, s) {
			t.Errorf("active cause %q lacks %q", c, s)
		}
	}
	if !reflect.DeepEqual(fs["sv1"].PeerUp, map[string]bool{"sv2": true, "sv3": false}) {
		t.Errorf("peer_up = %v", fs["sv1"].PeerUp)
	}
	// Failed group: its current server is unknown, never active.
	fb, err := st.NodeFacts("batch", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fb["sv1"].Role != facts.RoleUnknown || !strings.Contains(fb["sv1"].RoleCause, "Online Failure") {
		t.Errorf("batch on sv1 = %+v", fb["sv1"])
	}
}

func TestHBMatrix(t *testing.T) {
	in := testdata(t, "clpstat-hb-matrix.txt")
	st, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if st.HB == nil || len(st.HB.Views) != 2 || st.Local != "server1" || st.HB.Heartbeats["2"] != "diskhb1" {
		t.Fatalf("hb = %+v local=%q", st.HB, st.Local)
	}
	if got := st.HB.Views[0].Rows["server2"]; !reflect.DeepEqual(got, []string{"o", "o", "x"}) {
		t.Errorf("row = %v", got)
	}
	// Combined with a status view of the same cluster, the matrix decides
	// peer_up: LAN heartbeats reach server2 although diskhb1 does not.
	status := strings.Replace(string(realFiles(t, "expresscluster")["vagrant-clpstat-fip-md.txt"]), "cluster-vagrant", "cluster", 1)
	st, err = Parse(strings.NewReader(status + in))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := st.NodeFacts("failover1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fs["server1"].PeerUp, map[string]bool{"server2": true}) {
		t.Errorf("peer_up = %v", fs["server1"].PeerUp)
	}
	// All x from the local view: peer down even though the status view
	// says Online.
	down := strings.Replace(in, "  server1  :  o   o   x\n\n  [on server1", "  server1  :  x   x   x\n\n  [on server1", 1)
	st, err = Parse(strings.NewReader(status + down))
	if err != nil {
		t.Fatal(err)
	}
	fs, _ = st.NodeFacts("failover1", nil)
	if !reflect.DeepEqual(fs["server1"].PeerUp, map[string]bool{"server2": false}) {
		t.Errorf("peer_up = %v", fs["server1"].PeerUp)
	}
}

// synth builds a two/three-server status for mapping tables.
func synth(local string, servers map[string]string, groupState, current string) *Status {
	st := &Status{Cluster: "c", Local: local}
	for _, n := range []string{"a", "b", "c"} {
		s, ok := servers[n]
		if !ok {
			continue
		}
		st.Servers = append(st.Servers, Server{Name: n, State: s, Local: n == local,
			Heartbeats: []Resource{{Name: "lankhb1", State: "Normal"}}})
	}
	st.Groups = []Group{{Name: "mail", State: groupState, Current: current}}
	return st
}

func TestMappingTable(t *testing.T) {
	up := map[string]string{"a": "Online", "b": "Online"}
	cases := []struct {
		name     string
		st       *Status
		want     map[string]facts.Role
		redund   map[string]*bool
		peerUp   map[string]bool // of the local server a
		causeHas map[string]string
	}{
		{"online", synth("a", up, "Online", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleStandby},
			map[string]*bool{"a": facts.Bool(true), "b": facts.Bool(true)}, map[string]bool{"b": true}, nil},
		{"online on the peer", synth("a", up, "Online", "b"),
			map[string]facts.Role{"a": facts.RoleStandby, "b": facts.RoleActive}, nil, map[string]bool{"b": true}, nil},
		{"group offline everywhere", synth("a", up, "Offline", ""),
			map[string]facts.Role{"a": facts.RoleStandby, "b": facts.RoleStandby}, nil, nil, nil},
		{"online pending", synth("a", up, "Online Pending", "b"),
			map[string]facts.Role{"a": facts.RoleStandby, "b": facts.RoleUnknown}, nil, nil, map[string]string{"b": "Online Pending"}},
		{"offline pending", synth("a", up, "Offline Pending", "a"),
			map[string]facts.Role{"a": facts.RoleUnknown, "b": facts.RoleStandby}, nil, nil, map[string]string{"a": "Offline Pending"}},
		{"online failure", synth("a", up, "Online Failure", "a"),
			map[string]facts.Role{"a": facts.RoleUnknown, "b": facts.RoleStandby}, nil, nil, nil},
		{"offline failure", synth("a", up, "Offline Failure", "b"),
			map[string]facts.Role{"a": facts.RoleStandby, "b": facts.RoleUnknown}, nil, nil, nil},
		{"group caution", synth("a", up, "Caution", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleStandby}, nil, nil, map[string]string{"a": "Caution"}},
		{"group state unknown", synth("a", up, "Unknown", "a"),
			map[string]facts.Role{"a": facts.RoleUnknown, "b": facts.RoleStandby}, nil, nil, nil},
		{"group state never seen", synth("a", up, "Frobnicated", "a"),
			map[string]facts.Role{"a": facts.RoleUnknown, "b": facts.RoleStandby}, nil, nil, nil},
		{"peer offline", synth("a", map[string]string{"a": "Online", "b": "Offline"}, "Online", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleOffline}, nil, map[string]bool{"b": false}, nil},
		{"peer isolated", synth("a", map[string]string{"a": "Online", "b": "Isolated"}, "Online", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleOffline}, nil, map[string]bool{"b": false}, nil},
		{"peer caution", synth("a", map[string]string{"a": "Online", "b": "Caution"}, "Online", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleStandby}, nil, map[string]bool{"b": true}, nil},
		{"peer unknown", synth("a", map[string]string{"a": "Online", "b": "Unknown"}, "Online", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleUnknown}, nil, map[string]bool{"b": false}, nil},
		{"peer state never seen", synth("a", map[string]string{"a": "Online", "b": "Zombie"}, "Online", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleUnknown}, nil, map[string]bool{"b": false}, nil},
		{"peer starting", synth("a", map[string]string{"a": "Online", "b": "Online Pending"}, "Online", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleUnknown}, nil, map[string]bool{}, nil},
		{"suspended cluster", synth("a", map[string]string{"a": "Suspension", "b": "Suspension"}, "Online", "a"),
			map[string]facts.Role{"a": facts.RoleActive, "b": facts.RoleStandby},
			map[string]*bool{"a": facts.Bool(false), "b": facts.Bool(false)}, map[string]bool{"b": true}, map[string]string{"a": "suspended"}},
		{"local stopped hides peers", synth("a", map[string]string{"a": "Offline", "b": "Offline"}, "Offline", ""),
			map[string]facts.Role{"a": facts.RoleOffline}, map[string]*bool{"a": nil}, nil, nil},
		{"local starting hides peers", synth("a", map[string]string{"a": "Online Pending", "b": "Online"}, "Online", "b"),
			map[string]facts.Role{"a": facts.RoleUnknown}, nil, nil, nil},
		{"current server is down", synth("a", map[string]string{"a": "Online", "b": "Offline"}, "Online", "b"),
			map[string]facts.Role{"a": facts.RoleStandby, "b": facts.RoleOffline}, nil, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, err := c.st.NodeFacts("mail", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := roles(fs); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("roles = %v, want %v", got, c.want)
			}
			for n, r := range c.redund {
				got := fs[n].RedundancyEnabled
				if (got == nil) != (r == nil) || (got != nil && *got != *r) {
					t.Errorf("%s redundancy = %v, want %v", n, got, r)
				}
			}
			if c.peerUp != nil {
				got := fs["a"].PeerUp
				if got == nil {
					got = map[string]bool{}
				}
				if !reflect.DeepEqual(got, c.peerUp) {
					t.Errorf("peer_up = %v, want %v", got, c.peerUp)
				}
			}
			for n, s := range c.causeHas {
				if !strings.Contains(fs[n].RoleCause, s) {
					t.Errorf("%s cause %q lacks %q", n, fs[n].RoleCause, s)
				}
			}
		})
	}
}

func TestPeerUpFromHeartbeats(t *testing.T) {
	st := synth("a", map[string]string{"a": "Online", "b": "Online"}, "Online", "a")
	st.Servers[1].Heartbeats = []Resource{{Name: "lankhb1", State: "Error"}, {Name: "diskhb1", State: "Unused"}}
	fs, _ := st.NodeFacts("mail", nil)
	if fs["a"].PeerUp["b"] {
		t.Errorf("peer with only failed heartbeats reported up")
	}
	st.Servers[1].Heartbeats[1].State = "Caution"
	fs, _ = st.NodeFacts("mail", nil)
	if !fs["a"].PeerUp["b"] {
		t.Errorf("peer with a Caution heartbeat reported down")
	}
}

func TestClassifiers(t *testing.T) {
	servers := map[string]ServerClass{"Online": ServerUp, "Caution": ServerUp, "Suspension": ServerSuspended,
		"Offline": ServerDown, "Isolated": ServerDown, "Online Pending": ServerTransition, "Offline  Pending": ServerTransition,
		"Unknown": ServerUnknown, "": ServerUnknown, "Onlinex": ServerUnknown, "ONLINE": ServerUp}
	for s, w := range servers {
		if g := ClassifyServer(s); g != w {
			t.Errorf("server %q = %v, want %v", s, g, w)
		}
	}
	groups := map[string]GroupClass{"Online": GroupOnline, "Caution": GroupCaution, "Offline": GroupOffline,
		"Online Pending": GroupPending, "Offline Pending": GroupPending, "Online Failure": GroupFailed,
		"Offline Failure": GroupFailed, "Unknown": GroupUnknown, "": GroupUnknown, "Whatever": GroupUnknown}
	for s, w := range groups {
		if g := ClassifyGroup(s); g != w {
			t.Errorf("group %q = %v, want %v", s, g, w)
		}
	}
	monitors := map[string]MonitorClass{"Normal": MonitorNormal, "Warning": MonitorWarning, "Caution": MonitorWarning,
		"Error": MonitorError, "Offline": MonitorStopped, "Suspend": MonitorStopped, "Online Pending": MonitorTransition,
		"Unknown": MonitorUnknown, "?": MonitorUnknown}
	for s, w := range monitors {
		if g := ClassifyMonitor(s); g != w {
			t.Errorf("monitor %q = %v, want %v", s, g, w)
		}
	}
	hbs := map[string]HBClass{"Normal": HBNormal, "Caution": HBCaution, "Error": HBError, "Unused": HBUnused,
		"Offline": HBOffline, "Unknown": HBUnknown, "bogus": HBUnknown}
	for s, w := range hbs {
		if g := ClassifyHeartbeat(s); g != w {
			t.Errorf("hb %q = %v, want %v", s, g, w)
		}
	}
}

func TestMalformed(t *testing.T) {
	frame := func(body string) string {
		return " ========================  CLUSTER STATUS  ===========================\n" + body +
			" =====================================================================\n"
	}
	cases := []struct {
		name, in, line, msg string
	}{
		{"empty", "", "", "no clpstat frame"},
		{"blank only", "\n\n  \n", "", "no clpstat frame"},
		{"text before frame", "Permission denied\n" + frame("  Cluster : c\n  <server>\n   *a ....: Online\n"), "line 1", "frame title"},
		{"unterminated", " ====  CLUSTER STATUS  ====\n  Cluster : c\n  <server>\n", "line 1", "not closed"},
		{"unknown view", " ====  SOMETHING NEW  ====\n x : y\n ====\n", "line 1", "unsupported clpstat view"},
		{"no colon", frame("  Cluster : c\n  <server>\n   *a ....: Online\n      garbage here\n"), "line 5", "name : state"},
		{"empty state", frame("  Cluster : c\n  <server>\n   *a ....:\n"), "line 4", "empty state"},
		{"cluster line after sections", frame("  <server>\n   *a ....: Online\n  Cluster : c\n"), "line 4", "indented less"},
		{"cluster line wrong", frame("  Name : c\n"), "line 2", "Cluster"},
		{"no servers", frame("  Cluster : c\n  <group>\n    g ....: Online\n"), "line 1", "no server"},
		{"dedent", frame("  Cluster : c\n  <server>\n    a ....: Online\n   b ....: Online\n"), "line 5", "indented less"},
		{"two locals", frame("  Cluster : c\n  <server>\n   *a ....: Online\n   *b ....: Online\n"), "line 5", "two servers marked local"},
		{"bad map row", " ====  GROUPMAP INFORMATION  ====\n  Cluster : c\n   *server0 : a\n  -------\n    server0 o : g[o]\n ====\n", "line 5", "serverN [o]"},
		{"bad map group", " ====  GROUPMAP INFORMATION  ====\n  Cluster : c\n   *server0 : a\n  -------\n    server0 [o] : g(o)\n ====\n", "line 5", "group[mark]"},
		{"hb no views", " ====  HEARTBEAT RESOURCE STATUS  ====\n  Cluster : c\n ====\n", "line 1", "no \"[on server"},
		{"hb bad mark", " ====  HEARTBEAT RESOURCE STATUS  ====\n  [on server0 : Online]\n  server0 : ok\n ====\n", "line 3", "single character"},
		{"nested frame", " ====  CLUSTER STATUS  ====\n ====  GROUPMAP INFORMATION  ====\n ====\n", "line 2", "not closed"},
		{"too long", " ====  CLUSTER STATUS  ====\n" + strings.Repeat("x", MaxLineBytes+10) + "\n ====\n", "line 2", "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in))
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *ParseError", err)
			}
			if c.line != "" && !strings.Contains(err.Error(), c.line+":") {
				t.Errorf("error %q does not name %s", err, c.line)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q lacks %q", err, c.msg)
			}
		})
	}
}

func TestNameHelpers(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"server1 .........", "server1"},
		{"container-recove ", "container-recove"},
		{"node1 ............................", "node1"},
		{"a.b.c ....", "a.b.c"},
		{"name.", "name."},
		{"lankhb1        ", "lankhb1"},
	}
	for _, c := range cases {
		if g := cleanName(c.in); g != c.want {
			t.Errorf("cleanName(%q) = %q, want %q", c.in, g, c.want)
		}
	}
	if !NameMatches("container-recove", "container-recovery") || NameMatches("container", "container-recovery") || NameMatches("abc", "abd") {
		t.Error("NameMatches")
	}
	st, comment := splitState("  Online Pending    Primary server  ")
	if st != "Online Pending" || comment != "Primary server" {
		t.Errorf("splitState = %q %q", st, comment)
	}
}
