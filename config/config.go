// Package config loads, defaults and validates the exporter's YAML
// configuration. Loading is strict: an unknown key, a wrong type or an
// invalid value is an error that names the file, the line and the field.
package config

import (
	"time"

	"github.com/prometheus/common/model"
)

// Cluster kinds (DESIGN.md §1).
const (
	KindActiveStandby = "active_standby"
	KindFailoverGroup = "failover_group"
	KindMasterSlave   = "master_slave"
)

// Config is the whole configuration file.
type Config struct {
	Global   Global     `yaml:"global"`
	Clusters []*Cluster `yaml:"clusters"`

	// File is the path the configuration was read from (not in YAML).
	File string `yaml:"-"`
}

// Global holds settings shared by every cluster.
type Global struct {
	// ProbeTimeout caps one probe or one command, whatever the scrape allows.
	ProbeTimeout model.Duration `yaml:"probe_timeout"`
	// MaxConcurrency bounds the probes and commands running at once in the
	// whole exporter: every cluster, every scrape.
	MaxConcurrency int `yaml:"max_concurrency"`
	// HeloName is the name the SMTP probe presents in EHLO.
	HeloName string `yaml:"helo_name"`
	// MaxOutputBytes caps what a command or HTTP source may return.
	MaxOutputBytes int64 `yaml:"max_output_bytes"`
}

// Cluster is one HA mail cluster.
type Cluster struct {
	Name            string `yaml:"name"`
	Kind            string `yaml:"kind"`
	VirtualAddress  string `yaml:"virtual_address"`
	PreferredActive string `yaml:"preferred_active"`
	// TLSServerName is the name mail clients use for this cluster
	// (mail.example.com): certificates of every service, on the nodes and
	// the virtual address, are checked against it. A service may override
	// it.
	TLSServerName string      `yaml:"tls_server_name"`
	Nodes         []*Node     `yaml:"nodes"`
	Services      []*Service  `yaml:"services"`
	Liveness      []*Service  `yaml:"liveness"`
	Sources       []*Source   `yaml:"sources"`
	UpdateWindows []*Schedule `yaml:"update_windows"`
	// MaxConcurrency optionally bounds this cluster's probes and commands
	// at once (0: only global.max_concurrency applies).
	MaxConcurrency int `yaml:"max_concurrency"`
	// RoundTrip is the optional end-to-end mail check (roundtrip.go).
	RoundTrip *RoundTrip `yaml:"roundtrip"`
}

// Node is one member of a cluster.
type Node struct {
	Name        string `yaml:"name"`
	Address     string `yaml:"address"`
	Priority    int    `yaml:"priority"`
	SyncAddress string `yaml:"sync_address"`
	// Role is the configured role of a master_slave node (master or slave).
	Role string `yaml:"role"`
}

// Service is one protocol check, run on every node's address and on the
// cluster's virtual address. In YAML it is either a shorthand string
// ("smtp", "imaps", "submission") or a mapping.
type Service struct {
	Name          string         `yaml:"name"`
	Protocol      string         `yaml:"protocol"`
	Port          int            `yaml:"port"`
	TLS           string         `yaml:"tls"`
	Timeout       model.Duration `yaml:"timeout"`
	SlowThreshold model.Duration `yaml:"slow_threshold"`
	Gated         *bool          `yaml:"gated"`
	// TLSServerName overrides the cluster's tls_server_name for this
	// service (webmail.example.com on the https service...).
	TLSServerName string `yaml:"tls_server_name"`
	// CAFile holds the PEM roots certificates are verified against
	// instead of the system roots.
	CAFile string `yaml:"ca_file"`

	HTTPPath         string `yaml:"http_path"`
	HTTPExpectStatus []int  `yaml:"http_expect_status"`
	HTTPHost         string `yaml:"http_host"`
	DNSQueryName     string `yaml:"dns_query_name"`
	DNSQueryType     string `yaml:"dns_query_type"`
	DNSTransport     string `yaml:"dns_transport"`
	LDAPBaseDN       string `yaml:"ldap_base_dn"`
	// Auth makes the check log in (auth.go); a failed login is down.
	Auth *Auth `yaml:"auth"`

	shorthand bool
}

// TLSServerNameFor is the name s's certificates are verified against: the
// service's own tls_server_name, else the cluster's, else "" (nothing to
// verify against: the certificate is reported unverified).
func (c *Cluster) TLSServerNameFor(s *Service) string {
	if s.TLSServerName != "" {
		return s.TLSServerName
	}
	return c.TLSServerName
}

// IsGated reports whether the service is stopped during software updates.
func (s *Service) IsGated() bool { return s.Gated != nil && *s.Gated }

// Schedule is a recurring update window.
type Schedule struct {
	Weekday  string         `yaml:"weekday"`
	Start    string         `yaml:"start"`
	Duration model.Duration `yaml:"duration"`
	TimeZone string         `yaml:"time_zone"`
	Reason   string         `yaml:"reason"`

	weekday  time.Weekday
	startMin int
	loc      *time.Location
}

// NodeByName returns the named node or nil.
func (c *Cluster) NodeByName(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// ServiceByName returns the named service or nil.
func (c *Cluster) ServiceByName(name string) *Service {
	for _, s := range c.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// ClusterByName returns the named cluster or nil.
func (c *Config) ClusterByName(name string) *Cluster {
	for _, cl := range c.Clusters {
		if cl.Name == name {
			return cl
		}
	}
	return nil
}
