package mfreplica

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

func parseFile(t *testing.T, name string) *Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDataSyncOn(t *testing.T) {
	c := parseFile(t, "mf_replica-data-sync-on.def")
	if !c.SettingsSyncConfigured() || !c.DataSyncEnabled() {
		t.Fatalf("config = %+v", c)
	}
	if !reflect.DeepEqual(c.ReplicaServers, []Replica{{Key: "REPLICA_SERVER_1", Host: "192.0.2.21", Port: 14083, Line: 13}}) {
		t.Errorf("replicas = %+v", c.ReplicaServers)
	}
	if !reflect.DeepEqual(c.DataPorts, DefaultDataPorts) {
		t.Errorf("data ports = %v, want the documented defaults %v", c.DataPorts, DefaultDataPorts)
	}
	want := []Port{{"REPORT", 14042}, {"SAVE", 14043}, {"EWEB", 14044}, {"QUARANTINE", 14045}, {"POP", 14046}, {"SMTP_CLIENT", 14047}}
	if got := c.DataSyncPorts(); !reflect.DeepEqual(got, want) {
		t.Errorf("DataSyncPorts = %v", got)
	}
	if got := c.ReplicaTargets(); !reflect.DeepEqual(got, []string{"192.0.2.21:14083"}) {
		t.Errorf("targets = %v", got)
	}
	if len(c.Unknown) != 0 || len(c.Warnings) != 0 || len(c.Entries) != 8 {
		t.Errorf("unknown=%v warnings=%v entries=%d", c.Unknown, c.Warnings, len(c.Entries))
	}
	fs, err := c.NodeFacts("mf-master", facts.RoleMaster)
	if err != nil {
		t.Fatal(err)
	}
	if n := fs["mf-master"]; n.Role != facts.RoleMaster || n.SyncState != "" {
		t.Errorf("facts = %+v", n)
	}
}

func TestWindowsDataSyncOff(t *testing.T) {
	c := parseFile(t, "mf_replica-windows-data-sync-off.def")
	if !c.SettingsSyncConfigured() || c.DataSyncEnabled() || c.DataSync == nil {
		t.Fatalf("config = %+v", c)
	}
	if got := c.Peers(); !reflect.DeepEqual(got, []string{"192.0.2.21", "mf-slave2.example.jp"}) {
		t.Errorf("peers = %v", got)
	}
	if c.DataSyncPorts() != nil {
		t.Errorf("data ports probed while data sync is OFF")
	}
	if len(c.DataPorts) != 3 {
		t.Errorf("data ports = %v", c.DataPorts)
	}
	if !reflect.DeepEqual(c.Unknown, []Entry{{Key: "REPLICA_TIMEOUT", Value: "30", Line: 13}}) {
		t.Errorf("unknown = %+v", c.Unknown)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "line 13") || !strings.Contains(c.Warnings[0], "REPLICA_TIMEOUT") {
		t.Errorf("warnings = %v", c.Warnings)
	}
	fs, _ := c.NodeFacts("mf-slave1", facts.RoleSlave)
	if n := fs["mf-slave1"]; n.Role != facts.RoleSlave || n.SyncState != "" {
		t.Errorf("data sync OFF must not read as sync disabled: %+v", n)
	}
}

func TestNoPeersIsSyncDisabled(t *testing.T) {
	c, err := Parse(strings.NewReader("# settings sync switched off\nENABLE_REP_DATA = OFF\n"))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := c.NodeFacts("a", "")
	if err != nil {
		t.Fatal(err)
	}
	if fs["a"].SyncState != facts.SyncDisabled || fs["a"].Role != "" {
		t.Errorf("facts = %+v", fs["a"])
	}
	if _, err := c.NodeFacts("a", facts.RoleActive); err == nil {
		t.Error("active accepted as an m-FILTER role")
	}
}

func TestVariants(t *testing.T) {
	in := "\ufeffREPLICA_SERVER_1 = [2001:db8::1]:14083\nenable_rep_data=on\nREPLICA_SERVER_1 = 192.0.2.9:15083\nFOO =\n"
	c, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ReplicaServers) != 1 || c.ReplicaServers[0].Host != "192.0.2.9" || c.ReplicaServers[0].Port != 15083 {
		t.Errorf("replicas = %+v (the later duplicate wins)", c.ReplicaServers)
	}
	if !c.DataSyncEnabled() {
		t.Error("lower-case on not accepted")
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "repeats line 1") {
		t.Errorf("warnings = %v", c.Warnings)
	}
	if len(c.Entries) != 3 {
		t.Errorf("entries = %+v", c.Entries)
	}
	c, err = Parse(strings.NewReader("REPLICA_SERVER_1 = [2001:db8::1]:14083\n"))
	if err != nil || c.ReplicaServers[0].Address() != "[2001:db8::1]:14083" {
		t.Errorf("ipv6: %+v %v", c, err)
	}
}

func TestMalformed(t *testing.T) {
	cases := []struct{ name, in, line, msg string }{
		{"no equals", "ENABLE_REP_DATA ON\n", "line 1", "KEY = VALUE"},
		{"empty key", "\n = 1\n", "line 2", "empty key"},
		{"bad key", "REPLICA SERVER = 1.2.3.4:1\n", "line 1", "invalid key"},
		{"bad bool", "# c\nENABLE_REP_DATA = YES\n", "line 2", "ON or OFF"},
		{"no port", "REPLICA_SERVER_1 = 192.0.2.1\n", "line 1", "host:port"},
		{"bad port", "REPLICA_SERVER_1 = 192.0.2.1:99999\n", "line 1", "not a TCP port"},
		{"empty host", "REPLICA_SERVER_1 = :14083\n", "line 1", "no valid host"},
		{"bad data port", "\n\nDATA_SAVE_SYNC_SERVER_PORT = 14043 ※Ver.5\n", "line 3", "not a TCP port"},
		{"zero port", "DATA_POP_SYNC_SERVER_PORT = 0\n", "line 1", "not a TCP port"},
		{"too long", strings.Repeat("#", MaxLineBytes+1) + "\n", "line 1", "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in))
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *ParseError", err)
			}
			if !strings.Contains(err.Error(), c.line+":") || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q, want %s and %q", err, c.line, c.msg)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	c, err := Parse(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.SettingsSyncConfigured() || c.DataSync != nil {
		t.Errorf("%+v", c)
	}
}

func FuzzParse(f *testing.F) {
	m, _ := filepath.Glob(filepath.Join("testdata", "*.def"))
	for _, p := range m {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("REPLICA_SERVER_1 = [::1]:1\nREPLICA_SERVER_1 = a:2\nX=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, r := range c.ReplicaServers {
			if r.Port < 1 || r.Port > 65535 || r.Host == "" {
				t.Fatalf("bad replica %+v", r)
			}
		}
		for _, p := range c.DataSyncPorts() {
			if p.Port < 1 || p.Port > 65535 {
				t.Fatalf("bad port %+v", p)
			}
		}
		seen := map[string]bool{}
		for _, e := range c.Entries {
			k := strings.ToUpper(e.Key)
			if seen[k] {
				t.Fatalf("duplicate entry %s kept", e.Key)
			}
			seen[k] = true
		}
		_ = c.ReplicaTargets()
		if _, err := c.NodeFacts("n", facts.RoleSlave); err != nil {
			t.Fatal(err)
		}
	})
}

// Replication named in the file is redundancy enabled; none is disabled,
// except while data sync is still ON: settings sync switched off then
// scatters the mail data (FAQ 2578), which is out of sync, never gray.
func TestNodeFactsRedundancy(t *testing.T) {
	for _, tc := range []struct {
		def     string
		enabled bool
		sync    facts.SyncState
		data    *bool
	}{
		{"REPLICA_SERVER_1 = 192.0.2.2:14083\n", true, "", nil},
		{"REPLICA_SERVER_1 = 192.0.2.2:14083\nENABLE_REP_DATA = ON\n", true, "", facts.Bool(true)},
		{"ENABLE_REP_DATA = OFF\n", false, facts.SyncDisabled, facts.Bool(false)},
		{"# settings sync off, data sync left on\nENABLE_REP_DATA = ON\n", true, facts.SyncOutOfSync, facts.Bool(true)},
		{"# nothing\n", false, facts.SyncDisabled, nil},
	} {
		c, err := Parse(strings.NewReader(tc.def))
		if err != nil {
			t.Fatalf("%q: %v", tc.def, err)
		}
		set, err := c.NodeFacts("slave1", facts.RoleSlave)
		if err != nil {
			t.Fatal(err)
		}
		n := set["slave1"]
		if n.RedundancyEnabled == nil || *n.RedundancyEnabled != tc.enabled || n.SyncState != tc.sync {
			t.Errorf("%q: redundancy %v sync %q; want %v %q", tc.def, n.RedundancyEnabled, n.SyncState, tc.enabled, tc.sync)
		}
		if (n.SyncDataEnabled == nil) != (tc.data == nil) || tc.data != nil && *n.SyncDataEnabled != *tc.data {
			t.Errorf("%q: data sync flag %v, want %v", tc.def, n.SyncDataEnabled, tc.data)
		}
	}
}
