package prober

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
)

const (
	testUser = "probe@example.org"
	testPass = "Pa55-w0rd-that-must-never-show"
)

// withLogin sets the login (and the TLS mode) of the probe.
func withLogin(mech string, allowPlain bool, mode TLSMode) func(*Target) {
	return func(t *Target) {
		t.TLS = mode
		t.Login = &Login{Mechanism: mech, AllowPlaintext: allowPlain,
			Credentials: func() (string, string, error) { return testUser, testPass, nil }}
	}
}

func withWrongPassword(mech string, mode TLSMode) func(*Target) {
	return func(t *Target) {
		t.TLS = mode
		t.Login = &Login{Mechanism: mech,
			Credentials: func() (string, string, error) { return testUser, "wrong-" + testPass, nil }}
	}
}

// expectClosed passes when the client closes the connection without
// sending anything more: no credential was sent.
func expectClosed() step {
	return func(c *fakeConn) error {
		line, err := c.br.ReadString('\n')
		if line == "" && (errors.Is(err, io.EOF) || err != nil) {
			return nil
		}
		return fmt.Errorf("client sent %q, want the connection closed without a login", line)
	}
}

func join(parts ...[]step) []step {
	var s []step
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

func TestSMTPLogin(t *testing.T) {
	greet := []step{send(postfixGreeting), expect("EHLO "), send("250-mx.example.com", "250-STARTTLS", "250 8BITMIME")}
	upgrade := func(auth string) []step {
		return []step{expect("STARTTLS\r\n"), send("220 2.0.0 Ready"), startTLS(),
			expect("EHLO "), send("250-mx.example.com", "250 AUTH "+auth)}
	}
	plainResp := b64("\x00" + testUser + "\x00" + testPass)
	runProbeCases(t, []probeCase{
		{
			name: "AUTH PLAIN after STARTTLS", proto: "smtp",
			script: smtpScript(join(greet, upgrade("PLAIN LOGIN"), []step{expect("AUTH PLAIN " + plainResp + "\r\n"), send("235 2.7.0 Authentication successful")})...),
			target: withLogin("plain", false, TLSStartTLS), wantUp: true, wantCert: true,
		},
		{
			name: "AUTH LOGIN after STARTTLS", proto: "smtp",
			script: smtpScript(join(greet, upgrade("PLAIN LOGIN"), []step{
				expect("AUTH LOGIN\r\n"), send("334 VXNlcm5hbWU6"),
				expect(b64(testUser) + "\r\n"), send("334 UGFzc3dvcmQ6"),
				expect(b64(testPass) + "\r\n"), send("235 2.7.0 Authentication successful")})...),
			target: withLogin("login", false, TLSStartTLS), wantUp: true, wantCert: true,
		},
		{
			name: "wrong password", proto: "smtp",
			script: join(greet, upgrade("PLAIN"), []step{expect("AUTH PLAIN "), send("535 5.7.8 Error: authentication failed: authentication failure")}),
			target: withWrongPassword("plain", TLSStartTLS), wantCert: true,
			wantReason: ReasonAuthFailed, wantErr: "AUTH PLAIN: server replied 535",
		},
		{
			name: "mechanism not offered", proto: "smtp",
			script: join(greet, upgrade("CRAM-MD5")),
			target: withLogin("login", false, TLSStartTLS), wantCert: true,
			wantReason: ReasonAuthFailed, wantErr: "AUTH LOGIN not offered",
		},
		{
			name: "plaintext allowed", proto: "smtp",
			script: smtpScript(send(postfixGreeting), expect("EHLO "), send("250-mx.example.com", "250 AUTH PLAIN"),
				expect("AUTH PLAIN "+plainResp+"\r\n"), send("235 ok")),
			target: withLogin("plain", true, TLSNone), wantUp: true,
		},
	})
}

func TestIMAPLogin(t *testing.T) {
	g := []step{send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready")}
	capa := []step{expect("a1 CAPABILITY\r\n"), send("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED", "a1 OK done")}
	upgrade := func(caps string) []step {
		return []step{expect("a2 STARTTLS\r\n"), send("a2 OK Begin TLS negotiation now."), startTLS(),
			expect("a3 CAPABILITY\r\n"), send("* CAPABILITY IMAP4rev1 "+caps, "a3 OK done")}
	}
	tail := []step{expect("a9 LOGOUT\r\n"), goodbye("* BYE Logging out", "a9 OK Logout completed.")}
	runProbeCases(t, []probeCase{
		{
			name: "LOGIN after STARTTLS", proto: "imap",
			script: join(g, capa, upgrade("AUTH=PLAIN"), []step{expect(`a5 LOGIN "` + testUser + `" "` + testPass + `"` + "\r\n"),
				send("a5 OK [CAPABILITY IMAP4rev1 IDLE] Logged in")}, tail),
			target: withLogin("login", false, TLSStartTLS), wantUp: true, wantCert: true,
		},
		{
			name: "AUTHENTICATE PLAIN with SASL-IR", proto: "imap",
			script: join(g, capa, upgrade("SASL-IR AUTH=PLAIN"), []step{expect("a5 AUTHENTICATE PLAIN " + b64("\x00"+testUser+"\x00"+testPass) + "\r\n"),
				send("a5 OK Logged in")}, tail),
			target: withLogin("plain", false, TLSStartTLS), wantUp: true, wantCert: true,
		},
		{
			name: "AUTHENTICATE PLAIN after a continuation", proto: "imap",
			script: join(g, capa, upgrade("AUTH=PLAIN"), []step{expect("a5 AUTHENTICATE PLAIN\r\n"), send("+ "),
				expect(b64("\x00" + testUser + "\x00" + testPass)), send("a5 OK Logged in")}, tail),
			target: withLogin("plain", false, TLSStartTLS), wantUp: true, wantCert: true,
		},
		{
			name: "wrong password", proto: "imap",
			script: join(g, capa, upgrade("AUTH=PLAIN"), []step{expect("a5 LOGIN "), send("a5 NO [AUTHENTICATIONFAILED] Authentication failed.")}),
			target: withWrongPassword("login", TLSStartTLS), wantCert: true,
			wantReason: ReasonAuthFailed, wantErr: "LOGIN: server replied",
		},
		{
			name: "LOGINDISABLED over TLS too", proto: "imap",
			script: join(g, capa, upgrade("LOGINDISABLED")),
			target: withLogin("login", false, TLSStartTLS), wantCert: true,
			wantReason: ReasonAuthFailed, wantErr: "LOGINDISABLED",
		},
	})
}

func TestPOP3Login(t *testing.T) {
	g := []step{send("+OK Dovecot ready."), expect("CAPA\r\n"), send("+OK", "USER", "STLS", ".")}
	upgrade := []step{expect("STLS\r\n"), send("+OK Begin TLS"), startTLS(), expect("CAPA\r\n"), send("+OK", "USER", ".")}
	tail := []step{expect("QUIT\r\n"), goodbye("+OK Logging out.")}
	runProbeCases(t, []probeCase{
		{
			name: "USER/PASS after STLS", proto: "pop3",
			script: join(g, upgrade, []step{expect("USER " + testUser + "\r\n"), send("+OK"), expect("PASS " + testPass + "\r\n"), send("+OK Logged in.")}, tail),
			target: withLogin("user", false, TLSStartTLS), wantUp: true, wantCert: true,
		},
		{
			name: "wrong password", proto: "pop3",
			script: join(g, upgrade, []step{expect("USER "), send("+OK"), expect("PASS "), send("-ERR [AUTH] Authentication failed.")}),
			target: withWrongPassword("user", TLSStartTLS), wantCert: true,
			wantReason: ReasonAuthFailed, wantErr: "PASS: server replied",
		},
	})
}

func ldapBind(code int64) step {
	return ldapServe(0, func(id int64) []*ber.Packet { return []*ber.Packet{ldapMessage(id, ldapResult(1, code))} })
}

func TestLDAPLogin(t *testing.T) {
	runProbeCases(t, []probeCase{
		{
			name: "simple bind over ldaps", proto: "ldaps", serverTLS: true, script: []step{ldapBind(0), rootDSE("", 0)},
			target: withLogin("simple", false, TLSImplicit), wantUp: true, wantCert: true,
		},
		{
			name: "simple bind after StartTLS", proto: "ldap", script: []step{ldapStartTLS(0), startTLS(), ldapBind(0), rootDSE("", 0)},
			target: withLogin("simple", false, TLSStartTLS), wantUp: true, wantCert: true,
		},
		{
			name: "invalid credentials", proto: "ldaps", serverTLS: true, script: []step{ldapBind(49)},
			target: withWrongPassword("simple", TLSImplicit), wantCert: true,
			wantReason: ReasonAuthFailed, wantErr: "bind: server replied Invalid Credentials",
		},
	})
}

// Without TLS and without allow_plaintext_auth no credential leaves the
// exporter: the probe fails (starttls_unavailable) and the server sees the
// connection closed where the login would have been.
func TestNoPlaintextLogin(t *testing.T) {
	for _, tc := range []struct {
		proto  string
		script []step
	}{
		{"smtp", []step{send(postfixGreeting), expect("EHLO "), send("250-mx.example.com", "250 AUTH PLAIN LOGIN"), expectClosed()}},
		{"imap", []step{send("* OK ready"), expect("a1 CAPABILITY"), send("* CAPABILITY IMAP4rev1 AUTH=PLAIN", "a1 OK"), expectClosed()}},
		{"pop3", []step{send("+OK ready"), expect("CAPA"), send("+OK", "USER", "."), expectClosed()}},
		{"ldap", []step{expectClosed()}},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			// The handler signals when it runs: the connection was accepted
			// (and counted) before wait() is called.
			started := make(chan struct{})
			script := append([]step{func(*fakeConn) error { close(started); return nil }}, tc.script...)
			srv := startFake(t, false, script...)
			target := Target{Address: srv.addr, TLSConfig: trustingTLS()}
			withLogin("", false, TLSNone)(&target)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			probe, _ := Lookup(tc.proto)
			res := probe(ctx, target)
			if res.Up || res.Reason != ReasonStartTLSUnavailable || !strings.Contains(res.Err.Error(), "no TLS") {
				t.Errorf("Up %v, reason %q, err %v; want down, starttls_unavailable, saying why", res.Up, res.Reason, res.Err)
			}
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("the fake server never saw the connection")
			}
			if err := srv.wait(); err != nil {
				t.Errorf("fake server: %v", err)
			}
		})
	}
}

// No error of a login check contains the password or the user name.
func TestLoginErrorsCarryNoCredentials(t *testing.T) {
	cases := []struct {
		proto  string
		tls    bool
		script []step
	}{
		{"smtp", false, []step{send(postfixGreeting), expect("EHLO "), send("250-mx", "250 AUTH LOGIN"), expect("AUTH LOGIN"), send("334 VXNlcm5hbWU6"),
			expect(""), send("334 UGFzc3dvcmQ6"), expect(""), send("535 5.7.8 authentication failed for " + testUser)}},
		{"smtp", false, []step{send(postfixGreeting), expect("EHLO "), send("250-mx", "250 AUTH PLAIN"), expect("AUTH"), hangup()}},
		{"imap", false, []step{send("* OK ready"), expect("a1 CAPABILITY"), send("* CAPABILITY IMAP4rev1", "a1 OK"), expect("a5 LOGIN"), send("a5 BAD")}},
		{"imap", false, []step{send("* OK ready"), expect("a1 CAPABILITY"), send("* CAPABILITY IMAP4rev1", "a1 OK"), expect("a5 LOGIN"), hangup()}},
		{"pop3", false, []step{send("+OK ready"), expect("CAPA"), send("+OK", "."), expect("USER"), send("+OK"), expect("PASS"), hangup()}},
		{"ldaps", true, []step{ldapServe(0, func(int64) []*ber.Packet { return nil }), hangup()}},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(tc.proto, i), func(t *testing.T) {
			srv := startFake(t, tc.tls, tc.script...)
			target := Target{Address: srv.addr, TLSConfig: trustingTLS()}
			withLogin("", true, "")(&target)
			if tc.proto == "smtp" && i == 0 {
				target.Login.Mechanism = "login"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			probe, _ := Lookup(tc.proto)
			res := probe(ctx, target)
			if res.Up {
				t.Fatal("up, want down")
			}
			msg := res.Err.Error()
			if strings.Contains(msg, testPass) || strings.Contains(msg, b64(testPass)) || strings.Contains(msg, b64("\x00"+testUser+"\x00"+testPass)) {
				t.Errorf("error carries the password: %s", msg)
			}
			if i != 0 && strings.Contains(msg, testUser) { // case 0 quotes the server, which named the user itself
				t.Errorf("error carries the user name: %s", msg)
			}
		})
	}
}
