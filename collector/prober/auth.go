package prober

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Login makes a check log in after the dialogue's TLS step: SMTP AUTH
// PLAIN or LOGIN, IMAP LOGIN or AUTHENTICATE PLAIN, POP3 USER/PASS, an LDAP
// simple bind. A refused login fails the probe with reason auth_failed.
//
// Credentials are read at each probe (a rotated secret needs no reload).
// They are never sent over a connection without TLS unless AllowPlaintext
// is set, and never appear in an error: errors carry the server's reply,
// not what the client sent.
type Login struct {
	Credentials func() (user, password string, err error)
	// Mechanism: smtp plain|login, imap login|plain; ignored by POP3 and LDAP.
	Mechanism      string
	AllowPlaintext bool
}

// errNoTLSForLogin: the connection has no TLS and plaintext logins are not
// allowed, so the credentials were withheld.
var errNoTLSForLogin = errors.New("login withheld: the connection has no TLS (set allow_plaintext_auth to allow it)")

// credentials checks the TLS rule and reads the credentials.
func (l *Login) credentials(tlsOn bool) (user, password string, err error) {
	if !tlsOn && !l.AllowPlaintext {
		return "", "", fail(ReasonStartTLSUnavailable, errNoTLSForLogin)
	}
	user, password, err = l.Credentials()
	if err != nil {
		return "", "", fail(ReasonAuthFailed, fmt.Errorf("reading credentials: %w", err))
	}
	return user, password, nil
}

// sendSecret writes a line that carries a credential; an error names only
// what is labelled.
func (s *textConn) sendSecret(line, label string) error {
	if err := s.send(line); err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	return nil
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// smtpLogin runs AUTH with the configured mechanism, which the server
// must offer in its EHLO (after STARTTLS, when used).
func smtpLogin(s *textConn, ext map[string]string, l *Login) error {
	user, pass, err := l.credentials(s.tls)
	if err != nil {
		return err
	}
	mech := strings.ToUpper(l.Mechanism)
	if mech == "" {
		mech = "PLAIN"
	}
	offered := false
	for _, m := range strings.Fields(strings.ToUpper(ext["AUTH"])) {
		offered = offered || m == mech
	}
	if !offered {
		return fail(ReasonAuthFailed, fmt.Errorf("AUTH %s not offered (AUTH %s)", mech, quote(ext["AUTH"])))
	}
	step := func(line, label string, want int) error {
		if err := s.sendSecret(line, label); err != nil {
			return err
		}
		code, lines, err := readSMTPReply(s.lr)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if code != want {
			reason := ReasonProtocolError
			if code >= 400 {
				reason = ReasonAuthFailed
			}
			return fail(reason, fmt.Errorf("%s: server replied %d %s", label, code, quote(lines[0])))
		}
		return nil
	}
	if mech == "PLAIN" {
		return step("AUTH PLAIN "+b64("\x00"+user+"\x00"+pass), "AUTH PLAIN", 235)
	}
	if err := step("AUTH LOGIN", "AUTH LOGIN", 334); err != nil {
		return err
	}
	if err := step(b64(user), "AUTH LOGIN user name", 334); err != nil {
		return err
	}
	return step(b64(pass), "AUTH LOGIN password", 235)
}

// imapQuote writes s as an IMAP quoted string; a credential that needs a
// literal (CR, LF, NUL, 8-bit) is refused rather than mangled.
func imapQuote(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			return "", errors.New("a credential with control or non-ASCII characters needs AUTHENTICATE PLAIN (mechanism: plain)")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// imapLogin runs LOGIN or AUTHENTICATE PLAIN (with the initial response
// when the server has SASL-IR, else after the continuation).
func imapLogin(s *textConn, caps map[string]bool, l *Login) error {
	user, pass, err := l.credentials(s.tls)
	if err != nil {
		return err
	}
	if caps["LOGINDISABLED"] {
		return fail(ReasonAuthFailed, errors.New("LOGIN: the server announces LOGINDISABLED"))
	}
	if strings.EqualFold(l.Mechanism, "plain") {
		if !caps["AUTH=PLAIN"] {
			return fail(ReasonAuthFailed, errors.New("AUTHENTICATE PLAIN not offered"))
		}
		resp := b64("\x00" + user + "\x00" + pass)
		if caps["SASL-IR"] {
			return imapLoginReply(s, "a5", "a5 AUTHENTICATE PLAIN "+resp, "AUTHENTICATE PLAIN")
		}
		if err := s.sendSecret("a5 AUTHENTICATE PLAIN", "AUTHENTICATE PLAIN"); err != nil {
			return err
		}
		line, err := s.readLine()
		if err != nil {
			return fmt.Errorf("AUTHENTICATE PLAIN: %w", err)
		}
		if !strings.HasPrefix(line, "+") {
			return fail(ReasonAuthFailed, fmt.Errorf("AUTHENTICATE PLAIN: server replied %s", quote(line)))
		}
		return imapLoginReply(s, "a5", resp, "AUTHENTICATE PLAIN")
	}
	qu, err := imapQuote(user)
	if err != nil {
		return fail(ReasonAuthFailed, err)
	}
	qp, err := imapQuote(pass)
	if err != nil {
		return fail(ReasonAuthFailed, err)
	}
	return imapLoginReply(s, "a5", "a5 LOGIN "+qu+" "+qp, "LOGIN")
}

// imapLoginReply sends a credential-bearing line and reads up to the
// tagged reply, which must be OK.
func imapLoginReply(s *textConn, tag, line, label string) error {
	if err := s.sendSecret(line, label); err != nil {
		return err
	}
	for range maxReplyLines {
		reply, err := s.readLine()
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		rtag, kind, _, err := parseIMAPLine(reply)
		if err != nil {
			return fail(ReasonProtocolError, fmt.Errorf("%s: %w", label, err))
		}
		switch {
		case rtag == tag && kind == "OK":
			return nil
		case rtag == tag:
			return fail(ReasonAuthFailed, fmt.Errorf("%s: server replied %s", label, quote(reply)))
		case rtag == "*" && kind == "BYE":
			return fail(ReasonClosed, fmt.Errorf("%s: server closing: %s", label, quote(reply)))
		}
	}
	return fmt.Errorf("%s: %w", label, errTooManyLines)
}

// pop3Login runs USER and PASS.
func pop3Login(s *textConn, l *Login) error {
	user, pass, err := l.credentials(s.tls)
	if err != nil {
		return err
	}
	for _, c := range []struct{ line, label string }{{"USER " + user, "USER"}, {"PASS " + pass, "PASS"}} {
		if err := s.sendSecret(c.line, c.label); err != nil {
			return err
		}
		line, err := s.readLine()
		if err != nil {
			return fmt.Errorf("%s: %w", c.label, err)
		}
		ok, _, err := parsePOP3Status(line)
		if err != nil {
			return fail(ReasonProtocolError, fmt.Errorf("%s: %w", c.label, err))
		}
		if !ok {
			return fail(ReasonAuthFailed, fmt.Errorf("%s: server replied %s", c.label, quote(line)))
		}
	}
	return nil
}

// ldapLogin runs a simple bind; the user name is the bind DN. classify
// gives a failure that is not a server's answer its reason. The error
// text is built here: a library error may quote the request.
func ldapLogin(l *ldap.Conn, tlsOn bool, login *Login, classify func(error) error) error {
	user, pass, err := login.credentials(tlsOn)
	if err != nil {
		return err
	}
	err = l.Bind(user, pass)
	if err == nil {
		return nil
	}
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork {
		return fail(ReasonAuthFailed, fmt.Errorf("bind: server replied %s", ldap.LDAPResultCodeMap[le.ResultCode]))
	}
	return &Failure{Reason: ReasonOf(classify(err)), Err: errors.New("bind: the connection failed during the login")}
}
