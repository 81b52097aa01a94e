package prober

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

const postfixGreeting = "220 mx.example.com ESMTP Postfix (Debian/GNU)"

// smtpTail is the end of a good session: QUIT and its reply.
var smtpTail = []step{expect("QUIT\r\n"), goodbye("221 2.0.0 Bye")}

func smtpScript(head ...step) []step { return append(head, smtpTail...) }

func withTLS(mode TLSMode, opportunistic bool) func(*Target) {
	return func(t *Target) { t.TLS, t.Opportunistic = mode, opportunistic }
}

func TestSMTPProbe(t *testing.T) {
	ehloPlain := send("250-mx.example.com", "250-PIPELINING", "250-SIZE 10240000", "250 8BITMIME")
	ehloTLS := send("250-mx.example.com", "250-SIZE 10240000", "250-STARTTLS", "250 8BITMIME")
	upgrade := []step{expect("STARTTLS\r\n"), send("220 2.0.0 Ready to start TLS"), startTLS(),
		expect("EHLO mailcluster-exporter.invalid\r\n"), send("250-mx.example.com", "250 AUTH PLAIN")}

	runProbeCases(t, []probeCase{
		{
			name:   "plain",
			proto:  "smtp",
			script: smtpScript(send(postfixGreeting), expect("EHLO mailcluster-exporter.invalid\r\n"), ehloPlain),
			wantUp: true,
		},
		{
			name:  "multi-line greeting and custom HELO name",
			proto: "smtp",
			script: smtpScript(send("220-mx.example.com ESMTP Sendmail 8.15.2/8.15.2; Mon, 1 Jan 2024 10:00:00 GMT",
				"220-No UCE", "220 ready"), expect("EHLO probe.example.net\r\n"), ehloPlain),
			target:      func(t *Target) { t.HeloName = "probe.example.net" },
			wantUp:      true,
			wantVersion: "Sendmail 8.15.2",
		},
		{
			name:   "starttls required and advertised",
			proto:  "smtp",
			script: smtpScript(append([]step{send(postfixGreeting), expect("EHLO "), ehloTLS}, upgrade...)...),
			target: withTLS(TLSStartTLS, false), wantUp: true, wantCert: true,
		},
		{
			name:    "starttls required but not advertised",
			proto:   "smtp",
			script:  []step{send(postfixGreeting), expect("EHLO "), ehloPlain},
			target:  withTLS(TLSStartTLS, false),
			wantErr: "STARTTLS required but not advertised",
		},
		{
			name:   "opportunistic upgrade when advertised",
			proto:  "smtp",
			script: smtpScript(append([]step{send(postfixGreeting), expect("EHLO "), ehloTLS}, upgrade...)...),
			target: withTLS(TLSNone, true), wantUp: true, wantCert: true,
		},
		{
			name:   "opportunistic without STARTTLS stays plain",
			proto:  "smtp",
			script: smtpScript(send(postfixGreeting), expect("EHLO "), ehloPlain),
			target: withTLS(TLSNone, true), wantUp: true,
		},
		{
			name:   "no upgrade unless asked",
			proto:  "smtp",
			script: smtpScript(send(postfixGreeting), expect("EHLO "), ehloTLS),
			wantUp: true,
		},
		{
			name:      "smtps implicit TLS",
			proto:     "smtps",
			serverTLS: true,
			script:    smtpScript(send("220 mx.example.com ESMTP Exim 4.96 Mon, 01 Jan 2024 10:00:00 +0000"), expect("EHLO "), ehloPlain),
			wantUp:    true, wantCert: true, wantVersion: "Exim 4.96",
		},
		{
			name:      "smtp with tls implicit",
			proto:     "smtp",
			serverTLS: true,
			script:    smtpScript(send(postfixGreeting), expect("EHLO "), ehloPlain),
			target:    withTLS(TLSImplicit, false), wantUp: true, wantCert: true,
		},
		{
			name:   "untrusted certificate is up, its expiry seen",
			proto:  "smtp",
			script: smtpScript(append([]step{send(postfixGreeting), expect("EHLO "), ehloTLS}, upgrade...)...),
			target: func(t *Target) { t.TLS, t.TLSConfig = TLSStartTLS, nil },
			wantUp: true, wantCert: true,
		},
		{
			name:    "greeting 554",
			proto:   "smtp",
			script:  []step{send("554 5.3.2 mx.example.com no service here")},
			wantErr: "greeting: unexpected reply 554",
		},
		{
			name:    "EHLO refused",
			proto:   "smtp",
			script:  []step{send(postfixGreeting), expect("EHLO "), send("502 5.5.2 Error: command not recognized")},
			wantErr: "EHLO: unexpected reply 502",
		},
		{
			name:    "STARTTLS refused",
			proto:   "smtp",
			script:  []step{send(postfixGreeting), expect("EHLO "), ehloTLS, expect("STARTTLS"), send("454 4.7.0 TLS not available")},
			target:  withTLS(TLSStartTLS, false),
			wantErr: "STARTTLS: unexpected reply 454",
		},
		{
			name:  "plaintext injected after STARTTLS go-ahead",
			proto: "smtp",
			script: []step{send(postfixGreeting), expect("EHLO "), ehloTLS, expect("STARTTLS"),
				sendRaw([]byte("220 go ahead\r\n250 injected\r\n")), hang()},
			target:  withTLS(TLSStartTLS, false),
			wantErr: "before the TLS handshake",
		},
		{
			name:    "accepts and never speaks",
			proto:   "smtp",
			script:  []step{hang()},
			timeout: 300 * time.Millisecond,
			wantErr: "greeting",
		},
		{
			name:    "silent after EHLO",
			proto:   "smtp",
			script:  []step{send(postfixGreeting), expect("EHLO "), hang()},
			timeout: 300 * time.Millisecond,
			wantErr: "EHLO",
		},
		{
			name:    "closes mid-dialogue",
			proto:   "smtp",
			script:  []step{send(postfixGreeting), expect("EHLO "), send("250-mx.example.com"), hangup()},
			wantErr: "EHLO",
		},
		{
			name:    "closes without a word",
			proto:   "smtp",
			script:  []step{hangup()},
			wantErr: "greeting: connection closed",
		},
		{
			name:    "garbage bytes",
			proto:   "smtp",
			script:  []step{sendRaw([]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n")), hang()},
			wantErr: "malformed reply line",
		},
		{
			name:    "mixed reply codes",
			proto:   "smtp",
			script:  []step{send("220-mx.example.com", "250 what")},
			wantErr: "different codes",
		},
		{
			name:    "endless multi-line reply",
			proto:   "smtp",
			script:  []step{flood([]byte("220-more\r\n"))},
			wantErr: "longer than 128 lines",
		},
		{
			name:    "very long line",
			proto:   "smtp",
			script:  []step{flood(hugeLine)},
			wantErr: "line longer than 4096 bytes",
		},
		{
			name:    "invalid HELO name",
			proto:   "smtp",
			script:  []step{hang()},
			target:  func(t *Target) { t.HeloName = "x\r\nRCPT TO:<a@b>" },
			wantErr: "invalid HELO name",
		},
		{
			name:    "unknown TLS mode",
			proto:   "smtp",
			script:  []step{hang()},
			target:  func(t *Target) { t.TLS = "sometimes" },
			wantErr: "unknown TLS mode",
		},
	})
}

// TestSMTPLongLineBoundedMemory: a server streaming megabytes without a
// newline costs the probe one line buffer, not the stream.
func TestSMTPLongLineBoundedMemory(t *testing.T) {
	srv := startFake(t, false, flood(hugeLine))
	probe, _ := Lookup("smtp")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := probe(ctx, Target{Address: srv.addr})
	runtime.ReadMemStats(&after)

	if res.Up || res.Err == nil || !strings.Contains(res.Err.Error(), "line longer than") {
		t.Fatalf("want a line-length failure, got Up=%v Err=%v", res.Up, res.Err)
	}
	// An unbounded reader would buffer everything the server can push
	// before the deadline (hundreds of MB on loopback).
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("probe allocated %d bytes against an endless line", alloc)
	}
}

func TestSMTPProbeHonoursCancellation(t *testing.T) {
	srv := startFake(t, false, hang())
	probe, _ := Lookup("smtp")
	ctx, cancel := context.WithCancel(context.Background()) // no deadline: DefaultTimeout applies
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res := probe(ctx, Target{Address: srv.addr})
	if res.Up {
		t.Fatal("up against a silent server")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancellation took %v to stop the probe", d)
	}
}

func BenchmarkSMTPProbeSTARTTLS(b *testing.B) {
	srv := startFake(b, false, smtpScript(
		send(postfixGreeting), expect("EHLO "),
		send("250-mx.example.com", "250-STARTTLS", "250 8BITMIME"),
		expect("STARTTLS"), send("220 2.0.0 Ready to start TLS"), startTLS(),
		expect("EHLO "), send("250-mx.example.com", "250 AUTH PLAIN"))...)
	probe, _ := Lookup("smtp")
	target := Target{Address: srv.addr, TLS: TLSStartTLS, TLSConfig: trustingTLS()}
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res := probe(ctx, target)
		cancel()
		if !res.Up {
			b.Fatal(res.Err)
		}
	}
}
