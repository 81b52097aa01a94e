// Package testmail provides the loopback servers that tests point the
// probes at: a listener bound to a test's lifetime (Listen) and tiny fake
// SMTP, POP3 and IMAP servers that speak just enough of the dialogue for a
// probe to succeed without STARTTLS, plus a port that accepts and closes
// (TCP), one that accepts and never answers (BlackHole) and a TLS port
// presenting its own self-signed certificate (TLSBox).
//
// It is only for tests; nothing outside _test.go files imports it.
package testmail

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialogueTimeout bounds one fake session, so a stuck client cannot hold a
// test's cleanup.
const dialogueTimeout = 10 * time.Second

// Listen serves addr (e.g. "127.0.0.21:12525"; the whole of 127/8 is local
// on Linux) with handle, one goroutine per connection, until the test ends.
// On cleanup it closes the listener and every accepted connection and waits
// for all its goroutines, so leak checks (goleak) stay quiet. It returns
// the address bound, for an addr with port 0.
func Listen(t testing.TB, addr string, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v (is something else using it?)", addr, err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dialogue returns a handler that sends greeting, then answers each line
// the client sends (CR LF removed) with reply until reply says the session
// is over, the client goes away or dialogueTimeout passes.
func dialogue(greeting string, reply func(line string) (answer string, done bool)) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(dialogueTimeout))
		r := bufio.NewReader(c)
		c.Write([]byte(greeting))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			answer, done := reply(strings.TrimRight(line, "\r\n"))
			c.Write([]byte(answer))
			if done {
				return
			}
		}
	}
}

// SMTP returns a fake SMTP server named host: "220 host ESMTP ready",
// EHLO/HELO (no STARTTLS offered), QUIT; anything else is 502.
func SMTP(host string) func(net.Conn) {
	return dialogue("220 "+host+" ESMTP ready\r\n", func(line string) (string, bool) {
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			return "250-" + host + "\r\n250-PIPELINING\r\n250 8BITMIME\r\n", false
		case cmd == "QUIT":
			return "221 bye\r\n", true
		}
		return "502 not implemented\r\n", false
	})
}

// POP3 is a fake POP3 server: "+OK" greeting, CAPA (no STLS), QUIT;
// anything else is -ERR.
var POP3 = dialogue("+OK POP3 server ready\r\n", func(line string) (string, bool) {
	switch strings.ToUpper(strings.TrimSpace(line)) {
	case "CAPA":
		return "+OK capability list follows\r\nUSER\r\nUIDL\r\n.\r\n", false
	case "QUIT":
		return "+OK bye\r\n", true
	}
	return "-ERR not implemented\r\n", false
})

// IMAP is a fake IMAP server: "* OK" greeting, tagged CAPABILITY (no
// STARTTLS), LOGOUT; anything else is BAD.
var IMAP = dialogue("* OK IMAP4rev1 server ready\r\n", func(line string) (string, bool) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return "* BAD missing command\r\n", false
	}
	switch tag := f[0]; strings.ToUpper(f[1]) {
	case "CAPABILITY":
		return "* CAPABILITY IMAP4rev1\r\n" + tag + " OK CAPABILITY completed\r\n", false
	case "LOGOUT":
		return "* BYE logging out\r\n" + tag + " OK LOGOUT completed\r\n", true
	default:
		return tag + " BAD not implemented\r\n", false
	}
})

// TCP accepts and closes at once: a liveness port (SSH, admin UI) or a
// replication port, where connecting is the whole check.
func TCP(c net.Conn) { c.Close() }

// BlackHole accepts and never says a word, holding the connection until
// the client or Listen's cleanup closes it: a hung server, for deadline
// tests.
func BlackHole(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// ClosedAddr is a 127.0.0.1 TCP address nobody listens on (a port the
// kernel just handed out and that was closed again): a refused connection.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
