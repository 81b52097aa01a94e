package collector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/prober"
	"github.com/mailcluster/mailcluster_exporter/config"
)

type fakeSource struct {
	set facts.Set
	err error
	pan bool
}

func (f fakeSource) Collect(context.Context) (facts.Set, error) {
	if f.pan {
		panic("parser bug")
	}
	return f.set, f.err
}

func loadCluster(t *testing.T, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Load([]byte(yml), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const pairYAML = `
clusters:
  - name: pair
    kind: active_standby
    nodes:
      - {name: a, address: 127.0.0.1}
      - {name: b, address: 127.0.0.2}
`

func newPair(t *testing.T, runners ...*sourceRunner) *Cluster {
	t.Helper()
	cfg := loadCluster(t, pairYAML)
	c, err := New(cfg.Clusters[0], cfg.Global, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.sources = runners
	for _, r := range runners {
		c.provides.Role = c.provides.Role || r.provides.Role
		c.provides.Sync = c.provides.Sync || r.provides.Sync
	}
	return c
}

func TestFailedSourceLeavesUnknownNotAbsent(t *testing.T) {
	c := newPair(t, &sourceRunner{name: "broken", provides: Provides{Role: true, Sync: true}, nodes: []string{"a"},
		src: fakeSource{err: errors.New("exit status 1")}})
	snap := c.Collect(context.Background())
	a := snap.Facts["a"]
	if a == nil || a.Role != facts.RoleUnknown || a.SyncState != facts.SyncUnknown {
		t.Fatalf("node a after a failed role+sync source: %+v; want role and sync unknown", a)
	}
	// Node b is described by no source of this exporter (a local source on
	// a, say): this exporter reports nothing about its role, so that b's
	// own exporter's fact is not contradicted; the rules make a node that
	// nobody reports unknown.
	if b := snap.Facts["b"]; b != nil && b.Role != "" {
		t.Errorf("node b is described by no source here, want no role fact, got %+v", b)
	}
	if len(snap.Sources) != 1 || snap.Sources[0].Up || snap.Sources[0].Node != "a" || snap.Sources[0].Name != "broken" {
		t.Errorf("source status = %+v; want one entry broken/a down", snap.Sources)
	}
}

func TestPanickingSourceIsContained(t *testing.T) {
	c := newPair(t, &sourceRunner{name: "buggy", provides: Provides{Sync: true}, nodes: []string{"a", "b"}, src: fakeSource{pan: true}})
	snap := c.Collect(context.Background())
	for _, st := range snap.Sources {
		if st.Up {
			t.Errorf("a panicking source reported up: %+v", st)
		}
	}
	if snap.Facts["a"].SyncState != facts.SyncUnknown {
		t.Errorf("sync after panic = %q, want unknown", snap.Facts["a"].SyncState)
	}
}

func TestMergePrecedenceAndWorstSync(t *testing.T) {
	first := facts.Set{}
	first.Node("a").Role, first.Node("a").SyncState = facts.RoleActive, facts.SyncSynced
	second := facts.Set{}
	second.Node("a").Role, second.Node("a").SyncState = facts.RoleStandby, facts.SyncOutOfSync
	second.Node("a").Version = "2.3.19"
	second.Node("ghost").Role = facts.RoleActive // not configured: ignored
	c := newPair(t,
		&sourceRunner{name: "one", provides: Provides{Role: true, Sync: true}, nodes: []string{"a"}, src: fakeSource{set: first}},
		&sourceRunner{name: "two", provides: Provides{Role: true, Sync: true}, nodes: []string{"a"}, src: fakeSource{set: second}})
	snap := c.Collect(context.Background())
	a := snap.Facts["a"]
	if a.Role != facts.RoleActive {
		t.Errorf("role = %q; the first configured source must take precedence", a.Role)
	}
	if a.SyncState != facts.SyncOutOfSync {
		t.Errorf("sync = %q; the worse sync state must win", a.SyncState)
	}
	if a.Version != "2.3.19" {
		t.Errorf("version = %q; fields the first source left empty come from later ones", a.Version)
	}
	if _, ok := snap.Facts["ghost"]; ok {
		t.Error("a node that is not configured must not appear")
	}
}

func outcome(name string, up bool) ProbeOutcome {
	return ProbeOutcome{Service: &config.Service{Name: name}, Result: prober.Result{Up: up}}
}

func answered(name string) ProbeOutcome {
	return ProbeOutcome{Service: &config.Service{Name: name}, Result: prober.Result{Answered: true}}
}

func notRun(name string) ProbeOutcome {
	return ProbeOutcome{Service: &config.Service{Name: name}, NotRun: true}
}

func TestObserve(t *testing.T) {
	services := map[string][]ProbeOutcome{
		"serving":     {outcome("smtp", true), outcome("imap", false)},
		"other":       {outcome("smtp", false), outcome("imap", true)}, // imap only: alive, not serving
		"liveness":    {outcome("smtp", false), outcome("imap", false)},
		"banner":      {answered("smtp"), outcome("imap", false)}, // greeted, then failed EHLO
		"silent":      {outcome("smtp", false), outcome("imap", false)},
		"not-run":     {notRun("smtp"), notRun("imap")},
		"partial-run": {notRun("smtp"), outcome("imap", false)},
	}
	live := map[string][]ProbeOutcome{
		"liveness": {outcome("tcp_22", true)},
		"silent":   {outcome("tcp_22", false)},
		"not-run":  {notRun("tcp_22")},
		"only-ssh": {outcome("tcp_22", true)},
	}
	got := observe("smtp", services, live)
	want := map[string]facts.Observation{
		"serving": facts.ObservedServing, "other": facts.ObservedAlive, "liveness": facts.ObservedAlive,
		"banner": facts.ObservedAlive, "silent": facts.ObservedSilent, "partial-run": facts.ObservedSilent,
		"only-ssh": facts.ObservedAlive,
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: observed %q, want %q", n, got[n], w)
		}
	}
	if o, ok := got["not-run"]; ok {
		t.Errorf("a node none of whose probes ran must have no observation, got %q", o)
	}
}

func TestRoleTracker(t *testing.T) {
	rt := NewRoleTracker()
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	obs := func(r facts.Role, sec int64) RoleHistory {
		set := facts.Set{}
		set.Node("a").Role = r
		return rt.Observe("c", set, at(sec))["a"]
	}
	if h := obs(facts.RoleActive, 100); h.Changes != 0 || h.LastChange != 0 {
		t.Errorf("first observation counted as a change: %+v", h)
	}
	if h := obs(facts.RoleUnknown, 110); h.Changes != 0 {
		t.Errorf("a failed source (unknown) counted as a failover: %+v", h)
	}
	if h := obs(facts.RoleActive, 120); h.Changes != 0 {
		t.Errorf("active → unknown → active counted: %+v", h)
	}
	if h := obs(facts.RoleStandby, 130); h.Changes != 1 || h.LastChange != 130 {
		t.Errorf("active → standby: %+v; want 1 change at 130", h)
	}
	if h := obs(facts.RoleOffline, 135); h.Changes != 1 {
		t.Errorf("standby → offline is not a failover: %+v", h)
	}
	if h := obs(facts.RoleStandby, 136); h.Changes != 1 {
		t.Errorf("offline → standby is not a failover: %+v", h)
	}
	// A collection that started earlier but finished later (an overlapping
	// /probe scrape) must not roll the role back and count two failovers.
	if h := obs(facts.RoleActive, 120); h.Changes != 1 || h.Role != facts.RoleStandby {
		t.Errorf("an older observation changed the history: %+v", h)
	}
	if h := obs(facts.RoleStandby, 137); h.Changes != 1 {
		t.Errorf("standby again after a stale observation: %+v", h)
	}
	set := facts.Set{}
	set.Node("a").Role, set.Node("a").LastRoleChange = facts.RoleStandby, 500
	if h := rt.Observe("c", set, at(140))["a"]; h.Changes != 1 || h.LastChange != 500 {
		t.Errorf("a change time reported by the source must be used: %+v", h)
	}
}

// Every source type the configuration accepts has an implementation.
func TestEverySourceTypeIsImplemented(t *testing.T) {
	for _, typ := range config.SourceTypes {
		if _, ok := factories[typ]; !ok && typ != "service" {
			t.Errorf("source type %q is accepted by the configuration but has no factory", typ)
		}
	}
	for typ := range factories {
		found := false
		for _, known := range config.SourceTypes {
			found = found || known == typ
		}
		if !found {
			t.Errorf("factory %q is not a configurable source type", typ)
		}
	}
}

// A master_slave node's configured role is reported only where a source
// of this exporter confirms the node is up; a source's own role stands, a
// failed source leaves unknown, and an undescribed node gets no role.
func TestConfiguredRolesNeedEvidence(t *testing.T) {
	const ms = `
clusters:
  - name: ms
    kind: master_slave
    nodes:
      - {name: m, address: 127.0.0.1, role: master}
      - {name: s, address: 127.0.0.2, role: slave}
`
	described := func(names ...string) facts.Set {
		set := facts.Set{}
		for _, n := range names {
			set.Node(n)
		}
		return set
	}
	offline := facts.Set{}
	offline.Node("s").Role = facts.RoleOffline
	cases := []struct {
		name    string
		runners []*sourceRunner
		want    map[string]facts.Role // "" = no role fact
	}{
		{"no source: no evidence", nil, map[string]facts.Role{"m": "", "s": ""}},
		{"local source ran on m", []*sourceRunner{
			{name: "mf", provides: Provides{Sync: true}, nodes: []string{"m"}, local: true, src: fakeSource{set: facts.Set{}}},
		}, map[string]facts.Role{"m": facts.RoleMaster, "s": ""}},
		{"local source failed on m", []*sourceRunner{
			{name: "mf", provides: Provides{Sync: true}, nodes: []string{"m"}, local: true, src: fakeSource{err: errors.New("unreadable")}},
		}, map[string]facts.Role{"m": facts.RoleUnknown, "s": ""}},
		{"one local source failed, another ran", []*sourceRunner{
			{name: "mf", provides: Provides{Role: true, Sync: true}, nodes: []string{"m"}, local: true, src: fakeSource{err: errors.New("unreadable")}},
			{name: "version", nodes: []string{"m"}, local: true, src: fakeSource{set: described("m")}},
		}, map[string]facts.Role{"m": facts.RoleMaster, "s": ""}},
		{"multi-node source describes only m", []*sourceRunner{
			{name: "cmd", provides: Provides{Role: true}, nodes: []string{"m", "s"}, src: fakeSource{set: described("m")}},
		}, map[string]facts.Role{"m": facts.RoleMaster, "s": ""}},
		{"a source says offline", []*sourceRunner{
			{name: "cmd", provides: Provides{Role: true}, nodes: []string{"m", "s"}, src: fakeSource{set: offline}},
		}, map[string]facts.Role{"m": "", "s": facts.RoleOffline}},
		{"multi-node source failed", []*sourceRunner{
			{name: "cmd", provides: Provides{Role: true}, nodes: []string{"m", "s"}, src: fakeSource{err: errors.New("exit status 1")}},
		}, map[string]facts.Role{"m": facts.RoleUnknown, "s": facts.RoleUnknown}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadCluster(t, ms)
			c, err := New(cfg.Clusters[0], cfg.Global, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c.sources = tc.runners
			snap := c.Collect(context.Background())
			for n, want := range tc.want {
				got := facts.Role("")
				if f := snap.Facts[n]; f != nil {
					got = f.Role
				}
				if got != want {
					t.Errorf("%s: role %q, want %q", n, got, want)
				}
			}
		})
	}
}

// A version from a greeting stands in only when no source reports
// versions, and it comes from the first configured service, whatever the
// order the probes finished in.
func TestGreetingVersions(t *testing.T) {
	withSource := loadCluster(t, pairYAML+`    services: [smtp]
    sources:
      - type: version
        version: {command: {argv: [echo, "1.0"]}}
`)
	c, err := New(withSource.Clusters[0], withSource.Global, Options{LocalNode: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if c.greetingVersions {
		t.Error("a cluster with a version source must not take versions from greetings")
	}
	agentless := loadCluster(t, pairYAML+`    services: [imap, smtp]
`)
	c, err = New(agentless.Clusters[0], agentless.Global, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl := agentless.Clusters[0]
	imap, smtp := cl.Services[0], cl.Services[1]
	snap := &Snapshot{Facts: facts.Set{}, Services: map[string][]ProbeOutcome{"a": {
		{Service: smtp, Result: prober.Result{Up: true, Version: "Exim 4.96"}},
		{Service: imap, Result: prober.Result{Up: true, Version: "Cyrus IMAP v3.4.3"}},
	}}}
	c.versionsFromGreetings(snap)
	if got := snap.Facts["a"].Version; got != "Cyrus IMAP v3.4.3" {
		t.Errorf("version %q; want the first configured service's (imap)", got)
	}
}

// /proc/drbd names no peer: in a pair, peer_up is about the other node.
func TestDRBDProcPeerIsTheOtherNode(t *testing.T) {
	proc := filepath.Join(t.TempDir(), "drbd")
	// DRBD 8.4 /proc/drbd, one Connected UpToDate minor (the documented layout)
	if err := os.WriteFile(proc, []byte("version: 8.4.11 (api:1/proto:86-101)\n"+
		"srcversion: 2D876214BAAD53B31ADC1D6\n"+
		" 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n"+
		"    ns:512 nr:0 dw:512 dr:2604 al:2 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := loadCluster(t, pairYAML+`    sources:
      - type: drbd
        drbd: {format: proc, proc_file: `+proc+`, resource: "0"}
`)
	c, err := New(cfg.Clusters[0], cfg.Global, Options{LocalNode: "a"})
	if err != nil {
		t.Fatal(err)
	}
	snap := c.Collect(context.Background())
	a := snap.Facts["a"]
	if a == nil || len(a.PeerUp) != 1 {
		t.Fatalf("facts of a: %+v; want one peer", a)
	}
	if _, ok := a.PeerUp["b"]; !ok {
		t.Errorf("peer_up %v; want it keyed by the other node, b", a.PeerUp)
	}
}

// A probe blip changes what the exporter observes, never the reported
// role: it is no failover.
func TestProbeBlipIsNoFailover(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := loadCluster(t, fmt.Sprintf(`
clusters:
  - name: pair
    kind: active_standby
    nodes:
      - {name: a, address: 127.0.0.1}
      - {name: b, address: 127.0.0.2}
    services:
      - {name: smtp, protocol: tcp, port: %d, timeout: 1s}
`, port))
	c, err := New(cfg.Clusters[0], cfg.Global, Options{})
	if err != nil {
		t.Fatal(err)
	}
	reported := facts.Set{}
	reported.Node("a").Role = facts.RoleActive
	c.sources = []*sourceRunner{{name: "keepalived", provides: Provides{Role: true}, nodes: []string{"a"}, local: true, src: fakeSource{set: reported}}}
	first := c.Collect(context.Background())
	ln.Close() // the service stops answering for one collection
	blip := c.Collect(context.Background())
	if first.Observed["a"] != facts.ObservedServing || blip.Observed["a"] != facts.ObservedSilent {
		t.Fatalf("observed %q then %q, want serving then silent", first.Observed["a"], blip.Observed["a"])
	}
	if h := blip.Roles["a"]; h.Role != facts.RoleActive || h.Changes != 0 {
		t.Errorf("role history %+v; a probe blip must not count as a role change", h)
	}
}
