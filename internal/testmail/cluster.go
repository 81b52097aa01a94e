package testmail

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

// MailCluster is a two-node mail cluster on loopback for round-trip tests:
// one SMTP server stands for the virtual address and stores what it
// receives in the probe user's INBOX on the first node at once and on the
// second after Delay (the replication), unless Block is set. Each node is a
// real IMAP server (go-imap's in-memory backend) that accepts LOGIN over
// plain text, so tests can check that the client refuses to send it.
type MailCluster struct {
	t        testing.TB
	SMTPAddr string
	// IMAPAddr maps node names to their IMAP address.
	IMAPAddr map[string]string
	Nodes    [2]string
	Block    atomic.Bool
	Delay    time.Duration
	// IMAPLogins counts LOGIN / AUTHENTICATE attempts on every node.
	IMAPLogins atomic.Int32
	users      map[string]*imapmemserver.User
	wg         sync.WaitGroup
}

// NewMailCluster starts the servers for the duration of the test. user and
// password are the probe mailbox's login on both nodes.
func NewMailCluster(t testing.TB, user, password string, delay time.Duration) *MailCluster {
	t.Helper()
	f := &MailCluster{t: t, Nodes: [2]string{"node-a", "node-b"}, IMAPAddr: map[string]string{},
		users: map[string]*imapmemserver.User{}, Delay: delay}
	port := "0"
	for i, n := range f.Nodes {
		u := imapmemserver.NewUser(user, password)
		if err := u.Create("INBOX", nil); err != nil {
			t.Fatal(err)
		}
		f.users[n] = u
		mem := imapmemserver.New()
		mem.AddUser(u)
		srv := imapserver.New(&imapserver.Options{
			NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
				return &countingSession{Session: mem.NewSession(), logins: &f.IMAPLogins}, nil, nil
			},
			Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}},
			InsecureAuth: true,
			Logger:       discardLogger{},
		})
		// Both nodes listen on one port, each on its own loopback address,
		// as the nodes of a real cluster do.
		ln := loopbackAt(t, net.JoinHostPort(NodeHost(i), port))
		_, port, _ = net.SplitHostPort(ln.Addr().String())
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Close() })
		f.IMAPAddr[n] = ln.Addr().String()
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{f: f}, nil }))
	srv.Domain = "virtual.test"
	srv.ErrorLog = discardLogger{}
	ln := loopbackAt(t, "127.0.0.1:0")
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); f.wg.Wait() })
	f.SMTPAddr = ln.Addr().String()
	return f
}

// Store appends a raw message to the probe INBOX of node.
func (f *MailCluster) Store(node string, msg []byte) {
	if _, err := f.users[node].Append("INBOX", literal{bytes.NewReader(msg)}, &imap.AppendOptions{}); err != nil {
		f.t.Errorf("append on %s: %v", node, err)
	}
}

// Count is the number of messages in node's probe INBOX.
func (f *MailCluster) Count(node string) int {
	st, err := f.users[node].Status("INBOX", &imap.StatusOptions{NumMessages: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return int(*st.NumMessages)
}

// NodeHost is the loopback address of the MailCluster's node i (0 or 1).
func NodeHost(i int) string { return "127.0.0." + strconv.Itoa(41+i) }

func loopbackAt(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type countingSession struct {
	imapserver.Session
	logins *atomic.Int32
}

func (s *countingSession) Login(u, p string) error {
	s.logins.Add(1)
	return s.Session.Login(u, p)
}

type smtpSession struct{ f *MailCluster }

func (s *smtpSession) Reset()                               {}
func (s *smtpSession) Logout() error                        { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	msg, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.f.Store(s.f.Nodes[0], msg)
	if !s.f.Block.Load() {
		s.f.wg.Add(1)
		go func() {
			defer s.f.wg.Done()
			time.Sleep(s.f.Delay)
			s.f.Store(s.f.Nodes[1], msg)
		}()
	}
	return nil
}
