package collector

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// mfTestbed is a master (127.0.0.31) and a slave (127.0.0.32) whose
// replica ports are free ports of the loopback addresses.
type mfTestbed struct {
	dir                   string
	settings              int   // the settings-sync port (REPLICA_SERVER_*)
	data                  []int // data sync ports on the master
	master, slave         *config.Node
	queueSaved, queueHeld string
}

func newMFTestbed(t *testing.T) *mfTestbed {
	t.Helper()
	b := &mfTestbed{dir: t.TempDir(),
		master: &config.Node{Name: "mf-master", Address: "127.0.0.31", Role: "master"},
		slave:  &config.Node{Name: "mf-slave", Address: "127.0.0.32", Role: "slave"}}
	b.settings = freePort(t)
	b.data = []int{freePort(t), freePort(t)}
	b.queueSaved, b.queueHeld = filepath.Join(b.dir, "saved"), filepath.Join(b.dir, "held")
	for _, d := range []string{b.queueSaved, b.queueHeld} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (b *mfTestbed) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// slaveDef is the slave's mf_replica.def: settings sync to the master and
// data sync on the two data ports.
func (b *mfTestbed) slaveDef(t *testing.T) string {
	return b.write(t, "slave.def", fmt.Sprintf("REPLICA_SERVER_1 = %s:%d\nENABLE_REP_DATA = ON\nDATA_REPORT_SYNC_SERVER_PORT = %d\nDATA_SAVE_SYNC_SERVER_PORT = %d\n",
		b.master.Address, b.settings, b.data[0], b.data[1]))
}

func (b *mfTestbed) source(t *testing.T, cfg *config.MFilterSource) Source {
	t.Helper()
	env := ssEnv("mf-slave", b.master, b.slave)
	env.Cluster.Kind = config.KindMasterSlave
	s, err := newMFilterSource(env, &config.Source{Type: "mfilter", MFilter: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *mfTestbed) listen(t *testing.T, ports ...int) {
	t.Helper()
	for _, p := range ports {
		testmail.Listen(t, net.JoinHostPort(b.master.Address, strconv.Itoa(p)), testmail.TCP)
	}
}

func syncPorts(f *facts.Node) map[int]bool {
	out := map[int]bool{}
	for _, p := range f.SyncPorts {
		if p.Peer != "mf-master" {
			out[-p.Port] = p.Up
			continue
		}
		out[p.Port] = p.Up
	}
	return out
}

// Each replication port is reported on its own: blocking one port is not
// the same as blocking all of them (a no-stop version-up needs all).
func TestMFilterSyncPortsEach(t *testing.T) {
	b := newMFTestbed(t)
	b.listen(t, b.settings, b.data[0]) // the second data port is blocked
	s := b.source(t, &config.MFilterSource{DefFile: b.slaveDef(t)})
	set, err := ssCollect(t, s)
	if err != nil {
		t.Fatal(err)
	}
	f := set["mf-slave"]
	want := map[int]bool{b.settings: true, b.data[0]: true, b.data[1]: false}
	if got := syncPorts(f); !reflect.DeepEqual(got, want) {
		t.Errorf("sync ports = %v, want %v", got, want)
	}
	if f.SyncState != facts.SyncOutOfSync || f.PeerUp["mf-master"] {
		t.Errorf("one blocked port: sync %q peer_up %v, want out_of_sync and peer down", f.SyncState, f.PeerUp)
	}
	if f.SyncDataEnabled == nil || !*f.SyncDataEnabled {
		t.Errorf("data sync flag = %v, want true (ENABLE_REP_DATA = ON)", f.SyncDataEnabled)
	}
}

// With the path open, mail still queued on the slave is a sync in
// progress; once the queue is empty the pair is synced.
func TestMFilterBacklogIsSyncing(t *testing.T) {
	b := newMFTestbed(t)
	b.listen(t, b.settings, b.data[0], b.data[1])
	for i := 0; i < 3; i++ {
		b.write(t, filepath.Join("saved", strconv.Itoa(i)+".eml"), "x")
	}
	cfg := &config.MFilterSource{DefFile: b.slaveDef(t),
		QueueDirs: []*config.QueueDir{{Name: "saved", Path: b.queueSaved}, {Name: "held", Path: b.queueHeld}}}
	s := b.source(t, cfg)
	set, err := ssCollect(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if f := set["mf-slave"]; f.SyncState != facts.SyncSyncing || f.SyncPending["items"] != 3 {
		t.Errorf("3 queued with the path open: sync %q pending %v, want syncing, 3 items", f.SyncState, f.SyncPending)
	}
	for i := 0; i < 3; i++ {
		if err := os.Remove(filepath.Join(b.queueSaved, strconv.Itoa(i)+".eml")); err != nil {
			t.Fatal(err)
		}
	}
	set, err = ssCollect(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if f := set["mf-slave"]; f.SyncState != facts.SyncSynced || f.SyncPending["items"] != 0 {
		t.Errorf("queue drained: sync %q pending %v, want synced, 0 items", f.SyncState, f.SyncPending)
	}
}

// The version and restart flag are optional: a missing file leaves its
// fact out and the source still reports the sync.
func TestMFilterOptionalFiles(t *testing.T) {
	b := newMFTestbed(t)
	b.listen(t, b.settings, b.data[0], b.data[1])
	cfg := &config.MFilterSource{DefFile: b.slaveDef(t),
		VersionFile: filepath.Join(b.dir, "missing-version"), RestartRequiredFile: filepath.Join(b.dir, "missing-flag")}
	set, err := ssCollect(t, b.source(t, cfg))
	if err != nil {
		t.Fatalf("missing optional files failed the source: %v", err)
	}
	f := set["mf-slave"]
	if f.Version != "" || f.VersionTimestamp != 0 || f.RestartRequired != nil {
		t.Errorf("missing files: version %q (ts %v), restart %v; want all absent", f.Version, f.VersionTimestamp, f.RestartRequired)
	}
	if f.SyncState != facts.SyncSynced {
		t.Errorf("sync = %q, want synced", f.SyncState)
	}

	// An unreadable version file (a directory) is no version either.
	cfg.VersionFile = b.dir
	if set, err = ssCollect(t, b.source(t, cfg)); err != nil || set["mf-slave"].Version != "" {
		t.Errorf("unreadable version file: err %v, version %q", err, set["mf-slave"].Version)
	}

	// Present files: the version with its file's mtime, the flag as read.
	written := time.Unix(1_700_000_000, 0)
	cfg.VersionFile = b.write(t, "version", "5.50R01\n")
	if err := os.Chtimes(cfg.VersionFile, written, written); err != nil {
		t.Fatal(err)
	}
	for content, want := range map[string]bool{"1\n": true, "0\n": false, "": false, "yes": true} {
		cfg.RestartRequiredFile = b.write(t, "flag", content)
		set, err := ssCollect(t, b.source(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		f := set["mf-slave"]
		if f.Version != "5.50R01" || f.VersionTimestamp != float64(written.Unix()) {
			t.Errorf("version %q at %v, want 5.50R01 at %d", f.Version, f.VersionTimestamp, written.Unix())
		}
		if f.RestartRequired == nil || *f.RestartRequired != want {
			t.Errorf("flag %q: restart %v, want %v", content, f.RestartRequired, want)
		}
	}
}

// Settings sync switched off while data sync stays ON scatters the mail
// data (FAQ 2578): out_of_sync with redundancy still on, never gray.
func TestMFilterSettingsOffDataOn(t *testing.T) {
	b := newMFTestbed(t)
	def := b.write(t, "def", "# settings sync switched off, data sync left on\nENABLE_REP_DATA = ON\n")
	set, err := ssCollect(t, b.source(t, &config.MFilterSource{DefFile: def}))
	if err != nil {
		t.Fatal(err)
	}
	f := set["mf-slave"]
	if f.SyncState != facts.SyncOutOfSync || f.RedundancyEnabled == nil || !*f.RedundancyEnabled {
		t.Errorf("sync %q redundancy %v, want out_of_sync with redundancy on", f.SyncState, f.RedundancyEnabled)
	}
	var ports []int
	for _, p := range f.SyncPorts {
		ports = append(ports, p.Port)
	}
	sort.Ints(ports)
	if len(ports) != 0 {
		t.Errorf("ports probed without a settings-sync peer: %v", ports)
	}
}
