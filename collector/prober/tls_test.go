package prober

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
)

// caPKI is a small public key infrastructure as sites deploy it: a root CA,
// an intermediate that expires before the leaf, a leaf for
// mail.example.test signed by the intermediate, and a self-signed "snakeoil"
// certificate named after a host (as Debian's ssl-cert package makes it).
type caPKI struct {
	roots         *x509.CertPool
	site          tls.Certificate // leaf + intermediate
	leafNotAfter  time.Time
	interNotAfter time.Time
	snakeoil      tls.Certificate
}

var testCA = sync.OnceValue(func() caPKI {
	now := time.Now().Truncate(time.Second)
	serial := int64(100)
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore = now.Add(-time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			panic(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		return c, key
	}
	ca := func(cn string, notAfter time.Time) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotAfter: notAfter, IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	server := func(cn string, notAfter time.Time, names ...string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotAfter: notAfter, DNSNames: names,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	}
	root, rootKey := issue(ca("Test Root CA", now.Add(10*365*24*time.Hour)), nil, nil)
	inter, interKey := issue(ca("Test Intermediate CA", now.Add(30*24*time.Hour)), root, rootKey)
	leaf, leafKey := issue(server("mail.example.test", now.Add(90*24*time.Hour), "mail.example.test"), inter, interKey)
	snake, snakeKey := issue(server("node-a", now.Add(3650*24*time.Hour)), nil, nil)

	pool := x509.NewCertPool()
	pool.AddCert(root)
	return caPKI{
		roots:         pool,
		site:          tls.Certificate{Certificate: [][]byte{leaf.Raw, inter.Raw}, PrivateKey: leafKey, Leaf: leaf},
		leafNotAfter:  leaf.NotAfter,
		interNotAfter: inter.NotAfter,
		snakeoil:      tls.Certificate{Certificate: [][]byte{snake.Raw}, PrivateKey: snakeKey, Leaf: snake},
	}
})

// tlsSession is the script of a good session of one protocol, with the
// server presenting cert: over STARTTLS (starttls true) or implicit TLS.
func tlsSession(proto string, cert tls.Certificate, starttls bool) []step {
	var s []step
	if !starttls {
		s = append(s, startTLSWith(cert))
	}
	switch proto {
	case "smtp", "smtps":
		s = append(s, send(postfixGreeting), expect("EHLO "))
		if starttls {
			s = append(s, send("250-mx.example.com", "250-STARTTLS", "250 8BITMIME"),
				expect("STARTTLS\r\n"), send("220 2.0.0 Ready to start TLS"), startTLSWith(cert), expect("EHLO "))
		}
		s = append(s, send("250-mx.example.com", "250 AUTH PLAIN"), expect("QUIT\r\n"), goodbye("221 2.0.0 Bye"))
	case "pop3", "pop3s":
		s = append(s, send("+OK Dovecot (Debian) ready."), expect("CAPA\r\n"))
		if starttls {
			s = append(s, send("+OK", "TOP", "STLS", "."), expect("STLS\r\n"), send("+OK Begin TLS negotiation now."),
				startTLSWith(cert), expect("CAPA\r\n"))
		}
		s = append(s, send("+OK", "TOP", "SASL PLAIN", "."), expect("QUIT\r\n"), goodbye("+OK Logging out."))
	case "imap", "imaps":
		s = append(s, send("* OK Dovecot (Debian) ready."), expect("a1 CAPABILITY\r\n"))
		if starttls {
			s = append(s, send("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED", "a1 OK done"),
				expect("a2 STARTTLS\r\n"), send("a2 OK Begin TLS negotiation now."), startTLSWith(cert),
				expect("a3 CAPABILITY\r\n"), send("* CAPABILITY IMAP4rev1 AUTH=PLAIN", "a3 OK done"))
		} else {
			s = append(s, send("* CAPABILITY IMAP4rev1 AUTH=PLAIN", "a1 OK done"))
		}
		s = append(s, expect("a9 LOGOUT\r\n"), goodbye("* BYE Logging out", "a9 OK Logout completed."))
	default:
		panic("no TLS session script for " + proto)
	}
	return s
}

// TestTLSVerification: a certificate problem is reported in Result.TLS and
// never makes a probe down, in every mode and line protocol.
func TestTLSVerification(t *testing.T) {
	pki := testCA()
	type tlsCase struct {
		name         string
		cert         tls.Certificate
		serverName   string
		roots        bool // trust the test root CA
		wantVerified bool
	}
	cases := []tlsCase{
		{name: "self-signed snakeoil, no name", cert: pki.snakeoil},
		{name: "self-signed snakeoil with a name", cert: pki.snakeoil, serverName: "mail.example.test", roots: true},
		{name: "site certificate, name and CA", cert: pki.site, serverName: "mail.example.test", roots: true, wantVerified: true},
		{name: "site certificate, wrong name", cert: pki.site, serverName: "imap.example.test", roots: true},
		{name: "site certificate, CA not trusted", cert: pki.site, serverName: "mail.example.test"},
		{name: "site certificate, no name", cert: pki.site, roots: true},
	}
	modes := []struct {
		proto string
		mode  TLSMode
		opp   bool
	}{
		{"smtp", TLSNone, true}, {"smtp", TLSStartTLS, false}, {"smtps", TLSImplicit, false},
		{"pop3", TLSNone, true}, {"pop3", TLSStartTLS, false}, {"pop3s", TLSImplicit, false},
		{"imap", TLSNone, true}, {"imap", TLSStartTLS, false}, {"imaps", TLSImplicit, false},
	}
	for _, m := range modes {
		for _, tc := range cases {
			name := m.proto + "/" + string(m.mode)
			if m.opp {
				name += "-opportunistic"
			}
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				srv := startFake(t, false, tlsSession(m.proto, tc.cert, m.mode != TLSImplicit)...)
				target := Target{Address: srv.addr, TLS: m.mode, Opportunistic: m.opp, ServerName: tc.serverName}
				if tc.roots {
					target.TLSConfig = &tls.Config{RootCAs: pki.roots}
				} else {
					// An empty pool: nothing is trusted, not even the system roots.
					target.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()}
				}
				res := probeOnce(t, m.proto, target, 3*time.Second)
				if !res.Up {
					t.Fatalf("down: %v (%s)", res.Err, res.Reason)
				}
				if res.TLS == nil {
					t.Fatal("no TLS state")
				}
				if res.TLS.Verified != tc.wantVerified {
					t.Errorf("Verified = %v, want %v (%v)", res.TLS.Verified, tc.wantVerified, res.TLS.VerifyErr)
				}
				if !tc.wantVerified && res.TLS.VerifyErr == nil {
					t.Error("unverified without a VerifyErr")
				}
				leaf := tc.cert.Leaf
				if !res.TLS.LeafNotAfter.Equal(leaf.NotAfter) {
					t.Errorf("LeafNotAfter = %v, want %v", res.TLS.LeafNotAfter, leaf.NotAfter)
				}
				wantChain := leaf.NotAfter
				if len(tc.cert.Certificate) > 1 {
					wantChain = pki.interNotAfter // the intermediate expires first
				}
				if !res.TLS.ChainNotAfter.Equal(wantChain) {
					t.Errorf("ChainNotAfter = %v, want %v", res.TLS.ChainNotAfter, wantChain)
				}
				if err := srv.wait(); err != nil {
					t.Errorf("fake server: %v", err)
				}
			})
		}
	}
}

// TestTLSServerNameNeverTheAddress: a certificate valid for 127.0.0.1 is
// still unverified when no name is configured: the name clients use is
// what counts, not the address the exporter dials.
func TestTLSServerNameNeverTheAddress(t *testing.T) {
	srv := startFake(t, true, hang())
	res := probeOnce(t, "tcp", Target{Address: srv.addr, TLS: TLSImplicit, TLSConfig: trustingTLS()}, 3*time.Second)
	if !res.Up || res.TLS == nil || res.TLS.Verified || res.TLS.VerifyErr != errNoServerName {
		t.Fatalf("got Up=%v TLS=%+v", res.Up, res.TLS)
	}
	srv2 := startFake(t, true, hang())
	res = probeOnce(t, "tcp", Target{Address: srv2.addr, TLS: TLSImplicit, TLSConfig: trustingTLS(), ServerName: "127.0.0.1"}, 3*time.Second)
	if !res.Up || res.TLS == nil || res.TLS.Verified {
		t.Fatalf("an IP address as server name verified: Up=%v TLS=%+v", res.Up, res.TLS)
	}
}

// TestTLSExpiredCertificateIsUp: an expired certificate is a fact, not an
// outage.
func TestTLSExpiredCertificateIsUp(t *testing.T) {
	srv := startFake(t, true, hang())
	target := Target{Address: srv.addr, TLS: TLSImplicit, TLSConfig: trustingTLS(), ServerName: "mail.test"}
	res := probeOnce(t, "tcp", target, 3*time.Second)
	if !res.Up || res.TLS == nil || !res.TLS.Verified {
		t.Fatalf("fresh certificate: Up=%v TLS=%+v", res.Up, res.TLS)
	}
	leaf := testPKI().leaf
	st := inspectCertificates([]*x509.Certificate{leaf}, testPKI().pool, "mail.test", leaf.NotAfter.Add(time.Hour))
	if st.Verified || st.VerifyErr == nil || !st.LeafNotAfter.Equal(leaf.NotAfter) {
		t.Errorf("expired: %+v", st)
	}
}

func TestTLSClientCertificateAndVersionsKept(t *testing.T) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{testPKI().cert}}
	c := newTLSClient(Target{TLSConfig: cfg, ServerName: "mail.test"}, "")
	if c.cfg.MinVersion != tls.VersionTLS13 || len(c.cfg.Certificates) != 1 || c.cfg.ServerName != "mail.test" {
		t.Errorf("config not carried over: %+v", c.cfg)
	}
	if cfg.InsecureSkipVerify || cfg.VerifyConnection != nil {
		t.Error("the caller's config was modified")
	}
}
