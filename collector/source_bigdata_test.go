package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// bigPostqueue writes `postqueue -j` output for n deferred messages of
// 1000 bytes each, the oldest arriving at base, and returns its path.
func bigPostqueue(tb testing.TB, n int, base int64) string {
	tb.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"queue_name": "deferred", "queue_id": "4Q%07X", "arrival_time": %d, "message_size": 1000, "forced_expire": false, "sender": "s%d@example.test", "recipients": [{"address": "r%d@example.net", "delay_reason": "connect to mx.example.net[192.0.2.1]:25: Connection timed out"}]}`+"\n",
			i, base+int64(i), i, i)
	}
	p := filepath.Join(tb.TempDir(), "postqueue.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func postqueueSourceFor(tb testing.TB, path string) *postfixQueueSource {
	tb.Helper()
	env := ssEnv("a", ssNodes("a", "b")...) // a 4 KiB output cap
	src, err := newPostfixQueueSource(env, &config.Source{Type: "postfix_queue",
		PostfixQueue: &config.PostfixQueueSource{Command: config.Command{Argv: []string{"cat", path}}}})
	if err != nil {
		tb.Fatal(err)
	}
	s := src.(*postfixQueueSource)
	s.now = func() time.Time { return time.Unix(1_800_000_000, 0) }
	return s
}

// TestPostfixQueueSourceLargeQueue: 20,000 deferred messages (about 5 MB of
// output, far over the byte cap) are counted exactly.
func TestPostfixQueueSourceLargeQueue(t *testing.T) {
	s := postqueueSourceFor(t, bigPostqueue(t, 20000, 1_799_990_000))
	set, err := ssCollect(t, s)
	if err != nil {
		t.Fatalf("source failed: %v", err)
	}
	q := set["a"].Queues["deferred"]
	if q.Messages != 20000 || q.Bytes != 20000*1000 || q.OldestAgeSeconds == nil || *q.OldestAgeSeconds != 10000 {
		t.Errorf("deferred = %+v (age %v), want 20000 messages, 20000000 bytes, oldest 10000 s", q, q.OldestAgeSeconds)
	}
	if a := set["a"].Queues["active"]; a.Messages != 0 {
		t.Errorf("active = %+v", a)
	}
}

// TestPostfixQueueSourceCountingLimit: past the limit the counts are a
// lower bound and the source stays up.
func TestPostfixQueueSourceCountingLimit(t *testing.T) {
	s := postqueueSourceFor(t, bigPostqueue(t, 5000, 1_799_990_000))
	s.maxMessages = 1000
	set, err := ssCollect(t, s)
	if err != nil {
		t.Fatalf("source failed: %v", err)
	}
	if q := set["a"].Queues["deferred"]; q.Messages != 1000 {
		t.Errorf("deferred = %+v, want the lower bound 1000", q)
	}
}

func BenchmarkPostfixQueueSource20000(b *testing.B) {
	s := postqueueSourceFor(b, bigPostqueue(b, 20000, 1_799_990_000))
	for b.Loop() {
		if _, err := s.Collect(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// bigReplicatorUsers writes a `doveadm replicator status '*'` table (text,
// or JSON) of n users, every 1000th failed.
func bigReplicatorUsers(tb testing.TB, n int, json bool) string {
	tb.Helper()
	var b strings.Builder
	if json {
		b.WriteString("[")
	} else {
		b.WriteString("username                                  priority fast sync  full sync  success sync failed\n")
	}
	for i := range n {
		failed := "-"
		if i%1000 == 999 {
			failed = "y"
		}
		if json {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "\n"+`{"username":"user%05d@example.test","priority":"none","fast sync":"00:01:02","full sync":"12:00:00","success sync":"00:01:02","failed":"%s"}`, i, failed)
		} else {
			fmt.Fprintf(&b, "%-41s none     00:01:02   12:00:00   00:01:02     %s\n", fmt.Sprintf("user%05d@example.test", i), failed)
		}
	}
	if json {
		b.WriteString("\n]\n")
	}
	p := filepath.Join(tb.TempDir(), "users")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func dovecotSourceFor(tb testing.TB, usersFile string) *dovecotSource {
	tb.Helper()
	env := ssEnv("a", ssNodes("a", "b")...) // a 4 KiB output cap
	overview := "Queued 'sync' requests        0\nQueued 'high' requests        0\nQueued 'low' requests         0\n" +
		"Queued 'failed' requests      0\nQueued 'full resync' requests 0\nWaiting 'failed' requests     0\nTotal number of known users   20000\n"
	dir := tb.TempDir()
	ov, ds := filepath.Join(dir, "overview"), filepath.Join(dir, "dsync")
	if err := os.WriteFile(ov, []byte(overview), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(ds, []byte("username type status\n - - Not connected\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	src, err := newDovecotSource(env, &config.Source{Type: "dovecot", Dovecot: &config.DovecotSource{
		Command:            config.Command{Argv: []string{"cat", usersFile}},
		OverviewCommand:    config.Command{Argv: []string{"cat", ov}},
		DsyncStatusCommand: config.Command{Argv: []string{"cat", ds}},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return src.(*dovecotSource)
}

// TestDovecotSourceManyUsers: a replicator status of 20,000 users (1.9 MB,
// far over the byte cap), text and JSON, keeps the source up and finds the
// 20 failed users.
func TestDovecotSourceManyUsers(t *testing.T) {
	for _, json := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", json), func(t *testing.T) {
			s := dovecotSourceFor(t, bigReplicatorUsers(t, 20000, json))
			set, err := ssCollect(t, s)
			if err != nil {
				t.Fatalf("source failed: %v", err)
			}
			n := set["a"]
			if n.SyncState != facts.SyncOutOfSync || !strings.Contains(n.RoleCause, "replication failed for 20 users") {
				t.Errorf("sync %q cause %q, want out_of_sync for 20 users", n.SyncState, n.RoleCause)
			}
		})
	}
	t.Run("counting limit", func(t *testing.T) {
		s := dovecotSourceFor(t, bigReplicatorUsers(t, 20000, false))
		s.maxUsers = 500 // before the first failed user
		set, err := ssCollect(t, s)
		if err != nil {
			t.Fatalf("source failed: %v", err)
		}
		if n := set["a"]; n.SyncState != facts.SyncSynced {
			t.Errorf("sync %q (%s), want synced from the users counted", n.SyncState, n.RoleCause)
		}
	})
}

func BenchmarkDovecotSource20000Users(b *testing.B) {
	s := dovecotSourceFor(b, bigReplicatorUsers(b, 20000, false))
	for b.Loop() {
		if _, err := s.Collect(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// spool100k is a flat directory of 100,000 small files, made once per test
// binary.
var spool100k = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "queue-dir-100k-")
	if err != nil {
		return "", err
	}
	spoolMade.Store(dir)
	for i := range 100000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%06d", i)), []byte("x"), 0o600); err != nil {
			return dir, err
		}
	}
	return dir, nil
})

func spool100kDir(tb testing.TB) string {
	tb.Helper()
	dir, err := spool100k()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestQueueDirDeadlineLowerBound: cut short by its deadline, queue_dir
// returns what it counted (a lower bound) instead of failing, and returns
// promptly. BenchmarkQueueDirDeadline measures how promptly.
func TestQueueDirDeadlineLowerBound(t *testing.T) {
	dir := spool100kDir(t)
	d := &config.QueueDir{Name: "spool", Path: dir, MaxFiles: 1_000_000}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	q, err := measureDir(ctx, d, time.Now())
	took := time.Since(start)
	if err != nil {
		t.Fatalf("cut short by the deadline: %v, want a lower bound", err)
	}
	if q.Messages > 100000 || q.Bytes != q.Messages {
		t.Errorf("got %+v: not a lower bound of 100000 one-byte files", q)
	}
	if took > cmdTestPromptly {
		t.Errorf("took %s with a 50 ms deadline", took)
	}
	t.Logf("counted %.0f of 100000 files in %s with a 50 ms deadline", q.Messages, took)
}

func BenchmarkQueueDirDeadline(b *testing.B) {
	dir := spool100kDir(b)
	d := &config.QueueDir{Name: "spool", Path: dir, MaxFiles: 1_000_000}
	var worst time.Duration
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		if _, err := measureDir(ctx, d, time.Now()); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(start))
		cancel()
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// spoolMade is the directory spool100k made, for TestMain to remove.
var spoolMade atomic.Value

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, ok := spoolMade.Load().(string); ok {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}
