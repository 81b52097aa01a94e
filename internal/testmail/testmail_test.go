package testmail

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// talk connects to addr, sends each command and returns everything the
// server wrote until it closed the connection.
func talk(t *testing.T, addr string, cmds ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, cmd := range cmds {
		if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFakes(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, c := range []struct {
		name   string
		handle func(net.Conn)
		cmds   []string
		want   string
	}{
		{"smtp", SMTP("x.invalid"), []string{"EHLO me", "NOOP", "QUIT"},
			"220 x.invalid ESMTP ready\r\n250-x.invalid\r\n250-PIPELINING\r\n250 8BITMIME\r\n502 not implemented\r\n221 bye\r\n"},
		{"pop3", POP3, []string{"CAPA", "STLS", "QUIT"},
			"+OK POP3 server ready\r\n+OK capability list follows\r\nUSER\r\nUIDL\r\n.\r\n-ERR not implemented\r\n+OK bye\r\n"},
		{"imap", IMAP, []string{"a1 CAPABILITY", "x", "a2 STARTTLS", "a3 LOGOUT"},
			"* OK IMAP4rev1 server ready\r\n* CAPABILITY IMAP4rev1\r\na1 OK CAPABILITY completed\r\n* BAD missing command\r\na2 BAD not implemented\r\n* BYE logging out\r\na3 OK LOGOUT completed\r\n"},
		{"tcp", TCP, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := Listen(t, "127.0.0.1:0", c.handle)
			if got := talk(t, addr, c.cmds...); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// A black hole holds the connection silently; Listen's cleanup closes it
// and leaves no goroutine behind.
func TestBlackHoleCleanup(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Run("hold", func(t *testing.T) {
		addr := Listen(t, "127.0.0.1:0", BlackHole)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := bufio.NewReader(c).Read(make([]byte, 1)); n != 0 || err == nil || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("black hole said something: %d bytes, %v", n, err)
		}
	})
}

// A TLS box presents its own certificate, and two boxes differ.
func TestTLSBox(t *testing.T) {
	leaf := func(addr string) *x509.Certificate {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	a := leaf(Listen(t, "127.0.0.1:0", TLSBox(t, "a.invalid")))
	b := leaf(Listen(t, "127.0.0.1:0", TLSBox(t, "b.invalid")))
	if a.Subject.CommonName != "a.invalid" || b.Subject.CommonName != "b.invalid" {
		t.Errorf("common names %q, %q; want a.invalid, b.invalid", a.Subject.CommonName, b.Subject.CommonName)
	}
	if bytes.Equal(a.Raw, b.Raw) {
		t.Error("two boxes present the same certificate")
	}
}
