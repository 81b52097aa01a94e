package roundtrip

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mailcluster/mailcluster_exporter/config"
	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

const (
	probeUser = "probe@e2e.test"
	probePass = "s3cret-probe-password"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func settings(t *testing.T, f *testmail.MailCluster, logs io.Writer, allowPlain bool) Settings {
	auth := &config.Auth{UsernameFile: writeFile(t, "user", probeUser+"\n"), PasswordFile: writeFile(t, "pass", probePass+"\n"),
		Mechanism: "login", AllowPlaintextAuth: allowPlain}
	s := Settings{
		Cluster: "c1",
		Config: &config.RoundTrip{EveryScrapes: 1, Timeout: model.Duration(3 * time.Second),
			PollInterval: model.Duration(50 * time.Millisecond), CleanupAfter: model.Duration(time.Hour),
			From: probeUser, To: probeUser},
		Submission: Endpoint{Address: f.SMTPAddr, TLS: "none"},
		HeloName:   "exporter.e2e.test",
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, n := range []string{"node-a", "node-b"} {
		s.Nodes = append(s.Nodes, Node{Name: n, IMAP: Endpoint{Address: f.IMAPAddr[n], TLS: "none", Auth: auth, Mailbox: "INBOX"}})
	}
	return s
}

func runRound(t *testing.T, r *Runner) *Result {
	t.Helper()
	before := r.Status().Rounds
	r.Tick(false)
	r.Wait()
	st := r.Status()
	if st.Rounds != before+1 || st.Last == nil {
		t.Fatalf("no round ran: %+v", st)
	}
	return st.Last
}

func TestRoundReachesEveryNode(t *testing.T) {
	f := testmail.NewMailCluster(t, probeUser, probePass, 200*time.Millisecond)
	var logs bytes.Buffer
	r := New(settings(t, f, &logs, true))
	defer r.Close()
	res := runRound(t, r)
	if !res.Delivered || res.Delivery <= 0 || res.Delivery > 2*time.Second {
		t.Errorf("delivery = %v (delivered %v), want a successful delivery below 2s", res.Delivery, res.Delivered)
	}
	a, b := res.Nodes["node-a"], res.Nodes["node-b"]
	if !a.Seen || !b.Seen {
		t.Fatalf("seen: node-a %v node-b %v, want both", a.Seen, b.Seen)
	}
	if b.Replication < 200*time.Millisecond || b.Replication < a.Replication {
		t.Errorf("replication node-b = %v, node-a = %v: node-b gets the message 200ms later", b.Replication, a.Replication)
	}
	if !b.LastSuccess.Equal(res.Submitted) {
		t.Errorf("last success = %v, want the round's submission %v", b.LastSuccess, res.Submitted)
	}
	if n := f.Count("node-a") + f.Count("node-b"); n != 0 {
		t.Errorf("%d probe messages left after the round, want 0 (the round deletes its own)", n)
	}
	if strings.Contains(logs.String(), probePass) {
		t.Errorf("the password appears in the log:\n%s", logs.String())
	}
}

func TestBlockedReplicationFailsTheNodeAndTheLagGrows(t *testing.T) {
	f := testmail.NewMailCluster(t, probeUser, probePass, 0)
	f.Block.Store(true)
	var logs bytes.Buffer
	s := settings(t, f, &logs, true)
	s.Config.Timeout = model.Duration(500 * time.Millisecond)
	r := New(s)
	defer r.Close()
	first := runRound(t, r)
	if !first.Nodes["node-a"].Seen || first.Nodes["node-b"].Seen {
		t.Fatalf("seen: %+v, want node-a only", first.Nodes)
	}
	if !first.Nodes["node-b"].LastSuccess.IsZero() {
		t.Errorf("node-b last success = %v, want none", first.Nodes["node-b"].LastSuccess)
	}
	second := runRound(t, r)
	lag1, lag2 := first.Nodes["node-b"].Replication, second.Nodes["node-b"].Replication
	// Both rounds count from the first missed submission.
	if lag1 != first.Finished.Sub(first.Submitted) || lag2 != second.Finished.Sub(first.Submitted) || lag2 <= lag1 {
		t.Errorf("node-b replication %v then %v: want the time since the first missed round's submission, growing", lag1, lag2)
	}
	f.Block.Store(false)
	third := runRound(t, r)
	if !third.Nodes["node-b"].Seen || third.Nodes["node-b"].Replication > time.Second {
		t.Errorf("after unblocking node-b: %+v, want seen within a second", third.Nodes["node-b"])
	}
	if n := f.Count("node-a"); n != 0 {
		t.Errorf("%d messages left on node-a, want 0: every round deletes its own, the missed ones too", n)
	}
}

func TestNoLoginWithoutTLS(t *testing.T) {
	f := testmail.NewMailCluster(t, probeUser, probePass, 0)
	var logs bytes.Buffer
	s := settings(t, f, &logs, false)
	s.Config.Timeout = model.Duration(300 * time.Millisecond)
	r := New(s)
	defer r.Close()
	res := runRound(t, r)
	if res.Nodes["node-a"].Seen || res.Nodes["node-b"].Seen {
		t.Errorf("a node was read without a login: %+v", res.Nodes)
	}
	if n := f.IMAPLogins.Load(); n != 0 {
		t.Errorf("%d IMAP logins sent over plain text, want none without allow_plaintext_auth", n)
	}
	if !strings.Contains(logs.String(), "without TLS") {
		t.Errorf("the log does not say why:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), probePass) || strings.Contains(logs.String(), probeUser+"\"") {
		t.Errorf("a credential appears in the log:\n%s", logs.String())
	}
}

func TestWrongPasswordIsNotLogged(t *testing.T) {
	f := testmail.NewMailCluster(t, probeUser, probePass, 0)
	var logs bytes.Buffer
	s := settings(t, f, &logs, true)
	s.Config.Timeout = model.Duration(300 * time.Millisecond)
	const wrong = "wrong-password-value"
	for i := range s.Nodes {
		a := *s.Nodes[i].IMAP.Auth
		a.PasswordFile = writeFile(t, "wrong", wrong)
		s.Nodes[i].IMAP.Auth = &a
	}
	r := New(s)
	defer r.Close()
	res := runRound(t, r)
	if res.Nodes["node-a"].Seen {
		t.Error("node-a read with a wrong password")
	}
	if strings.Contains(logs.String(), wrong) {
		t.Errorf("the password appears in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "login") {
		t.Errorf("the log does not name the failed login:\n%s", logs.String())
	}
}

func TestCleanupKeepsOtherExportersRecentMessages(t *testing.T) {
	f := testmail.NewMailCluster(t, probeUser, probePass, 0)
	var logs bytes.Buffer
	r := New(settings(t, f, &logs, true))
	defer r.Close()
	now := time.Now()
	old := message("otherexp."+itoa(now.Add(-2*time.Hour).UnixNano())+".aa", probeUser, probeUser, "x", now)
	recent := message("otherexp."+itoa(now.UnixNano())+".bb", probeUser, probeUser, "x", now)
	unrelated := []byte("From: a@b\r\nSubject: hello\r\n\r\nnot a probe\r\n")
	for _, n := range []string{"node-a", "node-b"} {
		f.Store(n, old)
		f.Store(n, recent)
		f.Store(n, unrelated)
	}
	runRound(t, r)
	for _, n := range []string{"node-a", "node-b"} {
		if c := f.Count(n); c != 2 {
			t.Errorf("%s: %d messages left, want 2 (another exporter's recent probe, a non-probe message)", n, c)
		}
	}
}

func TestTickStartsAtMostOneRoundPerInterval(t *testing.T) {
	f := testmail.NewMailCluster(t, probeUser, probePass, 0)
	var logs bytes.Buffer
	s := settings(t, f, &logs, true)
	clock := time.Now()
	var mu sync.Mutex
	s.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s.Config.Interval, s.Config.EveryScrapes = model.Duration(time.Minute), 0
	r := New(s)
	defer r.Close()
	r.Tick(false)
	r.Tick(false) // running or not due: no second round
	r.Wait()
	r.Tick(false)
	r.Wait()
	if got := r.Status().Rounds; got != 1 {
		t.Fatalf("rounds = %d within one interval, want 1", got)
	}
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	r.Tick(true) // services stopped on purpose: due, but skipped
	r.Tick(true) // the skipped round took this interval's turn
	r.Wait()
	if st := r.Status(); st.Rounds != 1 || st.Skips != 1 {
		t.Fatalf("after skipped ticks: %+v, want 1 round and 1 skip", st)
	}
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	r.Tick(false)
	r.Wait()
	if got := r.Status().Rounds; got != 2 {
		t.Fatalf("rounds = %d after the interval, want 2", got)
	}
}

func TestEveryScrapes(t *testing.T) {
	f := testmail.NewMailCluster(t, probeUser, probePass, 0)
	var logs bytes.Buffer
	s := settings(t, f, &logs, true)
	s.Config.Interval, s.Config.EveryScrapes = 0, 3
	r := New(s)
	defer r.Close()
	for range 7 {
		r.Tick(false)
		r.Wait()
	}
	// scrape 1 starts the first round; then every third scrape
	if got := r.Status().Rounds; got != 3 {
		t.Errorf("rounds after 7 scrapes with every_scrapes 3 = %d, want 3", got)
	}
}

func TestSubmissionRefusedIsNoDelivery(t *testing.T) {
	f := testmail.NewMailCluster(t, probeUser, probePass, 0)
	var logs bytes.Buffer
	s := settings(t, f, &logs, true)
	s.Config.Timeout = model.Duration(500 * time.Millisecond)
	ln := listenLoopback(t)
	s.Submission.Address = ln.Addr().String()
	ln.Close() // nothing listens there any more
	r := New(s)
	defer r.Close()
	res := runRound(t, r)
	if res.Delivered || res.Nodes["node-a"].Seen {
		t.Errorf("a refused submission delivered: %+v", res)
	}
	if !strings.Contains(logs.String(), "submission") {
		t.Errorf("the log does not name the submission:\n%s", logs.String())
	}
}

func TestParseToken(t *testing.T) {
	at := time.Unix(0, 1764590000123456789)
	inst, got, ok := parseToken("abc123.1764590000123456789.ff00")
	if !ok || inst != "abc123" || !got.Equal(at) {
		t.Errorf("parseToken = %q %v %v", inst, got, ok)
	}
	for _, bad := range []string{"", "a.b", "a.notanumber.c", "a.1.2.3"} {
		if _, _, ok := parseToken(bad); ok {
			t.Errorf("parseToken(%q) accepted", bad)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
