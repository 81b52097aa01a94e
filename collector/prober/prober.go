// Package prober holds one protocol check per file (SMTP, POP3, IMAP, LDAP,
// HTTP, DNS, TCP), all sharing one deadline-aware shape: a Prober takes a
// context whose deadline bounds the whole dialogue and a Target, and returns
// a Result. A probe is up only when the protocol dialogue succeeded, not
// merely when the TCP connection was accepted.
//
// The shared machinery (dialling under the context, connection deadlines,
// the bounded line reader, version extraction from greetings) lives in
// conn.go, TLS handshakes and certificate verification in tls.go, failure
// reasons in reason.go; every protocol file only writes its dialogue.
//
// TLS problems never make a probe down (DESIGN §2.12): the handshake accepts
// any certificate, and whether it chains to a trusted root and names
// Target.ServerName is reported in Result.TLS.
package prober

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"time"
)

// TLSMode says how TLS is used on a connection.
type TLSMode string

// TLS modes.
const (
	TLSNone     TLSMode = "none"     // plain text; STARTTLS is still used if the server advertises it and Opportunistic is set
	TLSStartTLS TLSMode = "starttls" // upgrade in-protocol (STARTTLS / STLS / LDAP StartTLS); failure to upgrade is a failed probe
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (SMTPS, POP3S, IMAPS, LDAPS, HTTPS)
)

// DefaultHeloName is the EHLO argument used when Target.HeloName is empty.
const DefaultHeloName = "mailcluster-exporter.invalid"

// DefaultTimeout bounds a probe whose context carries no deadline, so that a
// caller that forgot one still cannot hang forever.
const DefaultTimeout = 10 * time.Second

// Target is one check of one service on one address.
type Target struct {
	// Address is host:port (IPv6 hosts in brackets, as net.JoinHostPort
	// writes them).
	Address string
	// TLS selects plain, STARTTLS or implicit TLS; "" means TLSNone. The
	// protocols whose name implies TLS (smtps, pop3s, imaps, ldaps, https)
	// always use implicit TLS, whatever this says.
	TLS TLSMode
	// Opportunistic upgrades a TLSNone connection when the server
	// advertises STARTTLS (so the certificate is still seen). A failed
	// opportunistic handshake fails the probe: the server offered TLS and
	// could not deliver it. An unverifiable certificate does not.
	Opportunistic bool
	// TLSConfig is cloned for TLS handshakes: RootCAs (nil: the system
	// roots) are what certificates are verified against, client
	// certificates and versions are used as given. Its ServerName,
	// InsecureSkipVerify and VerifyConnection are replaced: verification is
	// done by the prober and reported, never enforced. nil means a default
	// config.
	TLSConfig *tls.Config
	// ServerName is the name clients use (tls_server_name): sent as SNI and
	// checked in the certificate. For HTTP the host of HTTPHost stands in
	// when it is empty. It is never derived from Address: without a name
	// the certificate is reported unverified.
	ServerName string
	// HeloName is the EHLO argument for SMTP (default DefaultHeloName).
	HeloName string

	// HTTP options.
	HTTPPath         string // request path (and query), default "/"
	HTTPExpectStatus []int  // accepted status codes; empty means 200-399
	HTTPHost         string // Host header override
	// DNS options.
	DNSQueryName string // name to resolve (required for dns)
	DNSQueryType string // A, AAAA, MX, ... default A
	DNSTransport string // udp (default) or tcp
	// LDAP options.
	LDAPBaseDN string // base object of the base-scope search; "" reads the root DSE
	// Login, when set, makes the check log in after its TLS step (auth.go).
	Login *Login
}

// Result is the outcome of one probe.
type Result struct {
	// Up is true only when the protocol dialogue succeeded.
	Up bool
	// Duration is the wall time of the probe from the dial to the last
	// reply it reads (the reply to QUIT or LOGOUT is not waited for).
	Duration time.Duration
	// TLS describes the certificate the server presented, nil when no
	// handshake got as far as a certificate. It is set whether or not
	// the probe is up.
	TLS *TLSState
	// Version is the software version stated by the server (greeting,
	// HTTP Server header, LDAP vendorVersion), "" if none is stated.
	Version string
	// Reason classifies Err ("" when Up).
	Reason Reason
	// Answered is true when the server answered at all: the TCP connection
	// was accepted (or, over UDP, a reply arrived), even if the dialogue
	// then failed. A failed probe that answered shows the host is alive.
	Answered bool
	// Err says why the probe failed (nil when Up).
	Err error
}

// Prober runs one protocol dialogue against t within ctx's deadline. It never
// returns later than shortly after that deadline (DefaultTimeout when ctx
// has none).
type Prober func(ctx context.Context, t Target) Result

// Protocol describes one protocol name as written in the config.
type Protocol struct {
	// Probe runs the check.
	Probe Prober
	// Port is the default port.
	Port int
	// ImplicitTLS is true when the protocol name implies TLS from the
	// first byte (Target.TLS is then ignored).
	ImplicitTLS bool
	// StartTLS is true when the protocol can upgrade in-protocol, i.e.
	// when TLSStartTLS and Opportunistic mean something for it.
	StartTLS bool
	// TLS is true when Target.TLS = TLSImplicit is supported.
	TLS bool
}

// Protocols maps a protocol name (as written in the config) to its prober.
// This is the one place where protocols are registered; it is read-only.
var Protocols = map[string]Protocol{
	"smtp":  {Probe: run("smtp", smtpDialogue), Port: 25, StartTLS: true, TLS: true},
	"smtps": {Probe: run("smtps", implicit(smtpDialogue)), Port: 465, ImplicitTLS: true, TLS: true},
	"pop3":  {Probe: run("pop3", pop3Dialogue), Port: 110, StartTLS: true, TLS: true},
	"pop3s": {Probe: run("pop3s", implicit(pop3Dialogue)), Port: 995, ImplicitTLS: true, TLS: true},
	"imap":  {Probe: run("imap", imapDialogue), Port: 143, StartTLS: true, TLS: true},
	"imaps": {Probe: run("imaps", implicit(imapDialogue)), Port: 993, ImplicitTLS: true, TLS: true},
	"ldap":  {Probe: run("ldap", ldapDialogue), Port: 389, StartTLS: true, TLS: true},
	"ldaps": {Probe: run("ldaps", implicit(ldapDialogue)), Port: 636, ImplicitTLS: true, TLS: true},
	"http":  {Probe: run("http", httpDialogue), Port: 80, TLS: true},
	"https": {Probe: run("https", implicit(httpDialogue)), Port: 443, ImplicitTLS: true, TLS: true},
	"dns":   {Probe: run("dns", dnsDialogue), Port: 53},
	"tcp":   {Probe: run("tcp", tcpDialogue), Port: 0, TLS: true},
}

// Lookup returns the prober for a protocol name.
func Lookup(protocol string) (Prober, bool) {
	p, ok := Protocols[protocol]
	return p.Probe, ok
}

// dialogue is what a protocol file implements: the conversation itself. It
// fills r.TLS and r.Version as it learns them and returns nil only
// when the dialogue succeeded. ctx always has a deadline.
type dialogue func(ctx context.Context, t Target, r *Result) error

// run turns a dialogue into a Prober: it supplies a deadline when ctx has
// none, times the probe and sets Up/Err consistently.
func run(name string, d dialogue) Prober {
	return func(ctx context.Context, t Target) Result {
		start := time.Now()
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
			defer cancel()
		}
		var answered atomic.Bool
		ctx = context.WithValue(ctx, answeredKey{}, &answered)
		var r Result
		err := d(ctx, t, &r)
		r.Duration = time.Since(start)
		r.Up = err == nil
		r.Answered = r.Up || answered.Load()
		if err != nil {
			r.Reason = ReasonOf(err)
			r.Err = fmt.Errorf("%s %s: %w", name, t.Address, err)
		}
		return r
	}
}

// implicit forces TLS from the first byte (smtps, pop3s, ...).
func implicit(d dialogue) dialogue {
	return func(ctx context.Context, t Target, r *Result) error {
		t.TLS = TLSImplicit
		return d(ctx, t, r)
	}
}
