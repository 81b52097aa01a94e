// Command fakemail is the mail server of the scale benchmark (make
// bench-scale): one process answering SMTP, submission, IMAP, POP3, two HTTP ports
// and a TCP liveness port on every 127.0.0.0/8 address of a private
// network namespace, as fast as it can, so that what the benchmark
// measures is the exporter.
//
// Addresses ending in .2 play standby nodes: their mail and web ports
// close the connection at once (services stopped on a standby), their
// liveness port accepts. Every other address serves.
//
// It is a benchmark tool: run it only inside a network namespace the
// benchmark created (bench/scale.sh does).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// session bounds one connection, so a stuck client cannot pile up goroutines.
const session = 10 * time.Second

type handler func(c net.Conn, r *bufio.Reader)

func main() {
	bind := flag.String("bind", "0.0.0.0", "address to listen on (all of 127/8 in the namespace)")
	base := flag.Int("port-base", 0, "added to every port (0: the well-known ports)")
	flag.Parse()
	services := []struct {
		port     int
		h        handler
		liveness bool
	}{
		{25, smtp, false}, {587, smtp, false}, {143, imap, false}, {110, pop3, false},
		{80, httpOK, false}, {8080, httpOK, false}, {22, closeAtOnce, true},
	}
	for _, s := range services {
		addr := net.JoinHostPort(*bind, fmt.Sprint(*base+s.port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatalf("fakemail: listen %s: %v", addr, err)
		}
		go serve(ln, s.h, s.liveness)
	}
	fmt.Println("fakemail: ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}

func serve(ln net.Listener, h handler, liveness bool) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Printf("fakemail: accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			if !liveness && standby(c.LocalAddr()) {
				return
			}
			_ = c.SetDeadline(time.Now().Add(session))
			h(c, bufio.NewReaderSize(c, 512))
		}()
	}
}

func standby(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip := ta.IP.To4()
	return ip != nil && ip[3] == 2
}

func closeAtOnce(net.Conn, *bufio.Reader) {}

// lines answers each line the client sends with reply until reply says
// the session is over.
func lines(c net.Conn, r *bufio.Reader, greeting []byte, reply func(line []byte) ([]byte, bool)) {
	if _, err := c.Write(greeting); err != nil {
		return
	}
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		answer, done := reply(bytes.TrimRight(line, "\r\n"))
		if _, err := c.Write(answer); err != nil || done {
			return
		}
	}
}

var (
	smtpGreeting = []byte("220 fake.invalid ESMTP Postfix (Debian/GNU)\r\n")
	smtpEHLO     = []byte("250-fake.invalid\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
	smtpQuit     = []byte("221 2.0.0 Bye\r\n")
	smtpErr      = []byte("502 5.5.2 Error: command not recognized\r\n")
)

func smtp(c net.Conn, r *bufio.Reader) {
	lines(c, r, smtpGreeting, func(l []byte) ([]byte, bool) {
		switch {
		case hasPrefixFold(l, "EHLO"), hasPrefixFold(l, "HELO"):
			return smtpEHLO, false
		case hasPrefixFold(l, "QUIT"):
			return smtpQuit, true
		}
		return smtpErr, false
	})
}

var (
	popGreeting = []byte("+OK Dovecot (Debian) ready.\r\n")
	popCapa     = []byte("+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nUSER\r\nSASL PLAIN\r\n.\r\n")
	popQuit     = []byte("+OK Logging out\r\n")
	popErr      = []byte("-ERR Unknown command.\r\n")
)

func pop3(c net.Conn, r *bufio.Reader) {
	lines(c, r, popGreeting, func(l []byte) ([]byte, bool) {
		switch {
		case hasPrefixFold(l, "CAPA"):
			return popCapa, false
		case hasPrefixFold(l, "QUIT"):
			return popQuit, true
		}
		return popErr, false
	})
}

var imapGreeting = []byte("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready.\r\n")

func imap(c net.Conn, r *bufio.Reader) {
	lines(c, r, imapGreeting, func(l []byte) ([]byte, bool) {
		tag, rest, _ := bytes.Cut(l, []byte(" "))
		switch {
		case hasPrefixFold(rest, "CAPABILITY"):
			return append([]byte("* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN\r\n"),
				append(tag, " OK Pre-login capabilities listed, post-login capabilities have more.\r\n"...)...), false
		case hasPrefixFold(rest, "LOGOUT"):
			return append([]byte("* BYE Logging out\r\n"), append(tag, " OK Logout completed.\r\n"...)...), true
		}
		return append(tag, " BAD Error in IMAP command received by server.\r\n"...), false
	})
}

var httpResponse = []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")

// httpOK reads one request head and answers 200.
func httpOK(c net.Conn, r *bufio.Reader) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	_, _ = c.Write(httpResponse)
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && bytes.EqualFold(b[:len(p)], []byte(p))
}
