package prober

import (
	"testing"
	"time"
)

func TestIMAPProbe(t *testing.T) {
	dovecot := send("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.")
	capaPlain := []step{expect("a1 CAPABILITY\r\n"), send("* CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN", "a1 OK Pre-login capabilities listed, post-login capabilities have more.")}
	capaTLS := []step{expect("a1 CAPABILITY\r\n"), send("* CAPABILITY IMAP4rev1 IDLE STARTTLS LOGINDISABLED", "a1 OK done")}
	upgrade := []step{expect("a2 STARTTLS\r\n"), send("a2 OK Begin TLS negotiation now."), startTLS(),
		expect("a3 CAPABILITY\r\n"), send("* CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN", "a3 OK done")}
	tail := []step{expect("a9 LOGOUT\r\n"), goodbye("* BYE Logging out", "a9 OK Logout completed.")}
	script := func(parts ...[]step) []step {
		var s []step
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	g := []step{dovecot}

	runProbeCases(t, []probeCase{
		{name: "plain", proto: "imap", script: script(g, capaPlain, tail), wantUp: true},
		{
			name: "PREAUTH greeting", proto: "imap",
			script: script([]step{send("* PREAUTH [CAPABILITY IMAP4rev1] IMAP4rev1 server logged in as nobody")}, capaPlain, tail),
			wantUp: true,
		},
		{
			name: "PREAUTH with STARTTLS required", proto: "imap",
			script: script([]step{send("* PREAUTH welcome")}, capaTLS), target: withTLS(TLSStartTLS, false),
			wantErr: "PREAUTH session",
		},
		{
			name: "capabilities in tagged response code", proto: "imap",
			script: script(g, []step{expect("a1 CAPABILITY"), send("a1 OK [CAPABILITY IMAP4rev1 STARTTLS] done")}, upgrade, tail),
			target: withTLS(TLSStartTLS, false), wantUp: true, wantCert: true,
		},
		{
			name: "version in greeting", proto: "imap",
			script: script([]step{send("* OK mail.example.com Cyrus IMAP v3.4.3 server ready")}, capaPlain, tail),
			wantUp: true, wantVersion: "Cyrus IMAP v3.4.3",
		},
		{
			name: "STARTTLS required and advertised", proto: "imap",
			script: script(g, capaTLS, upgrade, tail),
			target: withTLS(TLSStartTLS, false), wantUp: true, wantCert: true,
		},
		{
			name: "STARTTLS required but not advertised", proto: "imap",
			script: script(g, capaPlain), target: withTLS(TLSStartTLS, false),
			wantErr: "STARTTLS required but not advertised",
		},
		{
			name: "opportunistic upgrade", proto: "imap",
			script: script(g, capaTLS, upgrade, tail),
			target: withTLS(TLSNone, true), wantUp: true, wantCert: true,
		},
		{
			name: "STARTTLS refused", proto: "imap",
			script: script(g, capaTLS, []step{expect("a2 STARTTLS"), send("a2 NO TLS unavailable")}),
			target: withTLS(TLSStartTLS, false), wantErr: "STARTTLS: server refused",
		},
		{
			name: "imaps implicit TLS", proto: "imaps", serverTLS: true,
			script: script(g, capaPlain, tail), wantUp: true, wantCert: true,
		},
		{name: "greeting BYE", proto: "imap", script: []step{send("* BYE Too many connections")}, wantErr: "greeting: server refused"},
		{name: "greeting tagged", proto: "imap", script: []step{send("a1 OK hello")}, wantErr: "not an untagged response"},
		{
			name: "CAPABILITY answered BAD", proto: "imap",
			script:  script(g, []step{expect("a1 CAPABILITY"), send("a1 BAD command unknown")}),
			wantErr: "CAPABILITY: server refused",
		},
		{
			name: "BYE during CAPABILITY", proto: "imap",
			script:  script(g, []step{expect("a1 CAPABILITY"), send("* BYE shutting down")}),
			wantErr: "server closing",
		},
		{name: "accepts and never speaks", proto: "imap", script: []step{hang()}, timeout: 300 * time.Millisecond, wantErr: "greeting"},
		{
			name: "closes mid-dialogue", proto: "imap",
			script:  script(g, []step{expect("a1 CAPABILITY"), send("* CAPABILITY IMAP4rev1"), hangup()}),
			wantErr: "CAPABILITY",
		},
		{
			name: "endless untagged responses", proto: "imap",
			script:  script(g, []step{expect("a1 CAPABILITY"), flood([]byte("* OK still here\r\n"))}),
			wantErr: "longer than 128 lines",
		},
		{name: "garbage bytes", proto: "imap", script: []step{sendRaw([]byte("\x1b[31m\x07\r\n"))}, wantErr: "malformed response"},
		{name: "very long line", proto: "imap", script: []step{flood(hugeLine)}, wantErr: "line longer than 4096 bytes"},
	})
}
