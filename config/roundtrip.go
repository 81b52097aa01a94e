package config

import (
	"fmt"
	"net/mail"
	"time"

	"github.com/prometheus/common/model"
)

// Round-trip defaults (docs/configuration.md repeats them).
const (
	DefaultRoundTripInterval      = 5 * time.Minute
	DefaultRoundTripTimeout       = 2 * time.Minute
	DefaultRoundTripSlowThreshold = 30 * time.Second
	DefaultRoundTripMaxLag        = 5 * time.Minute
	DefaultRoundTripPollInterval  = time.Second
	DefaultRoundTripCleanupAfter  = time.Hour
	DefaultRoundTripMailbox       = "INBOX"
)

// RoundTrip is the optional end-to-end check of a cluster: a message
// submitted through the virtual address to a probe mailbox, then looked
// for over IMAP on every node. Off unless the block is present.
type RoundTrip struct {
	// Interval: at most one round per interval; EveryScrapes, when set,
	// starts a round every N scrapes instead (still never two at once).
	Interval     model.Duration `yaml:"interval"`
	EveryScrapes int            `yaml:"every_scrapes"`
	// Timeout is the deadline of one round, submission to the last node.
	Timeout model.Duration `yaml:"timeout"`
	// SlowThreshold: a delivery slower than this makes the submission
	// service yellow through the virtual address.
	SlowThreshold model.Duration `yaml:"slow_threshold"`
	// MaxLag: a node whose oldest unseen probe message has been on its way
	// longer than this, while the round reached another node, is
	// out_of_sync evidence (unless the sync source says syncing).
	MaxLag model.Duration `yaml:"max_lag"`
	// PollInterval is the pause between two looks into a node's mailbox.
	PollInterval model.Duration `yaml:"poll_interval"`
	// CleanupAfter: probe messages older than this are deleted whoever
	// sent them (leftovers of a restarted or removed exporter).
	CleanupAfter model.Duration `yaml:"cleanup_after"`
	From         string         `yaml:"from"`
	To           string         `yaml:"to"`

	Submission *RoundTripEndpoint `yaml:"submission"`
	IMAP       *RoundTripEndpoint `yaml:"imap"`
	// Nodes are the nodes whose mailbox is looked into; default every node.
	Nodes []string `yaml:"nodes"`
}

// RoundTripEndpoint names a configured service and may override its port
// and TLS mode (e.g. an IMAP port that stays open on the standby).
type RoundTripEndpoint struct {
	Service string `yaml:"service"`
	Port    int    `yaml:"port"`
	TLS     string `yaml:"tls"`
	Auth    *Auth  `yaml:"auth"`
	// Mailbox is the IMAP mailbox of the probe messages (imap only).
	Mailbox string `yaml:"mailbox"`

	service *Service
}

// ServiceConfig is the configured service the endpoint is based on.
func (e *RoundTripEndpoint) ServiceConfig() *Service { return e.service }

// EffectivePort is the port to connect to.
func (e *RoundTripEndpoint) EffectivePort() int {
	if e.Port != 0 {
		return e.Port
	}
	if e.service != nil {
		return e.service.Port
	}
	return 0
}

// EffectiveTLS is none, starttls or implicit.
func (e *RoundTripEndpoint) EffectiveTLS() string {
	switch {
	case e.TLS != "":
		return e.TLS
	case e.service != nil && (e.service.Protocol == "smtps" || e.service.Protocol == "imaps"):
		return "implicit"
	case e.service != nil:
		return e.service.TLSMode()
	}
	return "none"
}

func (r *RoundTrip) applyDefaults(cl *Cluster) {
	if r.Interval == 0 && r.EveryScrapes == 0 {
		r.Interval = model.Duration(DefaultRoundTripInterval)
	}
	if r.Timeout == 0 {
		r.Timeout = model.Duration(DefaultRoundTripTimeout)
	}
	if r.SlowThreshold == 0 {
		r.SlowThreshold = model.Duration(DefaultRoundTripSlowThreshold)
	}
	if r.MaxLag == 0 {
		r.MaxLag = model.Duration(DefaultRoundTripMaxLag)
	}
	if r.PollInterval == 0 {
		r.PollInterval = model.Duration(DefaultRoundTripPollInterval)
	}
	if r.CleanupAfter == 0 {
		r.CleanupAfter = model.Duration(DefaultRoundTripCleanupAfter)
	}
	if r.From == "" {
		r.From = r.To
	}
	if len(r.Nodes) == 0 {
		r.Nodes = nodeNames(cl)
	}
	for _, e := range []*RoundTripEndpoint{r.Submission, r.IMAP} {
		if e == nil {
			continue
		}
		e.service = cl.ServiceByName(e.Service)
		if e.Auth != nil && e.service != nil {
			e.Auth.applyDefaults(e.service.Protocol)
		}
	}
	if r.IMAP != nil && r.IMAP.Mailbox == "" {
		r.IMAP.Mailbox = DefaultRoundTripMailbox
	}
}

func nodeNames(cl *Cluster) []string {
	var out []string
	for _, n := range cl.Nodes {
		if n != nil {
			out = append(out, n.Name)
		}
	}
	return out
}

func (r *RoundTrip) validate(v *validator, p string, cl *Cluster) {
	if cl.VirtualAddress == "" {
		v.errorf(p, "the round trip submits through the virtual address: virtual_address is required")
	}
	if r.Interval < 0 || r.EveryScrapes < 0 {
		v.errorf(p, "interval and every_scrapes must not be negative")
	}
	if r.Timeout <= 0 || time.Duration(r.Timeout) > time.Hour {
		v.errorf(p+".timeout", "must be between 0 and 1h, got %s", r.Timeout)
	}
	if r.SlowThreshold >= r.Timeout {
		v.errorf(p+".slow_threshold", "must be shorter than the timeout (%s), got %s", r.Timeout, r.SlowThreshold)
	}
	if r.MaxLag < 0 {
		v.errorf(p+".max_lag", "must be positive, got %s", r.MaxLag)
	}
	if r.PollInterval < model.Duration(100*time.Millisecond) {
		v.errorf(p+".poll_interval", "must be at least 100ms, got %s", r.PollInterval)
	}
	if r.CleanupAfter < r.Timeout {
		v.errorf(p+".cleanup_after", "must not be shorter than the timeout (%s): it would delete messages still on their way", r.Timeout)
	}
	for _, f := range []struct{ field, addr string }{{"to", r.To}, {"from", r.From}} {
		field, addr := f.field, f.addr
		if a, err := mail.ParseAddress(addr); err != nil || a.Name != "" {
			v.errorf(p+"."+field, "must be a bare mail address such as probe@example.org, got %q", addr)
		}
	}
	seen := map[string]bool{}
	for i, n := range r.Nodes {
		if cl.NodeByName(n) == nil {
			v.errorf(fmt.Sprintf("%s.nodes[%d]", p, i), "names no node of this cluster: %q", n)
		}
		if seen[n] {
			v.errorf(fmt.Sprintf("%s.nodes[%d]", p, i), "node %q is listed twice", n)
		}
		seen[n] = true
	}
	r.Submission.validate(v, p+".submission", []string{"smtp", "smtps"}, false)
	r.IMAP.validate(v, p+".imap", []string{"imap", "imaps"}, true)
}

func (e *RoundTripEndpoint) validate(v *validator, p string, protocols []string, authRequired bool) {
	if e == nil {
		v.errorf(p, "required")
		return
	}
	if e.service == nil {
		v.errorf(p+".service", "names no service of this cluster: %q", e.Service)
		return
	}
	ok := false
	for _, proto := range protocols {
		ok = ok || e.service.Protocol == proto
	}
	if !ok {
		v.errorf(p+".service", "service %q has protocol %s; want one of %v", e.Service, e.service.Protocol, protocols)
	}
	if e.Port < 0 || e.Port > 65535 {
		v.errorf(p+".port", "must be 1-65535, got %d", e.Port)
	}
	switch e.TLS {
	case "", "none", "starttls", "implicit":
	default:
		v.errorf(p+".tls", "must be none, starttls or implicit, got %q", e.TLS)
	}
	if e.Mailbox != "" && protocols[0] != "imap" {
		v.errorf(p+".mailbox", "only the imap endpoint has a mailbox")
	}
	switch {
	case e.Auth != nil:
		e.Auth.validate(v, p+".auth", e.service.Protocol)
	case authRequired:
		v.errorf(p+".auth", "required: the probe mailbox is read with a login")
	}
}
