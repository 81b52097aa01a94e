package config

import (
	"strconv"
	"time"

	"github.com/prometheus/common/model"
)

// The defaults, in one place (docs/configuration.md repeats them).
const (
	DefaultProbeTimeout   = 5 * time.Second
	DefaultMaxConcurrency = 32
	DefaultHeloName       = "mailcluster-exporter.invalid"
	DefaultMaxOutputBytes = 1 << 20 // 1 MiB per command / HTTP source
	DefaultSlowThreshold  = time.Second
	DefaultMarkerMaxLag   = 5 * time.Minute
	DefaultPeerTCPTimeout = 2 * time.Second
	DefaultQueueMaxFiles  = 100000
)

// protocolDefaults gives each protocol its well-known port and TLS mode.
var protocolDefaults = map[string]struct {
	port int
	tls  string
}{
	"smtp":  {25, ""},
	"smtps": {465, "implicit"},
	"pop3":  {110, ""},
	"pop3s": {995, "implicit"},
	"imap":  {143, ""},
	"imaps": {993, "implicit"},
	"ldap":  {389, ""},
	"ldaps": {636, "implicit"},
	"http":  {80, "none"},
	"https": {443, "implicit"},
	"dns":   {53, "none"},
	"tcp":   {0, "none"},
}

// shorthands are service names that imply a protocol other than their own name.
var shorthands = map[string]struct {
	protocol string
	port     int
	tls      string
}{
	"submission":  {"smtp", 587, "starttls"},
	"submissions": {"smtps", 465, "implicit"},
}

// starttlsProtocols can upgrade a plain connection in-protocol.
var starttlsProtocols = map[string]bool{"smtp": true, "pop3": true, "imap": true, "ldap": true}

func (c *Config) applyDefaults() {
	g := &c.Global
	if g.ProbeTimeout == 0 {
		g.ProbeTimeout = model.Duration(DefaultProbeTimeout)
	}
	if g.MaxConcurrency == 0 {
		g.MaxConcurrency = DefaultMaxConcurrency
	}
	if g.HeloName == "" {
		g.HeloName = DefaultHeloName
	}
	if g.MaxOutputBytes == 0 {
		g.MaxOutputBytes = DefaultMaxOutputBytes
	}
	// Empty list entries (a lone "-") are skipped here and reported by validate.
	for _, cl := range c.Clusters {
		if cl == nil {
			continue
		}
		for i, n := range cl.Nodes {
			if n != nil && n.Priority == 0 {
				n.Priority = i + 1
			}
		}
		for _, s := range cl.Services {
			if s != nil {
				s.applyDefaults(g)
			}
		}
		for _, s := range cl.Liveness {
			if s == nil {
				continue
			}
			s.applyDefaults(g)
			if s.Name == "" {
				s.Name = s.Protocol + "_" + strconv.Itoa(s.Port)
			}
		}
		for _, src := range cl.Sources {
			if src != nil && src.Name == "" {
				src.Name = src.Type
			}
		}
		if cl.RoundTrip != nil {
			cl.RoundTrip.applyDefaults(cl)
		}
	}
}

func (s *Service) applyDefaults(g *Global) {
	if sh, ok := shorthands[s.Name]; ok && s.Protocol == "" {
		s.Protocol = sh.protocol
		if s.Port == 0 {
			s.Port = sh.port
		}
		if s.TLS == "" {
			s.TLS = sh.tls
		}
	}
	if s.Protocol == "" {
		s.Protocol = s.Name
	}
	if d, ok := protocolDefaults[s.Protocol]; ok {
		if s.Port == 0 {
			s.Port = d.port
		}
		if s.TLS == "" {
			s.TLS = d.tls
		}
	}
	if s.Timeout == 0 || s.Timeout > g.ProbeTimeout {
		s.Timeout = g.ProbeTimeout
	}
	if s.SlowThreshold == 0 {
		s.SlowThreshold = model.Duration(DefaultSlowThreshold)
	}
	if s.Gated == nil {
		f := false
		s.Gated = &f
	}
	if s.Auth != nil {
		s.Auth.applyDefaults(s.Protocol)
	}
}

// Opportunistic reports whether a plain connection should still upgrade when
// the server offers STARTTLS: when TLS was left unset for a STARTTLS-capable
// protocol ("tls: none" written out means never).
func (s *Service) Opportunistic() bool {
	return s.TLS == "" && starttlsProtocols[s.Protocol]
}

// TLSMode is the effective TLS mode: none, starttls or implicit.
func (s *Service) TLSMode() string {
	if s.TLS == "" {
		return "none"
	}
	return s.TLS
}
