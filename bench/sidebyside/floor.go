package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// The dialogue floor: the plain-mode dialogues done with the least work a
// process can do for them (blocking sockets, no poller, one after the
// other, fixed buffers), served behind one HTTP request per round like
// mailcluster_exporter's /probe. Its CPU per round is what the kernel's TCP
// sessions and one HTTP exchange cost, below which no prober can go.

// step is one line sent, or one line waited for (by prefix; "." is a
// line of its own).
type step struct{ send, expect string }

var floorDialogues = map[string][]step{
	"25":  {{expect: "220 "}, {send: "EHLO mailcluster-exporter.invalid"}, {expect: "250 "}, {send: "QUIT"}},
	"143": {{expect: "* OK"}, {send: "a1 CAPABILITY"}, {expect: "a1 OK"}, {send: "a9 LOGOUT"}},
	"110": {{expect: "+OK"}, {send: "CAPA"}, {expect: "."}, {send: "QUIT"}},
}

type floorTarget struct {
	addr  string
	steps []step
}

// floorTargets are the 11 dialogues of a round.
func floorTargets() []floorTarget {
	var t []floorTarget
	for _, h := range hosts {
		for _, p := range []string{"25", "143", "110"} {
			t = append(t, floorTarget{net.JoinHostPort(h, p), floorDialogues[p]})
		}
	}
	for _, h := range liveHosts {
		t = append(t, floorTarget{addr: net.JoinHostPort(h, "12345")})
	}
	return t
}

// serveFloor answers every HTTP request with one round of floorTargets:
// the number of dialogues that succeeded, and why the others failed.
func serveFloor(addr string) error {
	targets := floorTargets()
	buf := make([]byte, 4096)
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ok, failed := 0, ""
		for _, t := range targets {
			if err := floorDialogue(t, buf); err != nil {
				failed += fmt.Sprintf("# %s: %v\n", t.addr, err)
			} else {
				ok++
			}
		}
		fmt.Fprintf(w, "floor_dialogues_succeeded %d\n%s", ok, failed)
	}))
}

// floorDialogue runs one dialogue on a blocking socket with 2 s timeouts.
func floorDialogue(t floorTarget, buf []byte) error {
	host, port, err := net.SplitHostPort(t.addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return fmt.Errorf("bad target %q", t.addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 2}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv); err != nil {
		return err
	}
	sa := &syscall.SockaddrInet4{Port: p}
	copy(sa.Addr[:], ip)
	if err := syscall.Connect(fd, sa); err != nil {
		return err
	}
	n := 0 // bytes of buf holding unread lines
	for _, s := range t.steps {
		if s.send != "" {
			if _, err := syscall.Write(fd, []byte(s.send+"\r\n")); err != nil {
				return err
			}
			continue
		}
		for {
			line, rest, found := bytes.Cut(buf[:n], []byte("\n"))
			if found {
				n = copy(buf, rest)
				line = bytes.TrimSuffix(line, []byte("\r"))
				if bytes.HasPrefix(line, []byte(s.expect)) && (s.expect != "." || len(line) == 1) {
					break
				}
				continue
			}
			if n == len(buf) {
				return errors.New("line too long")
			}
			m, err := syscall.Read(fd, buf[n:])
			if err != nil {
				return err
			}
			if m == 0 {
				return errors.New("closed before " + s.expect)
			}
			n += m
		}
	}
	return nil
}
