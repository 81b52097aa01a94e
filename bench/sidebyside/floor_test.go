package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// fakeServer answers one connection per greeting with the given lines:
// the greeting, then reply after the first line it reads; it returns what
// it read.
func fakeServer(t *testing.T, greeting, reply string) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var read []string
		c.Write([]byte(greeting))
		for i := 0; i < 2; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			read = append(read, strings.TrimSpace(line))
			if i == 0 {
				c.Write([]byte(reply))
			}
		}
		got <- strings.Join(read, "|")
	}()
	return ln.Addr().String(), got
}

func TestFloorDialogue(t *testing.T) {
	buf := make([]byte, 64)
	targets, err := floorTargets()
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 11 {
		t.Fatalf("%d targets in a round, want 11", len(targets))
	}
	steps := map[string][]step{}
	for _, tg := range targets[:3] {
		_, port, _ := net.SplitHostPort(tg.addr)
		steps[port] = tg.steps
	}
	for _, tc := range []struct {
		name, greeting, reply, want string
		steps                       []step
		ok                          bool
	}{
		{"smtp", "220 mx ESMTP\r\n", "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n", "EHLO mailcluster-exporter.invalid|QUIT", steps["25"], true},
		{"pop3 waits for the lone dot", "+OK ready\r\n", "+OK\r\nUSER\r\n.x\r\n.\r\n", "CAPA|QUIT", steps["110"], true},
		{"imap refused greeting", "* BYE busy\r\n", "", "", steps["143"], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, got := fakeServer(t, tc.greeting, tc.reply)
			err := floorDialogue(floorTarget{addr, tc.steps}, buf)
			if (err == nil) != tc.ok {
				t.Fatalf("floorDialogue: %v, want success %v", err, tc.ok)
			}
			if tc.ok {
				if read := <-got; read != tc.want {
					t.Errorf("server read %q, want %q", read, tc.want)
				}
			}
		})
	}
	if err := floorDialogue(floorTarget{addr: "127.0.0.1:1"}, buf); err == nil {
		t.Error("a closed port succeeded")
	}
}
