package prober

import (
	"testing"
	"time"
)

func TestPOP3Probe(t *testing.T) {
	greeting := send("+OK Dovecot (Debian) ready.")
	capaPlain := []step{expect("CAPA\r\n"), send("+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "SASL PLAIN", ".")}
	capaSTLS := []step{expect("CAPA\r\n"), send("+OK Capability list follows", "TOP", "UIDL", "STLS", ".")}
	upgrade := []step{expect("STLS\r\n"), send("+OK Begin TLS negotiation now."), startTLS(),
		expect("CAPA\r\n"), send("+OK", "TOP", "USER", "SASL PLAIN", ".")}
	tail := []step{expect("QUIT\r\n"), goodbye("+OK Logging out.")}
	script := func(parts ...[]step) []step {
		var s []step
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	g := []step{greeting}

	runProbeCases(t, []probeCase{
		{name: "plain", proto: "pop3", script: script(g, capaPlain, tail), wantUp: true},
		{
			name: "version in greeting", proto: "pop3",
			script: script([]step{send("+OK Qpopper 4.1.0 at mail.example.com starting. <1896.697170952@mail.example.com>")}, capaPlain, tail),
			wantUp: true, wantVersion: "Qpopper 4.1.0",
		},
		{
			name: "CAPA not supported is fine in plain mode", proto: "pop3",
			script: script(g, []step{expect("CAPA"), send("-ERR unknown command")}, tail),
			wantUp: true,
		},
		{
			name: "CAPA not supported and STLS required", proto: "pop3",
			script: script(g, []step{expect("CAPA"), send("-ERR unknown command")}),
			target: withTLS(TLSStartTLS, false), wantErr: "STARTTLS required but not advertised",
		},
		{
			name: "STLS required and advertised", proto: "pop3",
			script: script(g, capaSTLS, upgrade, tail),
			target: withTLS(TLSStartTLS, false), wantUp: true, wantCert: true,
		},
		{
			name: "STLS required but not advertised", proto: "pop3",
			script: script(g, capaPlain), target: withTLS(TLSStartTLS, false),
			wantErr: "STARTTLS required but not advertised",
		},
		{
			name: "opportunistic upgrade", proto: "pop3",
			script: script(g, capaSTLS, upgrade, tail),
			target: withTLS(TLSNone, true), wantUp: true, wantCert: true,
		},
		{
			name: "STLS refused", proto: "pop3",
			script: script(g, capaSTLS, []step{expect("STLS"), send("-ERR TLS not available")}),
			target: withTLS(TLSStartTLS, false), wantErr: "STLS: server refused",
		},
		{
			name: "pop3s implicit TLS", proto: "pop3s", serverTLS: true,
			script: script(g, capaPlain, tail), wantUp: true, wantCert: true,
		},
		{name: "greeting -ERR", proto: "pop3", script: []step{send("-ERR [SYS/TEMP] too many connections")}, wantErr: "greeting: server refused"},
		{name: "greeting not a status", proto: "pop3", script: []step{send("+OKAY then")}, wantErr: "malformed status line"},
		{name: "accepts and never speaks", proto: "pop3", script: []step{hang()}, timeout: 300 * time.Millisecond, wantErr: "greeting"},
		{
			name: "endless CAPA", proto: "pop3",
			script:  script(g, []step{expect("CAPA"), send("+OK"), flood([]byte("X-CAP\r\n"))}),
			wantErr: "CAPA: reply longer than 128 lines",
		},
		{
			name: "closes mid-dialogue", proto: "pop3",
			script:  script(g, []step{expect("CAPA"), send("+OK", "TOP"), hangup()}),
			wantErr: "CAPA",
		},
		{name: "garbage bytes", proto: "pop3", script: []step{sendRaw([]byte("\x00\xff\xfe garbage\r\n"))}, wantErr: "malformed status line"},
		{name: "very long line", proto: "pop3", script: []step{flood(hugeLine)}, wantErr: "line longer than 4096 bytes"},
	})
}
