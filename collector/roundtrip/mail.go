package roundtrip

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// ErrPlaintextAuth is returned instead of sending credentials over a
// connection without TLS (unless allow_plaintext_auth is set).
var ErrPlaintextAuth = errors.New("refusing to send credentials without TLS (set allow_plaintext_auth to allow it)")

// dial connects under ctx and closes the connection when ctx ends, so no
// library call can outlive the round's deadline. With implicit TLS the
// handshake is done here.
func dial(ctx context.Context, ep Endpoint) (net.Conn, func(), error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ep.Address)
	if err != nil {
		return nil, nil, err
	}
	if ep.TLS == "implicit" {
		tc := tls.Client(conn, ep.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return conn, func() { stop(); conn.Close() }, nil
}

// submit hands the message to the submission server: EHLO, STARTTLS if
// configured, AUTH if configured (never before TLS unless allowed), MAIL,
// RCPT, DATA.
func submit(ctx context.Context, ep Endpoint, helo, from, to string, msg []byte) error {
	conn, closeConn, err := dial(ctx, ep)
	if err != nil {
		return fmt.Errorf("submission %s: %w", ep.Address, err)
	}
	defer closeConn()
	wrap := func(step string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("submission %s: %s: %w", ep.Address, step, err)
	}
	var c *smtp.Client
	if ep.TLS == "starttls" {
		if c, err = smtp.NewClientStartTLS(conn, ep.TLSConfig); err != nil {
			return wrap("STARTTLS", err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.CommandTimeout, c.SubmissionTimeout = time.Until(dl), time.Until(dl)
	}
	if err := c.Hello(helo); err != nil {
		return wrap("EHLO", err)
	}
	if ep.Auth != nil {
		if err := smtpAuth(c, ep); err != nil {
			return wrap("AUTH", err)
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return wrap("MAIL FROM", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return wrap("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return wrap("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return wrap("DATA", err)
	}
	if err := w.Close(); err != nil {
		return wrap("end of DATA", err)
	}
	_ = c.Quit()
	return nil
}

func smtpAuth(c *smtp.Client, ep Endpoint) error {
	if _, tlsOn := c.TLSConnectionState(); !tlsOn && !ep.Auth.AllowPlaintextAuth {
		return ErrPlaintextAuth
	}
	user, pass, err := ep.Auth.Credentials()
	if err != nil {
		return err
	}
	var sc sasl.Client
	switch ep.Auth.Mechanism {
	case "login":
		sc = sasl.NewLoginClient(user, pass)
	default:
		sc = sasl.NewPlainClient("", user, pass)
	}
	if err := c.Auth(sc); err != nil {
		return errors.New(scrubSMTP(err))
	}
	return nil
}

// scrubSMTP keeps the server's reply code and text, never a SASL payload.
func scrubSMTP(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("server replied %d %s", se.Code, se.Message)
	}
	return "login failed"
}

// imapSession opens an IMAP session on ep, logged in with the mailbox
// selected. The caller closes it with the returned function.
func imapSession(ctx context.Context, ep Endpoint) (*imapclient.Client, func(), error) {
	conn, closeConn, err := dial(ctx, ep)
	if err != nil {
		return nil, nil, fmt.Errorf("imap %s: %w", ep.Address, err)
	}
	wrap := func(step string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("imap %s: %s: %w", ep.Address, step, err)
	}
	opts := &imapclient.Options{TLSConfig: ep.TLSConfig}
	var c *imapclient.Client
	tlsOn := ep.TLS == "implicit"
	if ep.TLS == "starttls" {
		if c, err = imapclient.NewStartTLS(conn, opts); err != nil {
			closeConn()
			return nil, nil, wrap("STARTTLS", err)
		}
		tlsOn = true
	} else {
		c = imapclient.New(conn, opts)
	}
	done := func() { c.Close(); closeConn() }
	if err := c.WaitGreeting(); err != nil {
		done()
		return nil, nil, wrap("greeting", err)
	}
	if ep.Auth != nil {
		if err := imapLogin(c, ep, tlsOn); err != nil {
			done()
			return nil, nil, wrap("login", err)
		}
	}
	if _, err := c.Select(ep.Mailbox, nil).Wait(); err != nil {
		done()
		return nil, nil, wrap("SELECT "+ep.Mailbox, err)
	}
	return c, done, nil
}

func imapLogin(c *imapclient.Client, ep Endpoint, tlsOn bool) error {
	if !tlsOn && !ep.Auth.AllowPlaintextAuth {
		return ErrPlaintextAuth
	}
	user, pass, err := ep.Auth.Credentials()
	if err != nil {
		return err
	}
	if ep.Auth.Mechanism == "plain" {
		err = c.Authenticate(sasl.NewPlainClient("", user, pass))
	} else {
		err = c.Login(user, pass).Wait()
	}
	if err != nil {
		return errors.New(scrubIMAP(err))
	}
	return nil
}

// scrubIMAP keeps the server's response, never what the client sent.
func scrubIMAP(err error) string {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return fmt.Sprintf("server replied %s %s", ie.Type, ie.Text)
	}
	return "login failed"
}

// lookFor reports whether a message carrying token is in the node's mailbox.
func lookFor(ctx context.Context, ep Endpoint, token string) (bool, error) {
	c, done, err := imapSession(ctx, ep)
	if err != nil {
		return false, err
	}
	defer done()
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: Header, Value: token}}}, nil).Wait()
	if err != nil {
		return false, fmt.Errorf("imap %s: SEARCH: %w", ep.Address, err)
	}
	_ = c.Logout().Wait()
	return len(data.AllUIDs()) > 0, nil
}

// deleteProbeMessages deletes the probe messages whose token del accepts
// and returns how many it deleted. Messages without the header are never
// touched.
func deleteProbeMessages(ctx context.Context, ep Endpoint, del func(token string) bool) (int, error) {
	c, done, err := imapSession(ctx, ep)
	if err != nil {
		return 0, err
	}
	defer done()
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: Header, Value: ""}}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("imap %s: SEARCH: %w", ep.Address, err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return 0, nil
	}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{Header}, Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return 0, fmt.Errorf("imap %s: FETCH: %w", ep.Address, err)
	}
	var doomed imap.UIDSet
	n := 0
	for _, m := range msgs {
		if del(headerValue(m.FindBodySection(section))) {
			doomed.AddNum(m.UID)
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	if err := c.Store(doomed, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return 0, fmt.Errorf("imap %s: STORE: %w", ep.Address, err)
	}
	if c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2) {
		err = c.UIDExpunge(doomed).Close()
	} else {
		err = c.Expunge().Close() // the probe mailbox holds probe messages only
	}
	if err != nil {
		return 0, fmt.Errorf("imap %s: EXPUNGE: %w", ep.Address, err)
	}
	_ = c.Logout().Wait()
	return n, nil
}

// headerValue reads the probe header from a fetched header section.
func headerValue(raw []byte) string {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(raw, '\r', '\n')))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return ""
	}
	return strings.TrimSpace(h.Get(Header))
}
