package prober

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// TLSState is what a probe learnt about the certificate the server
// presented. Verification is a fact of its own: it never decides whether
// the probe is up.
type TLSState struct {
	// Verified is true when the certificate chains to a trusted root
	// (Target.TLSConfig.RootCAs, else the system roots) and names
	// Target.ServerName. Without a ServerName nothing can be verified.
	Verified bool
	// VerifyErr says why Verified is false (for logs).
	VerifyErr error
	// LeafNotAfter is the NotAfter of the server's own certificate.
	LeafNotAfter time.Time
	// ChainNotAfter is the earliest NotAfter in the chain: the verified
	// chain up to and including the root when Verified (of several valid
	// chains, the one that lasts longest), else the certificates the
	// server sent. The chain is only as good as its first certificate to
	// expire, typically an intermediate.
	ChainNotAfter time.Time
}

// errNoServerName is the VerifyErr when no name to check was configured.
var errNoServerName = errors.New("no tls_server_name to verify the certificate against")

// tlsClient is the client side of one probe's TLS: a config that completes
// any handshake (verification is done separately, so that it cannot fail
// the dialogue) and records what the server presented.
type tlsClient struct {
	cfg   *tls.Config
	roots *x509.CertPool
	name  string

	mu    sync.Mutex
	certs []*x509.Certificate
}

// newTLSClient prepares the TLS of a probe of t. The name certificates are
// checked against is t.ServerName, else fallback (the HTTP Host); an IP
// address is never a name to check (DESIGN §2.12). SNI is sent for a name.
func newTLSClient(t Target, fallback string) *tlsClient {
	var cfg *tls.Config
	if t.TLSConfig != nil {
		cfg = t.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	name := t.ServerName
	if name == "" {
		name = fallback
	}
	if _, err := netip.ParseAddr(name); err == nil {
		name = ""
	}
	c := &tlsClient{cfg: cfg, roots: cfg.RootCAs, name: name}
	cfg.ServerName = name
	// Verification happens in state(), against c.roots and c.name.
	cfg.InsecureSkipVerify = true //nolint:gosec // verified separately; the outcome is reported, not enforced
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		c.mu.Lock()
		c.certs = cs.PeerCertificates
		c.mu.Unlock()
		return nil
	}
	return c
}

// handshake runs the client handshake over conn under ctx and records the
// certificate in r, also when the handshake failed after the certificate.
func (c *tlsClient) handshake(ctx context.Context, conn net.Conn, r *Result) (*tls.Conn, error) {
	tc := tls.Client(conn, c.cfg)
	err := tc.HandshakeContext(ctx)
	c.record(r)
	if err != nil {
		return nil, fail(transportReason(err, ReasonTLSHandshake), fmt.Errorf("TLS handshake: %w", err))
	}
	return tc, nil
}

// record sets r.TLS from the certificates seen, if any.
func (c *tlsClient) record(r *Result) {
	c.mu.Lock()
	certs := c.certs
	c.mu.Unlock()
	if len(certs) > 0 {
		r.TLS = inspectCertificates(certs, c.roots, c.name, time.Now())
	}
}

// inspectCertificates verifies the presented chain certs (leaf first)
// against roots (nil: the system roots) and name at now.
func inspectCertificates(certs []*x509.Certificate, roots *x509.CertPool, name string, now time.Time) *TLSState {
	leaf := certs[0]
	st := &TLSState{LeafNotAfter: leaf.NotAfter, ChainNotAfter: earliest(certs)}
	if name == "" {
		st.VerifyErr = errNoServerName
		return st
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name, CurrentTime: now})
	if err != nil {
		st.VerifyErr = err
		return st
	}
	st.Verified = true
	st.ChainNotAfter = time.Time{}
	for _, ch := range chains {
		if e := earliest(ch); e.After(st.ChainNotAfter) {
			st.ChainNotAfter = e
		}
	}
	return st
}

func earliest(certs []*x509.Certificate) time.Time {
	var t time.Time
	for _, c := range certs {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}
