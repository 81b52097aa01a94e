package dovecot

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/internal/realoutputs"
)

func TestRealOverview(t *testing.T) {
	ov, err := ParseOverview(bytes.NewReader(realoutputs.Read(t, "dovecot", "dovecot-doc-2.3-replicator-status-overview.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ov.Queued) != "map[failed:0 full resync:90 high:0 low:0 sync:0]" || ov.WaitingFailed != 10 || ov.TotalUsers != 100 {
		t.Errorf("%+v", ov)
	}
	n := NodeFacts(Input{Overview: ov})
	if n.SyncState != facts.SyncOutOfSync || n.SyncPending["items"] != 90 {
		t.Errorf("%+v", n)
	}
	ov, err = ParseOverview(bytes.NewReader(realoutputs.Read(t, "dovecot", "heinlein-checkmk-dovereplstat-comment-overview-38993users-DECOMMENTED.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if ov.Queued["high"] != 6766 || ov.Queued["failed"] != 20 || ov.TotalUsers != 38993 {
		t.Errorf("%+v", ov)
	}
	if n := NodeFacts(Input{Overview: ov}); n.SyncState != facts.SyncOutOfSync || n.SyncPending["items"] != 6766+2767+2667 {
		t.Errorf("%+v", n)
	}
}

func TestRealUsers(t *testing.T) {
	us, err := ParseUsers(bytes.NewReader(realoutputs.Read(t, "dovecot", "dovecot-doc-2.3-replicator-status-users-with-failed.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 3 || us[1].Username != "test1" || !us[1].Failed || us[0].Failed ||
		*us[1].SuccessSync != 3*time.Hour+20*time.Minute+46*time.Second || *us[1].FastSync != time.Second {
		t.Errorf("%+v", us)
	}
	n := NodeFacts(Input{Users: Count(us)})
	if n.SyncState != facts.SyncOutOfSync || !strings.Contains(n.RoleCause, "1 users") || strings.Contains(n.RoleCause, "test1") {
		t.Errorf("%+v", n)
	}
}

func TestRealDsync(t *testing.T) {
	sl, err := ParseDsyncStatus(bytes.NewReader(realoutputs.Read(t, "dovecot", "dovecot-doc-2.3-replicator-dsync-status.txt")))
	if err != nil {
		t.Fatal(err)
	}
	want := "[{test100 full Waiting for dsync to finish} {test1 normal Waiting for handshake} { - Not connected} { - Not connected}]"
	if fmt.Sprint(sl) != want {
		t.Errorf("got %v", sl)
	}
	if up, ok := PeerReachable(sl); !up || !ok {
		t.Errorf("reachable %v %v", up, ok)
	}
}

func TestMappingTable(t *testing.T) {
	ov := func(sync, high, low, failed, full, waiting int64) *Overview {
		return &Overview{Queued: map[string]int64{"sync": sync, "high": high, "low": low, "failed": failed, "full resync": full}, WaitingFailed: waiting}
	}
	for _, c := range []struct {
		name string
		in   Input
		want string
	}{
		{"all zero", Input{Overview: ov(0, 0, 0, 0, 0, 0)}, "synced items=0 peers=map[]"},
		{"queued sync", Input{Overview: ov(3, 0, 0, 0, 0, 0)}, "syncing items=3 peers=map[]"},
		{"queued high+low+full", Input{Overview: ov(0, 1, 2, 0, 4, 0)}, "syncing items=7 peers=map[]"},
		{"queued failed", Input{Overview: ov(0, 0, 0, 1, 0, 0)}, "out_of_sync items=0 peers=map[]"},
		{"waiting failed", Input{Overview: ov(0, 0, 0, 0, 0, 2)}, "out_of_sync items=0 peers=map[]"},
		{"user failed", Input{Overview: ov(0, 0, 0, 0, 0, 0), Users: Count([]User{{Username: "a"}, {Username: "b", Failed: true}})}, "out_of_sync items=0 peers=map[]"},
		{"users ok", Input{Users: Count([]User{{Username: "a"}})}, "synced items=-1 peers=map[]"},
		{"nothing", Input{}, "unknown items=-1 peers=map[]"},
		{"peer connected", Input{Overview: ov(0, 0, 0, 0, 0, 0), Peer: "mx2", Dsync: []DsyncSlot{{Type: "-", Status: "Not connected"}, {Type: "-", Status: "Idle"}}}, "synced items=0 peers=map[mx2:true]"},
		{"peer failing", Input{Overview: ov(1, 0, 0, 0, 0, 0), Peer: "mx2", Dsync: []DsyncSlot{{Type: "-", Status: "Failed to connect to '/var/run/dovecot/doveadm-server' - last attempt 3 secs ago"}}}, "syncing items=1 peers=map[mx2:false]"},
		{"peer unknown", Input{Overview: ov(0, 0, 0, 0, 0, 0), Peer: "mx2", Dsync: []DsyncSlot{{Type: "-", Status: "Not connected"}}}, "synced items=0 peers=map[]"},
		// a dsync running with nothing queued (the only change is being synced now)
		{"sync in flight", Input{Overview: ov(0, 0, 0, 0, 0, 0), Peer: "mx2", Dsync: []DsyncSlot{{Username: "u", Type: "incremental", Status: "Waiting for dsync to finish"}}}, "syncing items=0 peers=map[mx2:true]"},
	} {
		n := NodeFacts(c.in)
		items := float64(-1)
		if v, ok := n.SyncPending["items"]; ok {
			items = v
		}
		got := fmt.Sprintf("%s items=%.0f peers=%v", n.SyncState, items, n.PeerUp)
		if n.PeerUp == nil {
			got = fmt.Sprintf("%s items=%.0f peers=map[]", n.SyncState, items)
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestJSON(t *testing.T) {
	// field names as doveadm's JSON formatter prints the column keys
	us, err := ParseUsersJSON([]byte(`[{"username":"u1","priority":"none","fast sync":"00:00:03","full sync":"26:10:00","success sync":"00:00:03","failed":"-"},
{"username":"u2","priority":"high","fast sync":"-","full sync":"1 days 02:00:00","success sync":"-","failed":"y"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || *us[0].FullSync != 26*time.Hour+10*time.Minute || us[1].FastSync != nil || *us[1].FullSync != 26*time.Hour || !us[1].Failed {
		t.Errorf("%+v", us)
	}
	ov, err := ParseOverviewJSON([]byte(`[{"field":"Queued 'sync' requests","value":"2"},{"field":"Total number of known users","value":"5"}]`))
	if err != nil || ov.Queued["sync"] != 2 || ov.TotalUsers != 5 {
		t.Errorf("%+v %v", ov, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"overview not a count", ovErr("Queued 'sync' requests        0\nQueued 'high' requests  many\n"), "line 2: field \"Queued 'high' requests\""},
		{"overview one word", ovErr("Queued\n"), "line 1"},
		{"overview empty", ovErr(""), "no data"},
		{"users no header", usersErr("test1 none 00:00:01 00:00:01 00:00:01 -\n"), "line 1: expected the header"},
		{"users columns", usersErr("username priority fast sync full sync success sync failed\ntest1 none 00:00:01 -\n"), "line 2: 4 columns, want 6"},
		{"users bad time", usersErr("username priority fast sync full sync success sync failed\ntest1 none 1:2 00:00:01 00:00:01 -\n"), "line 2: field \"fast sync\""},
		{"users bad failed", usersErr("username priority fast sync full sync failed\ntest1 none 00:00:01 00:00:01 maybe\n"), "line 2: field \"failed\""},
		{"users empty", usersErr(""), "no header"},
		{"dsync header", dsyncErr("user kind state\n"), "line 1: expected the header"},
		{"dsync short", dsyncErr("username type status\n    -\n"), "line 2"},
		{"json syntax", func() error { _, err := ParseUsersJSON([]byte("[\n{\"username\": }]")); return err }(), "line 2"},
		{"json type", func() error { _, err := ParseUsersJSON([]byte(`[{"username": 5}]`)); return err }(), "line 1"},
		{"json missing failed", func() error { _, err := ParseUsersJSON([]byte(`[{"username": "u"}]`)); return err }(), "element #1: field \"failed\" missing"},
		{"ov json", func() error { _, err := ParseOverviewJSON([]byte(`[{"field":"x"}]`)); return err }(), "element #1"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, c.err, c.want)
		}
	}
}

func ovErr(s string) error    { _, err := ParseOverview(strings.NewReader(s)); return err }
func usersErr(s string) error { _, err := ParseUsers(strings.NewReader(s)); return err }
func dsyncErr(s string) error { _, err := ParseDsyncStatus(strings.NewReader(s)); return err }

// addSeeds adds a real output to the seed corpus; where shared/real-outputs
// is absent only that seed is lost, not the target.
func addSeeds(f *testing.F, name string) {
	if _, ok := realoutputs.Lookup(f); ok {
		f.Add(realoutputs.Read(f, "dovecot", name))
	}
}

func checkFacts(t *testing.T, n *facts.Node) {
	switch n.SyncState {
	case facts.SyncSynced, facts.SyncSyncing, facts.SyncOutOfSync, facts.SyncUnknown:
	default:
		t.Fatalf("state %q", n.SyncState)
	}
	if v, ok := n.SyncPending["items"]; ok && v < 0 {
		t.Fatalf("negative pending %v", v)
	}
}

func FuzzParseOverview(f *testing.F) {
	addSeeds(f, "dovecot-doc-2.3-replicator-status-overview.txt")
	addSeeds(f, "heinlein-checkmk-dovereplstat-comment-overview-38993users-DECOMMENTED.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		if ov, err := ParseOverview(bytes.NewReader(b)); err == nil {
			checkFacts(t, NodeFacts(Input{Overview: ov}))
		}
	})
}

func FuzzParseUsers(f *testing.F) {
	addSeeds(f, "dovecot-doc-2.3-replicator-status-users-with-failed.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		if us, err := ParseUsers(bytes.NewReader(b)); err == nil {
			checkFacts(t, NodeFacts(Input{Users: Count(us)}))
		}
	})
}

func FuzzParseUsersJSON(f *testing.F) {
	f.Add([]byte(`[{"username":"u1","priority":"none","fast sync":"00:00:03","full sync":"26:10:00","success sync":"00:00:03","failed":"-"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if us, err := ParseUsersJSON(b); err == nil {
			checkFacts(t, NodeFacts(Input{Users: Count(us)}))
		}
	})
}

func FuzzParseOverviewJSON(f *testing.F) {
	f.Add([]byte(`[{"field":"Queued 'sync' requests","value":"2"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ov, err := ParseOverviewJSON(b); err == nil {
			checkFacts(t, NodeFacts(Input{Overview: ov}))
		}
	})
}

func FuzzParseDsyncStatus(f *testing.F) {
	addSeeds(f, "dovecot-doc-2.3-replicator-dsync-status.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		if sl, err := ParseDsyncStatus(bytes.NewReader(b)); err == nil {
			PeerReachable(sl)
		}
	})
}
