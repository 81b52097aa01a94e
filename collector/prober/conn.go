package prober

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds that keep a garbage or hostile server from exhausting memory or
// time: a line longer than maxLineBytes fails the probe, as does a
// multi-line reply longer than maxReplyLines lines.
const (
	maxLineBytes  = 4096
	maxReplyLines = 128
)

var (
	errLineTooLong  = fmt.Errorf("line longer than %d bytes", maxLineBytes)
	errTooManyLines = fmt.Errorf("reply longer than %d lines", maxReplyLines)
)

// guardedConn is a connection whose deadline follows the probe's context: the
// deadline is armed at dial time and a cancellation of the context (not
// only its expiry) interrupts blocked reads and writes at once.
type guardedConn struct {
	net.Conn
	stop func() bool
}

func (c *guardedConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// probeDialer dials without TCP keep-alive: a probe's connection lives no
// longer than its timeout, far less than any keep-alive interval, and the
// four socket options per connection would be spent for nothing.
var probeDialer = net.Dialer{KeepAlive: -1}

// dial connects to address under ctx with probeDialer and arms the
// connection deadline from ctx's deadline.
func dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := probeDialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, fail(dialReason(err), fmt.Errorf("dial: %w", err))
	}
	if strings.HasPrefix(network, "tcp") {
		markAnswered(ctx) // the server accepted the connection
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			c.Close()
			return nil, fmt.Errorf("set deadline: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		// An instant in the past makes every pending and future I/O fail.
		_ = c.SetDeadline(time.Unix(1, 0))
	})
	return &guardedConn{Conn: c, stop: stop}, nil
}

// answeredKey carries, in a probe's context, the flag that the shared
// connection code sets once the server has answered (see Result.Answered).
type answeredKey struct{}

// markAnswered records in ctx's probe that the server answered.
func markAnswered(ctx context.Context) {
	if a, ok := ctx.Value(answeredKey{}).(*atomic.Bool); ok {
		a.Store(true)
	}
}

// tlsMode normalises and checks t.TLS.
func tlsMode(t Target) (TLSMode, error) {
	switch t.TLS {
	case "", TLSNone:
		return TLSNone, nil
	case TLSStartTLS, TLSImplicit:
		return t.TLS, nil
	}
	return "", fmt.Errorf("unknown TLS mode %q", t.TLS)
}

// lineReader reads CRLF (or bare LF) terminated lines of at most
// maxLineBytes; it never buffers more than that.
type lineReader struct {
	br *bufio.Reader
}

// readers recycles the line buffers: thousands of probes per scrape
// would otherwise each allocate one.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxLineBytes) }}

func newLineReader(r io.Reader) *lineReader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return &lineReader{br: br}
}

// release returns the buffer; the reader must not be used afterwards.
func (l *lineReader) release() {
	if l != nil && l.br != nil {
		l.br.Reset(nil)
		readers.Put(l.br)
		l.br = nil
	}
}

// readLine returns the next line without its terminator.
func (l *lineReader) readLine() (string, error) {
	b, err := l.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errLineTooLong
	case errors.Is(err, io.EOF):
		if len(b) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("connection closed: %w", err)
	case err != nil:
		return "", err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return string(b), nil
}

// textConn is a line-oriented client session (SMTP, POP3, IMAP) that can be
// upgraded to TLS in place.
type textConn struct {
	raw  net.Conn // the TCP connection
	conn net.Conn // raw, or the TLS connection over it
	lr   *lineReader
	tls  bool
}

// openText dials t.Address and, for implicit TLS, completes the handshake.
func openText(ctx context.Context, t Target, r *Result) (*textConn, error) {
	mode, err := tlsMode(t)
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, "tcp", t.Address)
	if err != nil {
		return nil, err
	}
	s := &textConn{raw: c, conn: c}
	if mode == TLSImplicit {
		tc, err := newTLSClient(t, "").handshake(ctx, c, r)
		if err != nil {
			c.Close()
			return nil, err
		}
		s.conn, s.tls = tc, true
	}
	s.lr = newLineReader(s.conn)
	return s, nil
}

// close closes the connection (the TLS layer, if any, is not shut down
// politely: the server gets a TCP FIN, which every server handles).
func (s *textConn) close() {
	s.raw.Close()
	s.lr.release()
}

// readLine reads one bounded line.
func (s *textConn) readLine() (string, error) { return s.lr.readLine() }

// send writes one command line terminated by CRLF.
func (s *textConn) send(line string) error {
	_, err := io.WriteString(s.conn, line+"\r\n")
	return err
}

// wantUpgrade says whether to run STARTTLS now, given the TLS mode and
// whether the server advertised it. Required but not advertised is an error.
func (s *textConn) wantUpgrade(t Target, advertised bool) (bool, error) {
	if s.tls {
		return false, nil
	}
	mode, err := tlsMode(t)
	if err != nil {
		return false, err
	}
	switch {
	case mode == TLSStartTLS && !advertised:
		return false, fail(ReasonStartTLSUnavailable, errors.New("STARTTLS required but not advertised"))
	case mode == TLSStartTLS:
		return true, nil
	}
	return t.Opportunistic && advertised, nil
}

// upgrade is the STARTTLS step the SMTP, POP3 and IMAP dialogues share:
// when wantUpgrade says so, goAhead asks the server for it (verb: STARTTLS
// or STLS) and must see it accepted, the handshake runs, and recheck asks
// for the capabilities again over TLS (what the server announced in
// plaintext is not to be trusted).
func (s *textConn) upgrade(ctx context.Context, t Target, r *Result, advertised bool, verb string, goAhead, recheck func() error) error {
	up, err := s.wantUpgrade(t, advertised)
	if err != nil || !up {
		return err
	}
	if err := goAhead(); err != nil {
		// A refusal of the go-ahead means no TLS on offer; a broken
		// connection stays what it is.
		var f *Failure
		if errors.As(err, &f) && f.Reason == ReasonRejected {
			f.Reason = ReasonStartTLSUnavailable
		}
		return err
	}
	if err := s.startTLS(ctx, t, r); err != nil {
		return err
	}
	if err := recheck(); err != nil {
		return fmt.Errorf("after %s: %w", verb, err)
	}
	return nil
}

// startTLS upgrades the session after the server accepted STARTTLS/STLS.
// Any plaintext the server sent after its go-ahead is refused: it would be
// read as if it had come over TLS (the STARTTLS injection problem).
func (s *textConn) startTLS(ctx context.Context, t Target, r *Result) error {
	if s.lr.br.Buffered() > 0 {
		return fail(ReasonProtocolError, errors.New("STARTTLS: server sent data before the TLS handshake"))
	}
	tc, err := newTLSClient(t, "").handshake(ctx, s.raw, r)
	if err != nil {
		return err
	}
	s.conn, s.tls = tc, true
	s.lr.release() // empty: the server waits for the handshake
	s.lr = newLineReader(tc)
	return nil
}

// quit ends the session politely: it sends the closing command (QUIT,
// LOGOUT) and returns without waiting for the reply, which could not
// change the outcome (the dialogue has succeeded by now); the caller then
// closes the connection. A write error is ignored for the same reason.
func (s *textConn) quit(ctx context.Context, cmd string) {
	if ctx.Err() != nil {
		return
	}
	_ = s.send(cmd)
}

// quote shortens server text for error messages.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// extractVersion returns "Product Version" when text states a software
// version, else "". The rule is deliberately simple so that it never invents
// a version:
//
//   - a "Product/Version" token (the form of HTTP Server headers), or
//   - a word pair "Product Version" where Product starts with an upper-case
//     letter and has only letters, digits, '-' and '_'; a protocol word
//     (ESMTP, IMAP, POP3...) is not a product on its own but is kept after
//     one ("Cyrus IMAP v3.4.3"),
//
// where Version is an optional 'v' followed by a digit, and contains a dot;
// it ends before the first character other than a letter, digit, '.', '-',
// '_' or '+', and all-numeric dotted quads (IPv4 addresses) are not versions.
// So "ESMTP Sendmail 8.15.2/8.15.2;" gives "Sendmail 8.15.2", "Exim 4.96"
// gives "Exim 4.96", "Apache/2.4.57 (Debian)" gives "Apache 2.4.57", and
// "ESMTP Postfix (Debian/GNU)" or "Dovecot (Debian) ready." give "".
// Callers strip protocol framing (reply codes, IMAP response codes) first.
func extractVersion(text string) string {
	const maxLen = 64
	fields := strings.Fields(text)
	for i, f := range fields {
		// Product/Version.
		if p, v, ok := strings.Cut(f, "/"); ok && isProduct(p, false) && !protocolWords[strings.ToUpper(p)] {
			if v = versionPrefix(v); v != "" {
				return capLen(p+" "+v, maxLen)
			}
		}
		// Product Version, or Product PROTOCOL Version.
		if i+1 < len(fields) && isProduct(f, true) {
			if v := versionPrefix(fields[i+1]); v != "" {
				if !protocolWords[strings.ToUpper(f)] {
					return capLen(f+" "+v, maxLen)
				}
				if i > 0 && isProduct(fields[i-1], true) && !protocolWords[strings.ToUpper(fields[i-1])] {
					return capLen(fields[i-1]+" "+f+" "+v, maxLen)
				}
			}
		}
	}
	return ""
}

// protocolWords name protocols, not products.
var protocolWords = map[string]bool{
	"SMTP": true, "ESMTP": true, "LMTP": true, "POP": true, "POP3": true,
	"IMAP": true, "IMAP4": true, "IMAP4REV1": true, "IMAP4REV2": true,
	"LDAP": true, "HTTP": true,
}

func capLen(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// isProduct reports whether s looks like a product name.
func isProduct(s string, upper bool) bool {
	if len(s) < 2 || !isLetter(s[0]) || upper && !(s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// versionPrefix returns the version at the start of s, or "".
func versionPrefix(s string) string {
	start := 0
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		start = 1
	}
	if start >= len(s) || !isDigit(s[start]) {
		return ""
	}
	end := start
	for end < len(s) {
		c := s[end]
		if !isLetter(c) && !isDigit(c) && c != '.' && c != '-' && c != '_' && c != '+' {
			break
		}
		end++
	}
	v := strings.TrimRight(s[:end], ".-_+")
	if !strings.Contains(v, ".") || isDottedQuad(v) {
		return ""
	}
	return v
}

func isDottedQuad(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			if !isDigit(p[i]) {
				return false
			}
		}
	}
	return true
}
