package prober

import (
	"context"
	"fmt"
	"net"
	"strings"
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
	var c net.Conn = &limitedConn{Conn: raw, left: maxLDAPBytes}
	if mode == TLSImplicit {
		tc, err := handshake(ctx, c, tlsConfig(t, ""), r)
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
		if err := l.StartTLS(tlsConfig(t, "")); err != nil {
			return fmt.Errorf("StartTLS: %w", err)
		}
		if st, ok := l.TLSConnectionState(); ok && len(st.PeerCertificates) > 0 {
			r.CertNotAfter = st.PeerCertificates[0].NotAfter
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
		return fmt.Errorf("search: %w", err)
	}
	if len(res.Entries) > 0 {
		r.Version = capLen(strings.TrimSpace(res.Entries[0].GetAttributeValue("vendorVersion")), 64)
	}
	return nil
}

var errTooMuchData = fmt.Errorf("server sent more than %d bytes", maxLDAPBytes)

// limitedConn fails reads once left bytes have been read.
type limitedConn struct {
	net.Conn
	left int64
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
	return n, err
}
