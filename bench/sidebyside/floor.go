package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"

	"gopkg.in/yaml.v3"
)

// The dialogue floor: the plain-mode dialogues of blackboxConfig done with
// the least work a process can do for them (blocking sockets, no poller,
// one after the other, fixed buffers), served behind one HTTP request per
// round like mailcluster_exporter's /probe. Its CPU per round is what the
// kernel's TCP sessions and one HTTP exchange cost, below which no prober
// can go.

// step is one line sent, or one line waited for.
type step struct {
	send   string
	expect *regexp.Regexp
}

type floorTarget struct {
	addr  string
	steps []step
}

// floorTargets are the 11 dialogues of a round, with the steps of
// blackboxConfig's plain-text modules.
func floorTargets() ([]floorTarget, error) {
	var cfg struct {
		Modules map[string]struct {
			TCP struct {
				QueryResponse []struct{ Expect, Send string } `yaml:"query_response"`
			} `yaml:"tcp"`
		} `yaml:"modules"`
	}
	if err := yaml.Unmarshal([]byte(blackboxConfig), &cfg); err != nil {
		return nil, err
	}
	var t []floorTarget
	for _, h := range hosts {
		for _, c := range mailChecks {
			var steps []step
			for _, qr := range cfg.Modules[c.module].TCP.QueryResponse {
				if qr.Send != "" {
					steps = append(steps, step{send: qr.Send + "\n"})
					continue
				}
				re, err := regexp.Compile(qr.Expect)
				if err != nil {
					return nil, fmt.Errorf("module %s: %w", c.module, err)
				}
				steps = append(steps, step{expect: re})
			}
			if len(steps) == 0 {
				return nil, fmt.Errorf("module %s: no query_response", c.module)
			}
			t = append(t, floorTarget{net.JoinHostPort(h, c.port), steps})
		}
	}
	for _, h := range liveHosts {
		t = append(t, floorTarget{addr: net.JoinHostPort(h, livePort)})
	}
	return t, nil
}

// serveFloor answers every HTTP request with one round of floorTargets:
// the number of dialogues that succeeded, and why the others failed.
func serveFloor(addr string) error {
	targets, err := floorTargets()
	if err != nil {
		return err
	}
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
// Lines are matched without their "\n", as blackbox_exporter does.
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
		if s.expect == nil {
			if _, err := syscall.Write(fd, []byte(s.send)); err != nil {
				return err
			}
			continue
		}
		for {
			line, rest, found := bytes.Cut(buf[:n], []byte("\n"))
			if found {
				n = copy(buf, rest)
				if s.expect.Match(line) {
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
				return fmt.Errorf("closed before %q", s.expect)
			}
			n += m
		}
	}
	return nil
}
