package prober

import "testing"

// TestGoodbyeSentReplyIgnored: every text dialogue still ends with QUIT or
// LOGOUT, and what the server answers to it (nothing, an error, garbage,
// a hang-up) never changes the outcome: the check was decided before.
func TestGoodbyeSentReplyIgnored(t *testing.T) {
	smtpHead := []step{send(postfixGreeting), expect("EHLO mailcluster-exporter.invalid\r\n"), send("250-mx.example.com", "250 8BITMIME")}
	pop3Head := []step{send("+OK Dovecot ready."), expect("CAPA\r\n"), send("+OK", "TOP", ".")}
	imapHead := []step{send("* OK Dovecot ready."), expect("a1 CAPABILITY\r\n"), send("* CAPABILITY IMAP4rev1", "a1 OK done")}
	protos := []struct {
		proto, cmd string
		head       []step
	}{
		{"smtp", "QUIT\r\n", smtpHead},
		{"pop3", "QUIT\r\n", pop3Head},
		{"imap", "a9 LOGOUT\r\n", imapHead},
	}
	replies := []struct {
		name string
		tail []step
	}{
		// The server sees the client hang up without a reply ever sent.
		{"no reply", []step{expectEOF()}},
		{"error reply", []step{goodbye("500 5.5.2 no", "-ERR no", "a9 BAD no")}},
		{"garbage reply", []step{func(c *fakeConn) error { _, _ = c.conn.Write(hugeLine); return nil }}},
		{"hang-up", []step{hangup()}},
	}
	var cases []probeCase
	for _, p := range protos {
		for _, r := range replies {
			script := append(append(append([]step{}, p.head...), expect(p.cmd)), r.tail...)
			cases = append(cases, probeCase{name: p.proto + "/" + r.name, proto: p.proto, script: script, wantUp: true})
		}
	}
	runProbeCases(t, cases)
}
