// Package mfreplica parses m-FILTER's replication definition file
// (<install dir>/conf/mf_replica.def), which configures the settings sync
// (設定同期) and the data sync (データ同期) between a master and its slaves.
//
// Format, as the vendor FAQ shows it (seed 003, m-FILTER FAQ 2578): one
// `KEY = VALUE` per line, blanks around `=` optional, `#` comment lines:
//
//	# sync mail data(report/save/reserve)
//	ENABLE_REP_DATA = ON                      data sync on (OFF: off)
//	REPLICA_SERVER_* = XXX.XXX.XXX.XXX:14083  settings-sync peers, host:port
//	DATA_REPORT_SYNC_SERVER_PORT = 14042      data sync ports
//	DATA_SAVE_SYNC_SERVER_PORT = 14043
//	DATA_EWEB_SYNC_SERVER_PORT = 14044
//	DATA_QUARANTINE_SYNC_SERVER_PORT = 14045  from Ver.5.00R01
//	DATA_POP_SYNC_SERVER_PORT = 14046         from Ver.5.31R01
//	DATA_SMTP_CLIENT_SYNC_SERVER_PORT = 14047 from Ver.5.50R01
//
// The ports are configurable ("ポート番号は変更可能"), so the file, not the
// defaults, says what to probe. The seeds do not document a key that states
// the node's role (master or slave): Parse does not guess one, and the
// role comes from the exporter configuration (NodeFacts' role argument).
// Keys the parser does not know are kept (Config.Unknown) and reported
// (Config.Warnings), never dropped silently; malformed lines are errors
// naming the line.
package mfreplica

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

// MaxLineBytes bounds one line of the file.
const MaxLineBytes = 16 * 1024

// Documented default ports (seed 003). Informational: Parse reports only
// the ports the file names.
const (
	DefaultSettingsSyncPort = 14083
)

// DefaultDataPorts are the documented default data sync ports by kind (the
// middle of the DATA_<KIND>_SYNC_SERVER_PORT key).
var DefaultDataPorts = map[string]int{
	"REPORT":      14042,
	"SAVE":        14043,
	"EWEB":        14044,
	"QUARANTINE":  14045, // Ver.5.00R01 and later
	"POP":         14046, // Ver.5.31R01 and later
	"SMTP_CLIENT": 14047, // Ver.5.50R01 and later
}

// Config is a parsed mf_replica.def.
type Config struct {
	// Entries is every KEY = VALUE line in file order.
	Entries []Entry
	// ReplicaServers are the REPLICA_SERVER_* entries: the settings-sync
	// peers.
	ReplicaServers []Replica
	// DataSync is ENABLE_REP_DATA (ON true, OFF false); nil when absent.
	DataSync *bool
	// DataPorts maps a data sync kind ("REPORT", "SAVE", "EWEB",
	// "QUARANTINE", "POP", "SMTP_CLIENT", or a newer one) to its port.
	DataPorts map[string]int
	// Unknown are the entries whose key this parser does not know.
	Unknown []Entry
	// Warnings report unknown and repeated keys, with their lines.
	Warnings []string
}

// Entry is one KEY = VALUE line.
type Entry struct {
	Key   string
	Value string
	Line  int
}

// Replica is one REPLICA_SERVER_* entry.
type Replica struct {
	Key  string // e.g. REPLICA_SERVER_1
	Host string
	Port int
	Line int
}

// Address returns host:port (IPv6 in brackets).
func (r Replica) Address() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// ParseError is a malformed line ("mf_replica.def: line N: …").
type ParseError = parseutil.LineError

func errf(line int, format string, a ...any) error {
	return parseutil.Errorf("mf_replica.def", line, format, a...)
}

var (
	keyRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.*-]*$`)
	dataPortRE = regexp.MustCompile(`^DATA_([A-Z0-9_]+)_SYNC_SERVER_PORT$`)
)

// Parse reads an mf_replica.def. A UTF-8 byte-order mark and CRLF line
// ends (Windows installations) are accepted; comment lines may be in any
// encoding (Shift_JIS Japanese comments are skipped as bytes).
func Parse(r io.Reader) (*Config, error) {
	c := &Config{}
	seen := map[string]int{}
	err := parseutil.ScanLines(r, "mf_replica.def", MaxLineBytes, func(n int, t string) error {
		t = strings.TrimSpace(strings.TrimRight(t, "\r"))
		if t == "" || strings.HasPrefix(t, "#") {
			return nil
		}
		k := strings.IndexByte(t, '=')
		if k < 0 {
			return errf(n, "expected KEY = VALUE, got %q", parseutil.Clip(t, 80))
		}
		key := strings.TrimSpace(t[:k])
		val := strings.TrimSpace(t[k+1:])
		if key == "" {
			return errf(n, "empty key before '='")
		}
		if !keyRE.MatchString(key) {
			return errf(n, "invalid key %q (letters, digits, '_' expected)", parseutil.Clip(key, 80))
		}
		e := Entry{Key: key, Value: val, Line: n}
		ukey := strings.ToUpper(key)
		if prev, dup := seen[ukey]; dup {
			c.Warnings = append(c.Warnings, fmt.Sprintf("line %d: key %s repeats line %d; the later value is used", n, key, prev))
			c.remove(ukey)
		}
		seen[ukey] = n
		c.Entries = append(c.Entries, e)
		switch {
		case ukey == "ENABLE_REP_DATA":
			switch strings.ToUpper(val) {
			case "ON":
				c.DataSync = boolPtr(true)
			case "OFF":
				c.DataSync = boolPtr(false)
			default:
				return errf(n, "ENABLE_REP_DATA must be ON or OFF, got %q", parseutil.Clip(val, 80))
			}
		case strings.HasPrefix(ukey, "REPLICA_SERVER_"):
			host, port, err := hostPort(val)
			if err != nil {
				return errf(n, "%s: %v", key, err)
			}
			c.ReplicaServers = append(c.ReplicaServers, Replica{Key: key, Host: host, Port: port, Line: n})
		case dataPortRE.MatchString(ukey):
			p, err := port(val)
			if err != nil {
				return errf(n, "%s: %v", key, err)
			}
			if c.DataPorts == nil {
				c.DataPorts = map[string]int{}
			}
			c.DataPorts[dataPortRE.FindStringSubmatch(ukey)[1]] = p
		default:
			c.Unknown = append(c.Unknown, e)
			c.Warnings = append(c.Warnings, fmt.Sprintf("line %d: unknown key %s kept but not interpreted", n, key))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// remove drops the interpretation of an earlier occurrence of ukey.
func (c *Config) remove(ukey string) {
	switch {
	case ukey == "ENABLE_REP_DATA":
		c.DataSync = nil
	case strings.HasPrefix(ukey, "REPLICA_SERVER_"):
		out := c.ReplicaServers[:0]
		for _, r := range c.ReplicaServers {
			if strings.ToUpper(r.Key) != ukey {
				out = append(out, r)
			}
		}
		c.ReplicaServers = out
	case dataPortRE.MatchString(ukey):
		delete(c.DataPorts, dataPortRE.FindStringSubmatch(ukey)[1])
	default:
		out := c.Unknown[:0]
		for _, e := range c.Unknown {
			if strings.ToUpper(e.Key) != ukey {
				out = append(out, e)
			}
		}
		c.Unknown = out
	}
	ents := c.Entries[:0]
	for _, e := range c.Entries {
		if strings.ToUpper(e.Key) != ukey {
			ents = append(ents, e)
		}
	}
	c.Entries = ents
}

func boolPtr(b bool) *bool { return &b }

func port(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%q is not a TCP port (1-65535)", parseutil.Clip(s, 80))
	}
	return p, nil
}

func hostPort(s string) (string, int, error) {
	h, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port", parseutil.Clip(s, 80))
	}
	if h == "" || strings.ContainsAny(h, " \t/") {
		return "", 0, fmt.Errorf("%q has no valid host", parseutil.Clip(s, 80))
	}
	p, err := port(ps)
	if err != nil {
		return "", 0, err
	}
	return h, p, nil
}

// SettingsSyncConfigured reports whether the file names at least one
// settings-sync peer.
func (c *Config) SettingsSyncConfigured() bool { return len(c.ReplicaServers) > 0 }

// DataSyncEnabled reports ENABLE_REP_DATA = ON.
func (c *Config) DataSyncEnabled() bool { return c.DataSync != nil && *c.DataSync }

// Peers returns the distinct settings-sync peer hosts, in file order.
func (c *Config) Peers() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range c.ReplicaServers {
		if !seen[r.Host] {
			seen[r.Host] = true
			out = append(out, r.Host)
		}
	}
	return out
}

// Port is one port to probe.
type Port struct {
	Name string // "settings" or the data kind, e.g. "REPORT"
	Port int
}

// ReplicaTargets returns the settings-sync endpoints (host:port) named by
// the REPLICA_SERVER_* entries: what to probe for the settings sync link.
func (c *Config) ReplicaTargets() []string {
	var out []string
	for _, r := range c.ReplicaServers {
		out = append(out, r.Address())
	}
	return out
}

// DataSyncPorts returns the data sync ports named in the file, sorted by
// port, when data sync is ON; nil when it is OFF or not configured. They
// are the ports of the data sync servers (the slaves' queued "save" /
// "reserve" mail moves to the master's archive over them): probe them on
// the master.
func (c *Config) DataSyncPorts() []Port {
	if !c.DataSyncEnabled() {
		return nil
	}
	var out []Port
	for k, p := range c.DataPorts {
		out = append(out, Port{Name: k, Port: p})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// NodeFacts returns the facts the file itself supports for node: the role
// from configuration (master or slave; the file does not state it), the
// data-sync flag (ENABLE_REP_DATA, when the file sets it), and:
//
//   - settings sync configured (a REPLICA_SERVER_* line): redundancy_enabled
//     1; whether the sync works is not in the file: the collector probes
//     ReplicaTargets / DataSyncPorts and reads the slave's queue backlog.
//   - settings sync switched off, data sync off: redundancy_enabled 0 and
//     sync_state "disabled": the m-FILTER way of "disable redundancy" during
//     a version-up (FAQ 4105).
//   - settings sync switched off while data sync is ON: not a valid way to
//     switch redundancy off: the FAQ warns that it scatters the mail data
//     over the servers. redundancy_enabled stays 1 and the sync state is
//     out_of_sync, so the panel turns red instead of a calm gray.
//
// An ENABLE_REP_DATA of OFF is not "disabled": settings sync still runs; it
// only means no data ports to probe.
func (c *Config) NodeFacts(node string, role facts.Role) (facts.Set, error) {
	switch role {
	case "", facts.RoleMaster, facts.RoleSlave:
	default:
		return nil, fmt.Errorf("mf_replica.def: role %q for node %s: m-FILTER nodes are master or slave", role, node)
	}
	out := facts.Set{}
	n := out.Node(node)
	n.Role = role
	if c.DataSync != nil {
		n.SyncDataEnabled = facts.Bool(*c.DataSync)
	}
	switch {
	case c.SettingsSyncConfigured():
		n.RedundancyEnabled = facts.Bool(true)
	case c.DataSyncEnabled():
		n.RedundancyEnabled = facts.Bool(true)
		n.SyncState = facts.SyncOutOfSync
	default:
		n.RedundancyEnabled = facts.Bool(false)
		n.SyncState = facts.SyncDisabled
	}
	return out, nil
}
