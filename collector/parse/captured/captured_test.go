// Package captured checks the parsers against the real outputs captured
// from the end-to-end testbed's daemons (e2e/captured, produced by
// e2e/testbed/capture.sh: keepalived 2.2.7, Dovecot 2.3.19, Postfix 3.7 on
// Debian 12), each in a known cluster state.
package captured

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/dovecot"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/keepalived"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/postqueue"
)

const dir = "../../../e2e/captured"

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every keepalived dump format gives the role the testbed was in; the
// dumps of a BACKUP also say that it hears a master (the peer's view).
func TestKeepalivedCaptures(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   facts.Role
		hears  bool // the DATA and JSON dumps state a master is heard
	}{
		{"keepalived/node-a.steady", facts.RoleActive, false},
		{"keepalived/node-b.steady", facts.RoleStandby, true},
		{"keepalived/node-b.failover", facts.RoleActive, false},
		{"keepalived/node-a.split-brain", facts.RoleActive, false},
		{"keepalived/node-b.split-brain", facts.RoleActive, false},
	} {
		parsers := map[string]func([]byte) (*keepalived.Data, error){
			".keepalived.data": func(b []byte) (*keepalived.Data, error) { return keepalived.ParseData(bytes.NewReader(b)) },
			".keepalived.json": keepalived.ParseJSON,
			".keepalived.state": func(b []byte) (*keepalived.Data, error) {
				in, err := keepalived.ParseStateFile(bytes.NewReader(b))
				return &keepalived.Data{Instances: in}, err
			},
		}
		for suffix, parse := range parsers {
			d, err := parse(read(t, tc.prefix+suffix))
			if err != nil {
				t.Errorf("%s%s: %v", tc.prefix, suffix, err)
				continue
			}
			n, err := keepalived.NodeFacts(d, "VI_MAIL")
			if err != nil {
				t.Errorf("%s%s: %v", tc.prefix, suffix, err)
				continue
			}
			if n.Role != tc.want {
				t.Errorf("%s%s: role %q, want %q", tc.prefix, suffix, n.Role, tc.want)
			}
			in, _ := keepalived.Select(d.Instances, "VI_MAIL")
			if hears := keepalived.HearsMaster(in); suffix != ".keepalived.state" && hears != tc.hears {
				t.Errorf("%s%s: hears a master %v, want %v", tc.prefix, suffix, hears, tc.hears)
			}
		}
		stats, err := keepalived.ParseStats(bytes.NewReader(read(t, tc.prefix+".keepalived.stats")))
		if err != nil || len(stats) == 0 {
			t.Errorf("%s.keepalived.stats: %d instances, %v", tc.prefix, len(stats), err)
		}
	}
	// keepalived stopped: its notify script wrote STOP, which is no role.
	in, err := keepalived.ParseStateFile(bytes.NewReader(read(t, "keepalived/node-a.stopped.keepalived.state")))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := keepalived.NodeFacts(&keepalived.Data{Instances: in}, "VI_MAIL"); err != nil || n.Role != facts.RoleUnknown {
		t.Errorf("stopped keepalived: %+v, %v; want role unknown", n, err)
	}
}

// The replicator's view in each testbed state gives the right sync state.
func TestDovecotCaptures(t *testing.T) {
	for _, tc := range []struct {
		state string
		want  facts.SyncState
	}{
		{"node-a.steady", facts.SyncSynced},
		{"node-b.steady", facts.SyncSynced},
		{"node-a.peer-dovecot-down", facts.SyncOutOfSync},
		{"node-a.peer-recovered", facts.SyncSynced},
		{"node-a.repl-blocked", facts.SyncSyncing},
	} {
		for _, users := range []string{".replicator-status-all.txt", ".replicator-status-all.json"} {
			in := dovecot.Input{Peer: "peer"}
			var err error
			b := read(t, "dovecot/"+tc.state+users)
			var us []dovecot.User
			if users == ".replicator-status-all.json" {
				us, err = dovecot.ParseUsersJSON(b)
			} else {
				us, err = dovecot.ParseUsers(bytes.NewReader(b))
			}
			in.Users = dovecot.Count(us)
			if err != nil {
				t.Fatalf("%s%s: %v", tc.state, users, err)
			}
			if in.Overview, err = dovecot.ParseOverview(bytes.NewReader(read(t, "dovecot/"+tc.state+".replicator-status.txt"))); err != nil {
				t.Fatalf("%s overview: %v", tc.state, err)
			}
			if in.Dsync, err = dovecot.ParseDsyncStatus(bytes.NewReader(read(t, "dovecot/"+tc.state+".replicator-dsync-status.txt"))); err != nil {
				t.Fatalf("%s dsync-status: %v", tc.state, err)
			}
			if n := dovecot.NodeFacts(in); n.SyncState != tc.want {
				t.Errorf("%s (%s): sync %q (%s), want %q", tc.state, users, n.SyncState, n.RoleCause, tc.want)
			}
		}
	}
}

// postqueue -j with 3 deferred and 1 held message, and the empty queue.
func TestPostqueueCaptures(t *testing.T) {
	now := time.Unix(1795313300, 0)
	qs, err := postqueue.Queues(bytes.NewReader(read(t, "postfix/node-a.deferred-held.postqueue-j.json")), now)
	if err != nil {
		t.Fatal(err)
	}
	if qs["deferred"].Messages != 3 || qs["hold"].Messages != 1 || qs["active"].Messages != 0 {
		t.Errorf("queues = %+v; want 3 deferred, 1 hold", qs)
	}
	if qs["deferred"].Bytes < 1000 || qs["deferred"].OldestAgeSeconds == nil {
		t.Errorf("deferred = %+v; want bytes and an oldest age", qs["deferred"])
	}
	qs, err = postqueue.Queues(bytes.NewReader(read(t, "postfix/node-a.steady.postqueue-j.json")), now)
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range qs {
		if q.Messages != 0 || q.OldestAgeSeconds != nil {
			t.Errorf("empty queue %s = %+v", name, q)
		}
	}
}
