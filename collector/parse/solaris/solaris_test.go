package solaris

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/internal/realoutputs"
	"github.com/mailcluster/mailcluster_exporter/internal/transcript"
)

// testdata reads a transcribed file of testdata/ without its '#' header.
func testdata(t testing.TB, name string) string {
	t.Helper()
	return transcript.Read(t, filepath.Join("testdata", name))
}

func mustParse(t *testing.T, in string) *Status {
	t.Helper()
	st, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRealOutputsCoverage(t *testing.T) {
	for _, p := range realoutputs.Glob(t, "solaris-cluster/*") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(bytes.NewReader(b)); err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
}

func TestRealClrg(t *testing.T) {
	st := mustParse(t, string(realoutputs.Read(t, "solaris-cluster", "rafacas-t-clrg-status.txt")))
	no := false
	want := []GroupStatus{
		{Group: "nfs-rg", Node: "vincent", Status: "Offline", Suspended: &no, Line: 6},
		{Group: "nfs-rg", Node: "theo", Status: "Online", Suspended: &no, Line: 7},
	}
	if !reflect.DeepEqual(st.Groups, want) {
		t.Fatalf("groups = %+v", st.Groups)
	}
	// Without node membership, Offline cannot be told from a dead node.
	fs, err := st.NodeFacts(Options{Group: "nfs-rg", Local: "theo"})
	if err != nil {
		t.Fatal(err)
	}
	if fs["theo"].Role != facts.RoleActive || fs["vincent"].Role != facts.RoleUnknown {
		t.Errorf("roles = %v/%v", fs["theo"].Role, fs["vincent"].Role)
	}
	if *fs["theo"].RedundancyEnabled != true || fs["theo"].PeerUp != nil {
		t.Errorf("theo = %+v", fs["theo"])
	}
}

func TestRealCombined(t *testing.T) {
	// The collector runs clnode, clintr, clrg and clrs status and hands
	// the concatenated output to Parse.
	var in []byte
	for _, f := range []string{"rafacas-t-clnode-status.txt", "rafacas-t-clintr-status.txt", "rafacas-t-clrg-status.txt", "rafacas-t-clrs-status.txt", "rafacas-t-clquorum-status.txt"} {
		in = append(in, realoutputs.Read(t, "solaris-cluster", f)...)
	}
	st := mustParse(t, string(in))
	if len(st.Nodes) != 2 || len(st.Paths) != 2 || len(st.Resources) != 6 || st.Quorum == nil {
		t.Fatalf("status = %+v", st)
	}
	if st.Quorum.Needed != 2 || st.Quorum.Present != 3 || st.Quorum.Possible != 3 || len(st.Quorum.NodeVotes) != 2 || st.Quorum.DeviceVotes[0].Name != "d4" {
		t.Errorf("quorum = %+v", st.Quorum)
	}
	if r := st.Resources[3]; r.Resource != "orangecat-nfs" || r.Node != "theo" || r.State != "Online" || r.Message != "Online - LogicalHostname online." {
		t.Errorf("resource = %+v", r)
	}
	fs, err := st.NodeFacts(Options{Group: "nfs-rg", Storage: []string{"nfs-stor"}, Local: "vincent"})
	if err != nil {
		t.Fatal(err)
	}
	if fs["theo"].Role != facts.RoleActive || fs["vincent"].Role != facts.RoleStandby {
		t.Fatalf("roles = %v/%v", fs["theo"].Role, fs["vincent"].Role)
	}
	if fs["theo"].SyncState != facts.SyncSynced || fs["vincent"].SyncState != facts.SyncSynced {
		t.Errorf("sync = %q/%q", fs["theo"].SyncState, fs["vincent"].SyncState)
	}
	if !reflect.DeepEqual(fs["vincent"].PeerUp, map[string]bool{"theo": true}) || fs["theo"].PeerUp != nil {
		t.Errorf("peer_up = %v / %v", fs["vincent"].PeerUp, fs["theo"].PeerUp)
	}
	// Unknown storage resource name: a source error.
	if _, err := st.NodeFacts(Options{Group: "nfs-rg", Storage: []string{"hasp-rs"}}); err == nil || !strings.Contains(err.Error(), "hasp-rs") {
		t.Errorf("err = %v", err)
	}
	if _, err := st.NodeFacts(Options{Group: "MAIL-RG"}); err == nil || !strings.Contains(err.Error(), "nfs-rg") {
		t.Errorf("err = %v", err)
	}
}

func TestRealScstat6Node(t *testing.T) {
	st := mustParse(t, string(realoutputs.Read(t, "solaris-cluster", "deimosfr-mytechnotebook-scstat-6node-sc3.2u2.txt")))
	if len(st.Nodes) != 6 || len(st.Paths) != 30 || len(st.Groups) != 0 {
		t.Fatalf("nodes=%d paths=%d groups=%d", len(st.Nodes), len(st.Paths), len(st.Groups))
	}
	for _, n := range st.Nodes {
		if n.Status != "Online" {
			t.Errorf("node %+v", n)
		}
	}
	q := st.Quorum
	if q == nil || q.Possible != 11 || q.Needed != 6 || q.Present != 11 || len(q.NodeVotes) != 6 || len(q.DeviceVotes) != 1 || q.DeviceVotes[0].Present != 5 {
		t.Errorf("quorum = %+v", q)
	}
	if p := st.Paths[0]; p.Endpoint1 != "PA-TLH-SRV-PRD-1:nge3" || p.Status != "Path online" {
		t.Errorf("path = %+v", p)
	}
	// No resource group section: asking for one is a clear source error.
	if _, err := st.NodeFacts(Options{Group: "MAIL-RG"}); err == nil {
		t.Error("no error for a missing resource group")
	}
}

func TestScstatG(t *testing.T) {
	// Legacy scstat -g plus the node section of a full scstat.
	in := testdata(t, "scstat-g-mail-rg.txt") + "\n-- Cluster Nodes --\n\n                    Node name           Status\n                    ---------           ------\n  Cluster node:     mars                Online\n  Cluster node:     venus               Online\n"
	st := mustParse(t, in)
	if !reflect.DeepEqual(st.GroupResources, map[string][]string{"MAIL-RG": {"meadow", "disk-rs", "mail-rs"}}) {
		t.Errorf("group resources = %v", st.GroupResources)
	}
	if len(st.Groups) != 2 || st.Groups[0].Suspended == nil || *st.Groups[0].Suspended {
		t.Fatalf("groups = %+v", st.Groups)
	}
	fs, err := st.NodeFacts(Options{Group: "MAIL-RG", Storage: []string{"disk-rs"}, Local: "mars"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]facts.Role{"mars": facts.RoleActive, "venus": facts.RoleStandby}
	if got := roles(fs); !reflect.DeepEqual(got, want) {
		t.Errorf("roles = %v", got)
	}
	if fs["mars"].SyncState != facts.SyncSynced || !fs["mars"].PeerUp["venus"] {
		t.Errorf("mars = %+v", fs["mars"])
	}
}

func roles(fs facts.Set) map[string]facts.Role {
	out := map[string]facts.Role{}
	for n, f := range fs {
		out[n] = f.Role
	}
	return out
}

func TestDocumentedStates(t *testing.T) {
	nodesUp := "=== Cluster Nodes ===\n\nNode Name   Status\n---------   ------\nmars        Online\nvenus       Online\n\n"
	st := mustParse(t, nodesUp+testdata(t, "clrg-status-documented-states.txt")+testdata(t, "clrs-status-documented-states.txt"))
	type exp struct {
		role   facts.Role
		redund *bool
		cause  string
	}
	cases := []struct {
		group   string
		storage []string
		want    map[string]exp
		sync    map[string]facts.SyncState
	}{
		{"MAIL-RG", nil, map[string]exp{
			"mars":  {facts.RoleUnknown, facts.Bool(true), "Pending_offline"},
			"venus": {facts.RoleUnknown, facts.Bool(true), "Pending_online"}}, nil},
		{"FAULT-RG", []string{"disk-rs"}, map[string]exp{
			"mars":  {facts.RoleActive, facts.Bool(true), "Online_faulted"},
			"venus": {facts.RoleStandby, facts.Bool(true), ""}},
			map[string]facts.SyncState{"mars": facts.SyncOutOfSync, "venus": facts.SyncOutOfSync}},
		{"STOP-RG", nil, map[string]exp{
			"mars":  {facts.RoleStandby, facts.Bool(true), ""},
			"venus": {facts.RoleUnknown, facts.Bool(true), "Error--stop failed"}}, nil},
		{"UNM-RG", nil, map[string]exp{
			"mars":  {facts.RoleUnknown, facts.Bool(false), "Unmanaged"},
			"venus": {facts.RoleUnknown, facts.Bool(false), "Unmanaged"}}, nil},
		{"SUSP-RG", []string{"meadow"}, map[string]exp{
			"mars":  {facts.RoleActive, facts.Bool(false), "suspended"},
			"venus": {facts.RoleStandby, facts.Bool(false), "suspended"}},
			map[string]facts.SyncState{"mars": facts.SyncSynced, "venus": facts.SyncSynced}},
		{"SUSP-RG", []string{"fault-hasp"}, nil,
			map[string]facts.SyncState{"mars": facts.SyncOutOfSync, "venus": facts.SyncSynced}},
	}
	for _, c := range cases {
		t.Run(c.group+strings.Join(c.storage, ","), func(t *testing.T) {
			fs, err := st.NodeFacts(Options{Group: c.group, Storage: c.storage})
			if err != nil {
				t.Fatal(err)
			}
			for n, w := range c.want {
				f := fs[n]
				if f == nil || f.Role != w.role {
					t.Errorf("%s = %+v, want role %v", n, f, w.role)
					continue
				}
				if (f.RedundancyEnabled == nil) != (w.redund == nil) || (w.redund != nil && *f.RedundancyEnabled != *w.redund) {
					t.Errorf("%s redundancy = %v, want %v", n, f.RedundancyEnabled, *w.redund)
				}
				if !strings.Contains(f.RoleCause, w.cause) {
					t.Errorf("%s cause %q lacks %q", n, f.RoleCause, w.cause)
				}
			}
			for n, w := range c.sync {
				if fs[n].SyncState != w {
					t.Errorf("%s sync = %q, want %q", n, fs[n].SyncState, w)
				}
			}
		})
	}
}

func TestNodeOffline(t *testing.T) {
	st := mustParse(t, testdata(t, "clnode-status-offline.txt")+testdata(t, "scstat-g-mail-rg.txt"))
	fs, err := st.NodeFacts(Options{Group: "MAIL-RG", Local: "mars"})
	if err != nil {
		t.Fatal(err)
	}
	if fs["venus"].Role != facts.RoleOffline || fs["mars"].Role != facts.RoleActive {
		t.Errorf("roles = %v", roles(fs))
	}
	if !reflect.DeepEqual(fs["mars"].PeerUp, map[string]bool{"venus": false}) {
		t.Errorf("peer_up = %v", fs["mars"].PeerUp)
	}
	// A faulted interconnect overrides membership for peer_up.
	st.Paths = []TransportPath{{Endpoint1: "mars:qfe0", Endpoint2: "venus:qfe0", Status: "Path faulted"}}
	st.Nodes[1].Status = "Online"
	fs, _ = st.NodeFacts(Options{Group: "MAIL-RG", Local: "mars"})
	if !reflect.DeepEqual(fs["mars"].PeerUp, map[string]bool{"venus": false}) {
		t.Errorf("peer_up with faulted path = %v", fs["mars"].PeerUp)
	}
}

func TestQuorumMembershipFallback(t *testing.T) {
	in := string(realoutputs.Read(t, "solaris-cluster", "rafacas-t-clquorum-status.txt")) + string(realoutputs.Read(t, "solaris-cluster", "rafacas-t-clrg-status.txt"))
	st := mustParse(t, in)
	fs, err := st.NodeFacts(Options{Group: "nfs-rg"})
	if err != nil {
		t.Fatal(err)
	}
	if fs["vincent"].Role != facts.RoleStandby {
		t.Errorf("vincent = %+v", fs["vincent"])
	}
}

func TestClassifiers(t *testing.T) {
	rg := map[string]RGClass{"Online": RGOnline, "ONLINE": RGOnline, "Offline": RGOffline, "Online_faulted": RGOnlineFaulted,
		"Pending_online": RGPending, "Pending_offline": RGPending, "Pending_online_blocked": RGPending, "PENDING_ONLINE": RGPending,
		"Error--stop failed": RGStopFailed, "ERROR_STOP_FAILED": RGStopFailed, "Unmanaged": RGUnmanaged, "Not_online": RGNotOnline,
		"": RGUnknown, "Degraded": RGUnknown}
	for s, w := range rg {
		if g := ClassifyRG(s); g != w {
			t.Errorf("rg %q = %v, want %v", s, g, w)
		}
	}
	storage := []struct {
		state, msg string
		want       facts.SyncState
	}{
		{"Online", "Online", facts.SyncSynced},
		{"Online", "Online - Service is online.", facts.SyncSynced},
		{"Online_not_monitored", "Online", facts.SyncSynced},
		{"Online", "Degraded - one path", facts.SyncOutOfSync},
		{"Online", "Faulted", facts.SyncOutOfSync},
		{"Online", "Unknown", facts.SyncUnknown},
		{"Start_failed", "Faulted", facts.SyncOutOfSync},
		{"Stop_failed", "", facts.SyncOutOfSync},
		{"Monitor_failed", "", facts.SyncOutOfSync},
		{"Offline", "Offline", facts.SyncOutOfSync},
		{"Starting", "Unknown - Starting", facts.SyncUnknown},
		{"Stopping", "", facts.SyncUnknown},
		{"Wibble", "", facts.SyncUnknown},
	}
	for _, c := range storage {
		if g := StorageSync(c.state, c.msg); g != c.want {
			t.Errorf("StorageSync(%q, %q) = %v, want %v", c.state, c.msg, g, c.want)
		}
	}
	nodes := map[string]NodeClass{"Online": NodeOnline, "Offline": NodeOffline, "": NodeUnknown, "Joining": NodeUnknown}
	for s, w := range nodes {
		if g := ClassifyNode(s); g != w {
			t.Errorf("node %q = %v, want %v", s, g, w)
		}
	}
}

func TestMalformed(t *testing.T) {
	cases := []struct{ name, in, line, msg string }{
		{"empty", "", "", "no Solaris Cluster status"},
		{"garbage", "hello\nworld\n", "", "no Solaris Cluster status"},
		{"short node row", "Node Name  Status\n---------  ------\nmars\n", "line 3", "node name and a status"},
		{"bad suspended", "Group Name  Node Name  Suspended  Status\n---------- --------- --------- ------\nrg1  mars  Maybe  Online\n", "line 3", "neither Yes nor No"},
		{"short group row", "Group Name  Node Name  Suspended  Status\n---------- --------- --------- ------\nrg1  mars  No\n", "line 3", "want node"},
		{"continuation first", "Group Name  Node Name  Status\n---------- --------- ------\n      mars  Online\n", "line 3", "continues no group"},
		{"short resource row", "Resource Name  Node Name  State  Status Message\n---- ---- ---- ----\nrs1  mars\n", "line 3", "want node, state"},
		{"bad quorum", "Needed   Present   Possible\n------   -------   --------\n2  x  3\n", "line 3", "not a vote count"},
		{"bad vote", "Node Name  Present  Possible  Status\n---- ---- ---- ----\nmars  one  1  Online\n", "line 3", "vote counts"},
		{"short path", "Endpoint1  Endpoint2  Status\n---- ---- ----\nmars:qfe0  venus:qfe0\n", "line 3", "two endpoints"},
		{"scstat short group", "     Group: MAIL-RG  mars\n", "line 1", "group, node, state"},
		{"scstat bad votes", "  Quorum votes needed:  many\n", "line 1", "vote count"},
		{"too long", strings.Repeat("x", MaxLineBytes+1) + "\n", "line 1", "longer than"},
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

func TestSkipsUnknownTables(t *testing.T) {
	in := "=== Cluster Device Groups ===\n\n--- Device Group Status ---\n\nDevice Group Name     Primary     Secondary     Status\n-----------------     -------     ---------     ------\nnfsdg                 mars        venus         Online\n\n" +
		"=== IPMP Groups ===\n\nNode Name   Group      Status   Adapter   Status\n---------   -----      ------   -------   ------\nmars        sc_ipmp0   Online   qfe1      Online\n\n" +
		testdata(t, "clnode-status-offline.txt")
	st := mustParse(t, in)
	var names []string
	for _, n := range st.Nodes {
		names = append(names, n.Name+"="+n.Status)
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"mars=Online", "venus=Offline"}) {
		t.Errorf("nodes = %v", names)
	}
}

func TestParseList(t *testing.T) {
	if got := ParseList("disk-rs\n\n  hasp2 \r\n"); !reflect.DeepEqual(got, []string{"disk-rs", "hasp2"}) {
		t.Errorf("ParseList = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range realoutputs.SeedGlob(f, "solaris-cluster/*") {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	m, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, p := range m {
		if b, err := os.ReadFile(p); err == nil {
			f.Add([]byte(transcript.StripHeader(string(b))))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		var storage []string
		for _, r := range st.Resources {
			storage = append(storage, r.Resource)
		}
		for _, g := range st.groupNames() {
			for _, local := range []string{"", "mars"} {
				fs, err := st.NodeFacts(Options{Group: g, Storage: storage, Local: local})
				if err != nil {
					t.Fatalf("NodeFacts(%q): %v", g, err)
				}
				for n, nf := range fs {
					if nf.Role == "" {
						t.Fatalf("node %s without role", n)
					}
				}
			}
		}
	})
}
