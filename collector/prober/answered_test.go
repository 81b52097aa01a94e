package prober

import (
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// Answered tells a host that answered but failed the dialogue (alive)
// from one that answered nothing (silent).
func TestResultAnswered(t *testing.T) {
	refused := func(t *testing.T) string { return testmail.ClosedAddr(t) }
	cases := []struct {
		name         string
		proto        string
		addr         func(t *testing.T) string
		wantUp       bool
		wantAnswered bool
	}{
		{"smtp dialogue succeeds", "smtp", func(t *testing.T) string {
			return startFake(t, false, smtpScript(send(postfixGreeting), expect("EHLO "), send("250 mx.example.com"))...).addr
		}, true, true},
		{"smtp banner then EHLO rejected", "smtp", func(t *testing.T) string {
			return startFake(t, false, send(postfixGreeting), expect("EHLO "), send("554 5.7.1 go away")).addr
		}, false, true},
		{"smtp accepted but never greets", "smtp", func(t *testing.T) string {
			return startFake(t, false, hang()).addr
		}, false, true},
		{"imap connection closed at once", "imap", func(t *testing.T) string {
			return startFake(t, false, hangup()).addr
		}, false, true},
		{"smtp refused", "smtp", refused, false, false},
		{"tcp refused", "tcp", refused, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := probeOnce(t, c.proto, Target{Address: c.addr(t)}, 500*time.Millisecond)
			if res.Up != c.wantUp || res.Answered != c.wantAnswered {
				t.Errorf("Up=%v Answered=%v (err %v), want Up=%v Answered=%v", res.Up, res.Answered, res.Err, c.wantUp, c.wantAnswered)
			}
		})
	}
}
