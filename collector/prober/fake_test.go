package prober

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testPKI is one self-signed certificate, generated once per test binary,
// valid for 127.0.0.1, ::1 and mail.test.
var testPKI = sync.OnceValue(func() struct {
	cert     tls.Certificate
	leaf     *x509.Certificate
	pool     *x509.CertPool
	notAfter time.Time
} {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	notAfter := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second).UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"mail.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return struct {
		cert     tls.Certificate
		leaf     *x509.Certificate
		pool     *x509.CertPool
		notAfter time.Time
	}{tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, pool, notAfter}
})

// trustingTLS is a client config that trusts the test certificate.
func trustingTLS() *tls.Config {
	return &tls.Config{RootCAs: testPKI().pool}
}

// fakeConn is the server side of one connection of a fakeServer.
type fakeConn struct {
	raw  net.Conn
	conn net.Conn
	br   *bufio.Reader
	done <-chan struct{}
}

// step is one action of a fake server's script.
type step func(c *fakeConn) error

// send writes each line followed by CRLF.
func send(lines ...string) step {
	return func(c *fakeConn) error {
		for _, l := range lines {
			if _, err := io.WriteString(c.conn, l+"\r\n"); err != nil {
				return err
			}
		}
		return nil
	}
}

// goodbye is the server's reply to QUIT or LOGOUT: written best-effort,
// since the client may already have hung up (it does not wait for it).
func goodbye(lines ...string) step {
	return func(c *fakeConn) error {
		_ = send(lines...)(c)
		return nil
	}
}

// expectEOF reads until the client hangs up; any further command is an error.
func expectEOF() step {
	return func(c *fakeConn) error {
		line, err := c.br.ReadString('\n')
		switch {
		case errors.Is(err, io.EOF) && line == "":
			return nil
		case err != nil && line == "":
			return fmt.Errorf("expect EOF: %w", err)
		}
		return fmt.Errorf("expect EOF: got %q", line)
	}
}

// sendRaw writes b as is.
func sendRaw(b []byte) step {
	return func(c *fakeConn) error {
		_, err := c.conn.Write(b)
		return err
	}
}

// expect reads one line and checks that it starts with prefix.
func expect(prefix string) step {
	return func(c *fakeConn) error {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("expect %q: %w", prefix, err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			return fmt.Errorf("expect %q: line %q not CRLF-terminated", prefix, line)
		}
		if !strings.HasPrefix(line, prefix) {
			return fmt.Errorf("expect %q: got %q", prefix, line)
		}
		return nil
	}
}

// startTLS runs the server side of a TLS handshake on the connection with
// the test certificate.
func startTLS() step { return startTLSWith(testPKI().cert) }

// startTLSWith runs the server side of a TLS handshake presenting cert.
func startTLSWith(cert tls.Certificate) step {
	return func(c *fakeConn) error {
		tc := tls.Server(c.raw, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("server handshake: %w", err)
		}
		c.conn, c.br = tc, bufio.NewReader(tc)
		return nil
	}
}

// hang keeps the connection open without a word until the server closes.
func hang() step {
	return func(c *fakeConn) error {
		<-c.done
		return nil
	}
}

// hangup closes the connection at once.
func hangup() step {
	return func(c *fakeConn) error { return c.raw.Close() }
}

// flood writes b repeatedly until the client goes away.
func flood(b []byte) step {
	return func(c *fakeConn) error {
		for {
			select {
			case <-c.done:
				return nil
			default:
			}
			if _, err := c.conn.Write(b); err != nil {
				return nil // the client hung up: expected
			}
		}
	}
}

// fakeServer is a scriptable server on 127.0.0.1:0: every accepted
// connection (optionally implicit TLS) runs the same script, then closes.
type fakeServer struct {
	addr     string
	ln       net.Listener
	done     chan struct{}
	accept   sync.WaitGroup
	handlers sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
	errs     []error
}

func startFake(tb testing.TB, implicitTLS bool, script ...step) *fakeServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &fakeServer{addr: ln.Addr().String(), ln: ln, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	s.accept.Add(1)
	go func() {
		defer s.accept.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.handlers.Add(1)
			s.mu.Unlock()
			go s.serve(c, implicitTLS, script)
		}
	}()
	tb.Cleanup(s.close)
	return s
}

func (s *fakeServer) serve(c net.Conn, implicitTLS bool, script []step) {
	defer s.handlers.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	fc := &fakeConn{raw: c, conn: c, br: bufio.NewReader(c), done: s.done}
	if implicitTLS {
		script = append([]step{startTLS()}, script...)
	}
	for _, st := range script {
		if err := st(fc); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
			return
		}
	}
}

// wait waits for the running scripts to end and returns their errors.
func (s *fakeServer) wait() error {
	s.handlers.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

func (s *fakeServer) close() {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return
	default:
	}
	close(s.done)
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.accept.Wait()
	s.handlers.Wait()
}

// probeCase is one table row for the line-based protocols.
type probeCase struct {
	name        string
	proto       string        // key of Protocols
	serverTLS   bool          // fake server speaks implicit TLS
	script      []step        // fake server script
	target      func(*Target) // adjusts the default target (trusting TLS config)
	timeout     time.Duration // default 3s
	wantUp      bool
	wantErr     string // substring of Result.Err
	wantReason  Reason // Result.Reason when down (checked when set)
	wantCert    bool   // the leaf NotAfter is the test certificate's
	wantVersion string
}

// runProbeCases runs table rows against a fresh fake server each.
func runProbeCases(t *testing.T, cases []probeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t, tc.serverTLS, tc.script...)
			target := Target{Address: srv.addr, TLSConfig: trustingTLS()}
			if tc.target != nil {
				tc.target(&target)
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 3 * time.Second
			}
			probe, ok := Lookup(tc.proto)
			if !ok {
				t.Fatalf("no prober %q", tc.proto)
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			res := probe(ctx, target)
			elapsed := time.Since(start)

			// Never past the deadline (generous margin for slow CI).
			if elapsed > timeout+2*time.Second {
				t.Errorf("probe took %v with a %v deadline", elapsed, timeout)
			}
			if res.Up != tc.wantUp {
				t.Fatalf("Up = %v, want %v (err: %v)", res.Up, tc.wantUp, res.Err)
			}
			if res.Up != (res.Err == nil) || res.Up != (res.Reason == "") {
				t.Errorf("Up = %v but Err = %v, Reason = %q", res.Up, res.Err, res.Reason)
			}
			if tc.wantReason != "" && res.Reason != tc.wantReason {
				t.Errorf("Reason = %q, want %q (err: %v)", res.Reason, tc.wantReason, res.Err)
			}
			if tc.wantErr != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr)) {
				t.Errorf("Err = %v, want it to contain %q", res.Err, tc.wantErr)
			}
			if res.Err != nil && !strings.HasPrefix(res.Err.Error(), tc.proto+" "+srv.addr+": ") {
				t.Errorf("Err %q lacks the protocol and address context", res.Err)
			}
			if tc.wantCert {
				if !leafNotAfter(res).Equal(testPKI().notAfter) {
					t.Errorf("CertNotAfter = %v, want %v", leafNotAfter(res), testPKI().notAfter)
				}
			} else if !leafNotAfter(res).IsZero() {
				t.Errorf("CertNotAfter = %v, want zero (no TLS)", leafNotAfter(res))
			}
			if res.Version != tc.wantVersion {
				t.Errorf("Version = %q, want %q", res.Version, tc.wantVersion)
			}
			if res.Duration <= 0 || res.Duration > elapsed {
				t.Errorf("Duration = %v, measured %v", res.Duration, elapsed)
			}
			if tc.wantUp {
				// The whole script, QUIT included, was played.
				if err := srv.wait(); err != nil {
					t.Errorf("fake server: %v", err)
				}
			}
		})
	}
}

// hugeLine is several MB of garbage without a newline.
var hugeLine = []byte(strings.Repeat("A", 64<<10))

// leafNotAfter is the NotAfter of the certificate a probe saw, zero without TLS.
func leafNotAfter(r Result) time.Time {
	if r.TLS == nil {
		return time.Time{}
	}
	return r.TLS.LeafNotAfter
}
