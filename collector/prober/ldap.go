package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// maxLDAPBytes caps what an LDAP probe reads from the server in total; a
// root DSE is a few KiB.
const maxLDAPBytes = 1 << 20

// ldapDialogue: a real round trip with github.com/go-ldap/ldap/v3: optional
// StartTLS (TLS = starttls; there is no opportunistic LDAP upgrade, as the
// root DSE that would advertise it is only read afterwards), then an
// anonymous base-scope search of LDAPBaseDN ("" = the root DSE) with filter
// (objectClass=*). Up when the search completes with result code success;
// zero entries are accepted (some servers hide the root DSE from anonymous
// clients but still answer the protocol correctly). With implicit TLS it is
// ldaps (636). Version is the root DSE's vendorVersion (RFC 3045) when the
// server publishes one.
func ldapDialogue(ctx context.Context, t Target, r *Result) error {
	mode, err := tlsMode(t)
	if err != nil {
		return err
	}
	raw, err := dial(ctx, "tcp", t.Address)
	if err != nil {
		return err
	}
	lc := &limitedConn{Conn: raw, left: maxLDAPBytes}
	var c net.Conn = lc
	if mode == TLSImplicit {
		tc, err := newTLSClient(t, "").handshake(ctx, c, r)
		if err != nil {
			raw.Close()
			return err
		}
		c = tc
	}
	// The connection deadline (from ctx) bounds every read and write of the
	// library's goroutines; the request timeout makes a pending request
	// return rather than wait for the reader to fail.
	l := ldap.NewConn(c, mode == TLSImplicit)
	l.Start()
	defer l.Close()
	if dl, ok := ctx.Deadline(); ok {
		l.SetTimeout(time.Until(dl))
	}

	if mode == TLSStartTLS {
		tc := newTLSClient(t, "")
		err := l.StartTLS(tc.cfg)
		tc.record(r)
		if err != nil {
			return fmt.Errorf("StartTLS: %w", ldapFailure(err, lc, ReasonStartTLSUnavailable))
		}
	}

	if t.Login != nil {
		classify := func(err error) error { return ldapFailure(err, lc, ReasonAuthFailed) }
		if err := ldapLogin(l, mode != TLSNone, t.Login, classify); err != nil {
			return err
		}
	}

	timeLimit := 0
	if dl, ok := ctx.Deadline(); ok {
		timeLimit = int(time.Until(dl)/time.Second) + 1
	}
	req := ldap.NewSearchRequest(t.LDAPBaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, timeLimit, false, "(objectClass=*)", []string{"vendorName", "vendorVersion"}, nil)
	res, err := l.Search(req)
	if err != nil {
		return fmt.Errorf("search: %w", ldapFailure(err, lc, ReasonRejected))
	}
	if len(res.Entries) > 0 {
		r.Version = capLen(strings.TrimSpace(res.Entries[0].GetAttributeValue("vendorVersion")), 64)
	}
	return nil
}

// ldapFailure attaches a reason to an error of the LDAP library. A result
// code sent by the server is a refusal (refused, the reason given by
// the caller: rejected for a search, starttls_unavailable for StartTLS) or
// an authentication failure. The library's own codes (network errors,
// malformed packets) lose the underlying error, so the connection's first
// read error tells timeouts and hang-ups apart, and a failure after the
// TLS handshake started is a handshake failure.
func ldapFailure(err error, c *limitedConn, refused Reason) error {
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication,
			ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultConfidentialityRequired,
			ldap.LDAPResultStrongAuthRequired:
			return fail(ReasonAuthFailed, err)
		}
		if le.ResultCode < ldap.ErrorNetwork {
			return fail(refused, err)
		}
	}
	c.mu.Lock()
	readErr, tlsStarted, closed := c.readErr, c.tlsStarted, c.closed
	c.mu.Unlock()
	switch {
	case readErr != nil && transportReason(readErr, "") == ReasonTimeout:
		return fail(ReasonTimeout, err)
	case tlsStarted && refused == ReasonStartTLSUnavailable:
		return fail(ReasonTLSHandshake, err)
	case readErr != nil:
		return fail(transportReason(readErr, ReasonProtocolError), err)
	case closed:
		// The library's reader gave up on what the server sent and
		// closed the connection; the pending request then only times out.
		return fail(ReasonProtocolError, err)
	case strings.Contains(err.Error(), "timed out"):
		return fail(ReasonTimeout, err)
	}
	return fail(transportReason(err, ReasonProtocolError), err)
}

var errTooMuchData = fmt.Errorf("server sent more than %d bytes", maxLDAPBytes)

// limitedConn fails reads once left bytes have been read, and remembers
// the first read error, whether a TLS handshake record was written and
// whether the library closed it.
type limitedConn struct {
	net.Conn
	left int64

	mu         sync.Mutex
	readErr    error
	tlsStarted bool
	closed     bool
}

func (c *limitedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errTooMuchData
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= int64(n)
	if err != nil {
		c.mu.Lock()
		if c.readErr == nil {
			c.readErr = err
		}
		c.mu.Unlock()
	}
	return n, err
}

// tlsHandshakeRecord is the first byte of a TLS handshake record (an LDAP
// message starts with 0x30, a BER SEQUENCE).
const tlsHandshakeRecord = 0x16

func (c *limitedConn) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0] == tlsHandshakeRecord {
		c.mu.Lock()
		c.tlsStarted = true
		c.mu.Unlock()
	}
	return c.Conn.Write(p)
}
