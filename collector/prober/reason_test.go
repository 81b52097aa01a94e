package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// unansweredAddr is a 127.0.0.1 TCP port whose accept queue is full: the
// kernel drops further SYNs, so a connection attempt waits until its
// deadline, as towards a host that drops packets.
func unansweredAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	t.Cleanup(func() { f.Close() })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("accept queue never filled up")
	return ""
}

// TestConnectReasons: refused and connect_timeout for every protocol that
// connects over TCP, refused for DNS over UDP.
func TestConnectReasons(t *testing.T) {
	dnsTarget := func(tr string) Target { return Target{DNSQueryName: "mail.example.test", DNSTransport: tr} }
	targets := map[string]Target{
		"smtp": {}, "smtps": {}, "pop3": {}, "pop3s": {}, "imap": {}, "imaps": {},
		"ldap": {}, "ldaps": {}, "http": {}, "https": {}, "tcp": {}, "dns": dnsTarget("tcp"),
	}
	refusedAddr := testmail.ClosedAddr(t)
	silentAddr := unansweredAddr(t)
	for proto, target := range targets {
		t.Run(proto+"/refused", func(t *testing.T) {
			target.Address = refusedAddr
			if res := probeOnce(t, proto, target, 2*time.Second); res.Reason != ReasonRefused {
				t.Errorf("Reason = %q (%v), want refused", res.Reason, res.Err)
			}
		})
		t.Run(proto+"/connect_timeout", func(t *testing.T) {
			target.Address = silentAddr
			if res := probeOnce(t, proto, target, 300*time.Millisecond); res.Reason != ReasonConnectTimeout {
				t.Errorf("Reason = %q (%v), want connect_timeout", res.Reason, res.Err)
			}
		})
	}
	t.Run("dns-udp/refused", func(t *testing.T) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		pc.Close()
		target := dnsTarget("udp")
		target.Address = addr
		if res := probeOnce(t, "dns", target, 2*time.Second); res.Reason != ReasonRefused {
			t.Errorf("Reason = %q (%v), want refused", res.Reason, res.Err)
		}
	})
}

// TestDialReason covers what loopback cannot produce: no route, no name.
func TestDialReason(t *testing.T) {
	op := func(errno error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	for _, tc := range []struct {
		err  error
		want Reason
	}{
		{op(syscall.ECONNREFUSED), ReasonRefused},
		{op(syscall.EHOSTUNREACH), ReasonUnreachable},
		{op(syscall.ENETUNREACH), ReasonUnreachable},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "mail.invalid", IsNotFound: true}}, ReasonUnreachable},
		{context.DeadlineExceeded, ReasonConnectTimeout},
		{&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, ReasonConnectTimeout},
	} {
		if got := dialReason(tc.err); got != tc.want {
			t.Errorf("dialReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if got := ReasonOf(fmt.Errorf("greeting: %w", fail(ReasonBadGreeting, errors.New("x")))); got != ReasonBadGreeting {
		t.Errorf("wrapped Failure: %q", got)
	}
	if got := ReasonOf(fail(ReasonRejected, fail(ReasonTimeout, errors.New("x")))); got != ReasonTimeout {
		t.Errorf("the first reason attached wins: %q", got)
	}
}

// garbageTLS answers a TLS ClientHello with plain text.
func garbageTLS() step {
	return func(c *fakeConn) error {
		if _, err := c.br.ReadByte(); err != nil {
			return err
		}
		return send("this is not TLS at all, sorry")(c)
	}
}

// TestSessionReasons: every reason that a dialogue can produce, per
// protocol where it applies.
func TestSessionReasons(t *testing.T) {
	smtpOK := []step{send(postfixGreeting), expect("EHLO ")}
	ehloTLS := send("250-mx.example.com", "250-STARTTLS", "250 8BITMIME")
	pop3OK := []step{send("+OK Dovecot ready."), expect("CAPA\r\n")}
	imapOK := []step{send("* OK Dovecot ready."), expect("a1 CAPABILITY\r\n")}
	short := 300 * time.Millisecond
	starttls := withTLS(TLSStartTLS, false)
	cases := []probeCase{
		// SMTP
		{name: "smtp timeout", proto: "smtp", script: []step{hang()}, timeout: short, wantReason: ReasonTimeout},
		{name: "smtp timeout after greeting", proto: "smtp", script: append(smtpOK, hang()), timeout: short, wantReason: ReasonTimeout},
		{name: "smtp closed", proto: "smtp", script: []step{hangup()}, wantReason: ReasonClosed},
		{name: "smtp closed after EHLO", proto: "smtp", script: append(smtpOK, hangup()), wantReason: ReasonClosed},
		{name: "smtp bad greeting", proto: "smtp", script: []step{send("554 5.3.2 no service here")}, wantReason: ReasonBadGreeting},
		{name: "smtp garbage greeting", proto: "smtp", script: []step{send("SSH-2.0-OpenSSH_9.2p1")}, wantReason: ReasonBadGreeting},
		{name: "smtp rejected", proto: "smtp", script: append(smtpOK, send("550 5.7.1 go away")), wantReason: ReasonRejected},
		{name: "smtp starttls not offered", proto: "smtp", script: append(smtpOK, send("250 mx.example.com")), target: starttls, wantReason: ReasonStartTLSUnavailable},
		{name: "smtp starttls refused", proto: "smtp", script: append(smtpOK, ehloTLS, expect("STARTTLS"), send("454 4.7.0 TLS not available")), target: starttls, wantReason: ReasonStartTLSUnavailable},
		{name: "smtp tls handshake", proto: "smtp", script: append(smtpOK, ehloTLS, expect("STARTTLS"), send("220 go ahead"), garbageTLS()), target: starttls, wantReason: ReasonTLSHandshake},
		{name: "smtp protocol error", proto: "smtp", script: append(smtpOK, send("hello there")), wantReason: ReasonProtocolError},
		{name: "smtps tls handshake", proto: "smtps", script: []step{send(postfixGreeting)}, wantReason: ReasonTLSHandshake},
		// POP3
		{name: "pop3 timeout", proto: "pop3", script: []step{hang()}, timeout: short, wantReason: ReasonTimeout},
		{name: "pop3 closed", proto: "pop3", script: append(pop3OK, hangup()), wantReason: ReasonClosed},
		{name: "pop3 bad greeting", proto: "pop3", script: []step{send("-ERR [SYS/TEMP] no service")}, wantReason: ReasonBadGreeting},
		{name: "pop3 starttls not offered", proto: "pop3", script: append(pop3OK, send("+OK", "TOP", ".")), target: starttls, wantReason: ReasonStartTLSUnavailable},
		{name: "pop3 starttls refused", proto: "pop3", script: append(pop3OK, send("+OK", "STLS", "."), expect("STLS"), send("-ERR TLS unavailable")), target: starttls, wantReason: ReasonStartTLSUnavailable},
		{name: "pop3 tls handshake", proto: "pop3", script: append(pop3OK, send("+OK", "STLS", "."), expect("STLS"), send("+OK go"), garbageTLS()), target: starttls, wantReason: ReasonTLSHandshake},
		{name: "pop3 protocol error", proto: "pop3", script: append(pop3OK, send("what?")), wantReason: ReasonProtocolError},
		{name: "pop3s tls handshake", proto: "pop3s", script: []step{send("+OK ready")}, wantReason: ReasonTLSHandshake},
		// IMAP
		{name: "imap timeout", proto: "imap", script: append(imapOK, hang()), timeout: short, wantReason: ReasonTimeout},
		{name: "imap closed", proto: "imap", script: []step{hangup()}, wantReason: ReasonClosed},
		{name: "imap bad greeting", proto: "imap", script: []step{send("* BYE too many connections")}, wantReason: ReasonBadGreeting},
		{name: "imap rejected", proto: "imap", script: append(imapOK, send("a1 NO not now")), wantReason: ReasonRejected},
		{name: "imap starttls not offered", proto: "imap", script: append(imapOK, send("a1 OK [CAPABILITY IMAP4rev1] done")), target: starttls, wantReason: ReasonStartTLSUnavailable},
		{name: "imap starttls refused", proto: "imap", script: append(imapOK, send("a1 OK [CAPABILITY IMAP4rev1 STARTTLS] done"), expect("a2 STARTTLS"), send("a2 NO TLS unavailable")), target: starttls, wantReason: ReasonStartTLSUnavailable},
		{name: "imap tls handshake", proto: "imap", script: append(imapOK, send("a1 OK [CAPABILITY IMAP4rev1 STARTTLS] done"), expect("a2 STARTTLS"), send("a2 OK go"), garbageTLS()), target: starttls, wantReason: ReasonTLSHandshake},
		{name: "imap protocol error", proto: "imap", script: append(imapOK, send("zz OK whose tag is this")), wantReason: ReasonProtocolError},
		{name: "imaps tls handshake", proto: "imaps", script: []step{send("* OK ready")}, wantReason: ReasonTLSHandshake},
		// LDAP
		{name: "ldap timeout", proto: "ldap", script: []step{hang()}, timeout: short, wantReason: ReasonTimeout},
		{name: "ldap closed", proto: "ldap", script: []step{hangup()}, wantReason: ReasonClosed},
		{name: "ldap rejected", proto: "ldap", script: []step{rootDSE("", 32)}, wantReason: ReasonRejected},
		{name: "ldap auth failed", proto: "ldap", script: []step{rootDSE("", 48)}, wantReason: ReasonAuthFailed},
		{name: "ldap starttls refused", proto: "ldap", script: []step{ldapStartTLS(2)}, target: starttls, wantReason: ReasonStartTLSUnavailable},
		{name: "ldap tls handshake", proto: "ldap", script: []step{ldapStartTLS(0), garbageTLS()}, target: starttls, wantReason: ReasonTLSHandshake},
		{
			name: "ldap protocol error", proto: "ldap",
			// A BER length longer than 8 bytes.
			script:  []step{ldapServe(3, func(int64) []*ber.Packet { return nil }), sendRaw([]byte{0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9}), hang()},
			timeout: time.Second, wantReason: ReasonProtocolError,
		},
		{name: "ldaps tls handshake", proto: "ldaps", script: []step{garbageTLS()}, wantReason: ReasonTLSHandshake},
		// HTTP
		{name: "http timeout", proto: "http", script: []step{expect("GET "), hang()}, timeout: short, wantReason: ReasonTimeout},
		{name: "http closed", proto: "http", script: []step{expect("GET "), hangup()}, wantReason: ReasonClosed},
		{name: "http rejected", proto: "http", script: []step{expect("GET "), send("HTTP/1.1 503 Service Unavailable", "Content-Length: 0", "")}, wantReason: ReasonRejected},
		{name: "http protocol error", proto: "http", script: []step{expect("GET "), send("SSH-2.0-OpenSSH_9.2p1")}, wantReason: ReasonProtocolError},
		{name: "https tls handshake", proto: "https", script: []step{garbageTLS()}, wantReason: ReasonTLSHandshake},
		{name: "http starttls", proto: "http", script: nil, target: starttls, wantReason: ReasonStartTLSUnavailable},
		// TCP
		{name: "tcp tls handshake", proto: "tcp", script: []step{garbageTLS()}, target: withTLS(TLSImplicit, false), wantReason: ReasonTLSHandshake},
		{name: "tcp tls timeout", proto: "tcp", script: []step{hang()}, target: withTLS(TLSImplicit, false), timeout: short, wantReason: ReasonTimeout},
		{name: "tcp tls closed", proto: "tcp", script: []step{hangup()}, target: withTLS(TLSImplicit, false), wantReason: ReasonClosed},
	}
	runProbeCases(t, cases)
}

// TestDNSReasons: the reasons a DNS query can fail with besides refused.
func TestDNSReasons(t *testing.T) {
	addr := startDNS(t)
	if res := probeOnce(t, "dns", Target{Address: addr, DNSQueryName: "nope.example.test"}, 3*time.Second); res.Reason != ReasonRejected {
		t.Errorf("NXDOMAIN: Reason = %q (%v)", res.Reason, res.Err)
	}
	if res := probeOnce(t, "dns", Target{Address: addr, DNSQueryName: "nodata.example.test"}, 3*time.Second); res.Reason != ReasonRejected {
		t.Errorf("NODATA: Reason = %q (%v)", res.Reason, res.Err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if res := probeOnce(t, "dns", Target{Address: pc.LocalAddr().String(), DNSQueryName: "x.test"}, 300*time.Millisecond); res.Reason != ReasonTimeout {
		t.Errorf("silent: Reason = %q (%v)", res.Reason, res.Err)
	}
	closing := startFake(t, false, hangup())
	if res := probeOnce(t, "dns", Target{Address: closing.addr, DNSQueryName: "x.test", DNSTransport: "tcp"}, 3*time.Second); res.Reason != ReasonClosed {
		t.Errorf("closed: Reason = %q (%v)", res.Reason, res.Err)
	}
	garbage := startFake(t, false, sendRaw([]byte{0, 4, 'j', 'u', 'n', 'k'}), hang())
	if res := probeOnce(t, "dns", Target{Address: garbage.addr, DNSQueryName: "x.test", DNSTransport: "tcp"}, time.Second); res.Reason != ReasonProtocolError {
		t.Errorf("garbage: Reason = %q (%v)", res.Reason, res.Err)
	}
}

func TestLDAPFailureCodes(t *testing.T) {
	c := &limitedConn{}
	for code, want := range map[uint16]Reason{
		ldap.LDAPResultInvalidCredentials: ReasonAuthFailed,
		ldap.LDAPResultNoSuchObject:       ReasonRejected,
		ldap.LDAPResultUnavailable:        ReasonRejected,
		ldap.LDAPResultStrongAuthRequired: ReasonAuthFailed,
		ldap.ErrorNetwork:                 ReasonProtocolError,
	} {
		if got := ReasonOf(ldapFailure(ldap.NewError(code, errors.New("x")), c, ReasonRejected)); got != want {
			t.Errorf("result code %d: %q, want %q", code, got, want)
		}
	}
}
