package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secretFiles writes a user and a password file and returns their paths.
func secretFiles(t *testing.T) (user, pass string) {
	t.Helper()
	dir := t.TempDir()
	user, pass = filepath.Join(dir, "user"), filepath.Join(dir, "pass")
	if err := os.WriteFile(user, []byte("probe@example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte("pa55-word-never-shown\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return user, pass
}

func TestRoundTripDefaults(t *testing.T) {
	user, pass := secretFiles(t)
	cfg := load(t, `
    services: [submission, imaps]
    roundtrip:
      to: probe@example.org
      submission:
        service: submission
        auth: {username_file: `+user+`, password_file: `+pass+`}
      imap:
        service: imaps
        port: 10993
        auth: {username_file: `+user+`, password_file: `+pass+`}
`)
	rt := cfg.Clusters[0].RoundTrip
	if time.Duration(rt.Interval) != DefaultRoundTripInterval || time.Duration(rt.Timeout) != DefaultRoundTripTimeout ||
		time.Duration(rt.SlowThreshold) != DefaultRoundTripSlowThreshold || time.Duration(rt.CleanupAfter) != DefaultRoundTripCleanupAfter {
		t.Errorf("defaults: %+v", rt)
	}
	if rt.From != "probe@example.org" || strings.Join(rt.Nodes, ",") != "a,b" || rt.IMAP.Mailbox != "INBOX" {
		t.Errorf("from %q, nodes %v, mailbox %q", rt.From, rt.Nodes, rt.IMAP.Mailbox)
	}
	if rt.Submission.EffectivePort() != 587 || rt.Submission.EffectiveTLS() != "starttls" || rt.Submission.Auth.Mechanism != "plain" {
		t.Errorf("submission: port %d tls %s mechanism %s", rt.Submission.EffectivePort(), rt.Submission.EffectiveTLS(), rt.Submission.Auth.Mechanism)
	}
	if rt.IMAP.EffectivePort() != 10993 || rt.IMAP.EffectiveTLS() != "implicit" || rt.IMAP.Auth.Mechanism != "login" {
		t.Errorf("imap: port %d tls %s mechanism %s", rt.IMAP.EffectivePort(), rt.IMAP.EffectiveTLS(), rt.IMAP.Auth.Mechanism)
	}
	u, p, err := rt.IMAP.Auth.Credentials()
	if err != nil || u != "probe@example.org" || p != "pa55-word-never-shown" {
		t.Errorf("Credentials() = %q, %q, %v; want the first lines without line endings", u, p, err)
	}
}

func TestAuthAndRoundTripInvalid(t *testing.T) {
	user, pass := secretFiles(t)
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct{ name, tail, want string }{
		{"auth without files", `
    services:
      - name: imap
        auth: {mechanism: login}
`, "test.yml:15: clusters[0].services[0].auth.username_file: required"},
		{"unreadable password file", `
    services:
      - name: pop3
        auth: {username_file: ` + user + `, password_file: ` + missing + `}
`, "clusters[0].services[0].auth.password_file: open " + missing},
		{"mechanism not for the protocol", `
    services:
      - name: smtp
        auth: {username_file: ` + user + `, password_file: ` + pass + `, mechanism: cram-md5}
`, "auth.mechanism: must be one of plain, login for smtp"},
		{"auth on http", `
    services:
      - name: http
        auth: {username_file: ` + user + `, password_file: ` + pass + `}
`, "protocol http has no login check"},
		{"round trip without virtual address", `
    services: [smtp, imap]
    roundtrip:
      to: probe@example.org
      submission: {service: smtp}
      imap: {service: imap, auth: {username_file: ` + user + `, password_file: ` + pass + `}}
`, "roundtrip: the round trip submits through the virtual address"},
		{"round trip naming a missing service", `
    services: [smtp]
    roundtrip:
      to: probe@example.org
      submission: {service: smtp}
      imap: {service: imap, auth: {username_file: ` + user + `, password_file: ` + pass + `}}
`, `roundtrip.imap.service: names no service of this cluster: "imap"`},
		{"round trip imap without login", `
    services: [smtp, imap]
    roundtrip:
      to: probe@example.org
      submission: {service: smtp}
      imap: {service: imap}
`, "roundtrip.imap.auth: required"},
		{"round trip to an unknown node, bad address", `
    services: [smtp, imap]
    roundtrip:
      to: Probe <probe@example.org>
      nodes: [a, c]
      submission: {service: imap}
      imap: {service: imap, auth: {username_file: ` + user + `, password_file: ` + pass + `}}
`, `roundtrip.nodes[1]: names no node of this cluster: "c"`},
		{"slow threshold above the timeout", `
    services: [smtp, imap]
    roundtrip:
      to: probe@example.org
      timeout: 10s
      slow_threshold: 30s
      submission: {service: smtp}
      imap: {service: imap, auth: {username_file: ` + user + `, password_file: ` + pass + `}}
`, "roundtrip.slow_threshold: must be shorter than the timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := minimalCluster
			if strings.HasPrefix(tc.name, "round trip without") {
				base = strings.Replace(base, "    virtual_address: 192.0.2.10\n", "", 1)
			}
			_, err := Load(y(base+strings.TrimPrefix(tc.tail, "\n")), "test.yml")
			lines := errorLines(t, err)
			all := strings.Join(lines, "\n")
			if !strings.Contains(all, tc.want) {
				t.Errorf("errors:\n%s\nwant one containing %q", all, tc.want)
			}
			if strings.Contains(all, "pa55-word") {
				t.Errorf("a password appears in the errors:\n%s", all)
			}
		})
	}
}
