package clpstat

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

func TestParseMirrorTranscribed(t *testing.T) {
	cases := []struct {
		file     string
		status   string
		rows     map[string][]string
		recovery map[string]string
		sync     map[string]facts.SyncState
		progress float64 // -1: none
	}{
		{"clpmdstat-normal.txt", "Normal",
			map[string][]string{"Mirror Color": {"GREEN", "GREEN"}, "Lastupdate Time": {"--", "--"}, "Break Time": {"--", "--"},
				"Disk Error": {"OK", "OK"}, "Difference Percent": {"0%", "0%"}},
			nil, map[string]facts.SyncState{"server1": facts.SyncSynced, "server2": facts.SyncSynced}, -1},
		{"clpmdstat-recovering.txt", "Recovering",
			map[string][]string{"Mirror Color": {"YELLOW", "YELLOW"}},
			map[string]string{"Status": "Recovering", "Direction": "server1 -> server2", "Percent": "7%", "Used Time": "00:00:09",
				"Remain Time": "00:01:59", "Iteration Times": "1/1"},
			map[string]facts.SyncState{"server1": facts.SyncSyncing, "server2": facts.SyncSyncing}, 0.07},
		{"clpmdstat-abnormal.txt", "Abnormal",
			map[string][]string{"Mirror Color": {"GREEN", "RED"}, "Lastupdate Time": {"2018/03/04 17:30:05", "--"},
				"Break Time": {"2018/03/04 17:29:39", "--"}, "Disk Error": {"OK", "OK"}, "Difference Percent": {"1%", "--"}},
			nil, map[string]facts.SyncState{"server1": facts.SyncOutOfSync, "server2": facts.SyncOutOfSync}, -1},
		{"clpmdstat-active.txt", "",
			map[string][]string{"Active Status": {"Active", "Inactive"}},
			nil, map[string]facts.SyncState{}, -1},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.file] = true
		t.Run(c.file, func(t *testing.T) {
			m, err := ParseMirror(strings.NewReader(testdata(t, c.file)))
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != "md1" || !reflect.DeepEqual(m.Servers, []string{"server1", "server2"}) || m.Status != c.status {
				t.Errorf("mirror = %q %v %q", m.Name, m.Servers, m.Status)
			}
			if !reflect.DeepEqual(m.Rows, c.rows) {
				t.Errorf("rows = %v, want %v", m.Rows, c.rows)
			}
			if !reflect.DeepEqual(m.Recovery, c.recovery) {
				t.Errorf("recovery = %v, want %v", m.Recovery, c.recovery)
			}
			fs := m.NodeFacts()
			got := map[string]facts.SyncState{}
			for n, f := range fs {
				got[n] = f.SyncState
				if c.progress < 0 && f.SyncProgress != nil {
					t.Errorf("%s progress = %v", n, *f.SyncProgress)
				}
				if c.progress >= 0 && (f.SyncProgress == nil || math.Abs(*f.SyncProgress-c.progress) > 1e-9) {
					t.Errorf("%s progress = %v, want %v", n, f.SyncProgress, c.progress)
				}
				if f.Role != "" {
					t.Errorf("clpmdstat must not set roles")
				}
			}
			if !reflect.DeepEqual(got, c.sync) {
				t.Errorf("sync = %v, want %v", got, c.sync)
			}
		})
	}
	for _, f := range testdataFiles(t, "clpmdstat-") {
		if !seen[f] {
			t.Errorf("testdata %s has no test case", f)
		}
	}
}

func TestMirrorStateTables(t *testing.T) {
	status := map[string]facts.SyncState{"Normal": facts.SyncSynced, "Recovering": facts.SyncSyncing,
		"Abnormal": facts.SyncOutOfSync, "Error": facts.SyncOutOfSync, "Pending": facts.SyncOutOfSync,
		"No Construction": facts.SyncOutOfSync, "Unknown": facts.SyncUnknown, "": facts.SyncUnknown, "Fine": facts.SyncUnknown}
	for s, w := range status {
		if g := ClassifyMirrorStatus(s); g != w {
			t.Errorf("status %q = %v, want %v", s, g, w)
		}
	}
	colors := map[string]facts.SyncState{"GREEN": facts.SyncSynced, "green": facts.SyncSynced, "YELLOW": facts.SyncSyncing,
		"RED": facts.SyncOutOfSync, "ORANGE": facts.SyncOutOfSync, "BLUE": facts.SyncOutOfSync, "BLACK": facts.SyncOutOfSync,
		"GRAY": facts.SyncUnknown, "PURPLE": facts.SyncUnknown, "": facts.SyncUnknown}
	for s, w := range colors {
		if g := ClassifyMirrorColor(s); g != w {
			t.Errorf("color %q = %v, want %v", s, g, w)
		}
	}
}

func TestMirrorNodeFactsCombinations(t *testing.T) {
	mk := func(status, c1, c2, e1 string) *Mirror {
		m := &Mirror{Name: "md1", Status: status, Servers: []string{"a", "b"}, Rows: map[string][]string{}}
		if c1 != "" {
			m.Rows["Mirror Color"] = []string{c1, c2}
		}
		if e1 != "" {
			m.Rows["Disk Error"] = []string{e1, "OK"}
		}
		return m
	}
	cases := []struct {
		name string
		m    *Mirror
		a, b facts.SyncState
	}{
		{"normal green", mk("Normal", "GREEN", "GREEN", ""), facts.SyncSynced, facts.SyncSynced},
		{"normal but gray peer", mk("Normal", "GREEN", "GRAY", ""), facts.SyncSynced, facts.SyncUnknown},
		{"abnormal green/red", mk("Abnormal", "GREEN", "RED", ""), facts.SyncOutOfSync, facts.SyncOutOfSync},
		{"no status, red/green", mk("", "RED", "GREEN", ""), facts.SyncOutOfSync, facts.SyncSynced},
		{"disk error", mk("Normal", "GREEN", "GREEN", "NG"), facts.SyncOutOfSync, facts.SyncSynced},
		{"split brain", mk("Abnormal", "BLUE", "BLUE", ""), facts.SyncOutOfSync, facts.SyncOutOfSync},
		{"unknown status only", mk("Strange", "", "", ""), facts.SyncUnknown, facts.SyncUnknown},
		{"no construction", mk("No Construction", "", "", ""), facts.SyncOutOfSync, facts.SyncOutOfSync},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := c.m.NodeFacts()
			if fs["a"].SyncState != c.a || fs["b"].SyncState != c.b {
				t.Errorf("a=%v b=%v, want %v %v", fs["a"].SyncState, fs["b"].SyncState, c.a, c.b)
			}
		})
	}
}

func TestParseMirrorVariants(t *testing.T) {
	// Windows line ends, no blank line after the status, misaligned
	// columns (split on wide gaps).
	in := "Mirror Status: Normal\r\n  md1   server1    server2\r\n  --------------------------\r\n  Mirror Color   GREEN   GREEN\r\n  Lastupdate Time  2018/03/04 17:30:05  --\r\n"
	m, err := ParseMirror(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Rows["Lastupdate Time"]; !reflect.DeepEqual(got, []string{"2018/03/04 17:30:05", "--"}) {
		t.Errorf("row = %q", got)
	}
	// Status only (e.g. an error state before the table can be read).
	m, err = ParseMirror(strings.NewReader("Mirror Status: No Construction\n"))
	if err != nil || m.Status != "No Construction" {
		t.Fatalf("%+v %v", m, err)
	}
	// Bad percent: no progress rather than a wrong one.
	m = &Mirror{Recovery: map[string]string{"Percent": "abc"}}
	if _, ok := m.Progress(); ok {
		t.Error("progress from garbage")
	}
	m = &Mirror{Recovery: map[string]string{"Percent": "150%"}}
	if _, ok := m.Progress(); ok {
		t.Error("progress above 100%")
	}
}

func TestParseMirrorMalformed(t *testing.T) {
	cases := []struct{ name, in, line, msg string }{
		{"empty", "", "", "empty output"},
		{"garbage", "hello world\n", "line 1", "outside a table"},
		{"empty status", "Mirror Status:\n", "line 1", "empty mirror status"},
		{"two statuses", "Mirror Status: Normal\nMirror Status: Normal\n", "line 2", "second"},
		{"dash first", "-----------\n", "line 1", "separator"},
		{"header without servers", "  md1\n  ---------\n", "line 1", "names no server"},
		{"short row", "  md1  a  b\n  ---------\n  Mirror Color  GREEN\n", "line 3", "want a name and 2 values"},
		{"duplicate row", "  md1  a  b\n  ---------\n  Mirror Color  GREEN  GREEN\n  Mirror Color  GREEN  GREEN\n", "line 4", "twice"},
		{"recovery row", "  Recovery Status  Value\n  ---------\n  no colon here\n", "line 3", "Key: value"},
		{"two disks", "  md1  a  b\n  ----\n  Mirror Color  GREEN  GREEN\n\n  md2  a  b\n  ----\n", "line 5", "two mirror disks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseMirror(strings.NewReader(c.in))
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T does not unwrap to *ParseError", err)
			}
			if !strings.HasPrefix(err.Error(), "clpmdstat: ") {
				t.Errorf("error %q", err)
			}
			if c.line != "" && !strings.Contains(err.Error(), c.line+":") {
				t.Errorf("error %q does not name %s", err, c.line)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q lacks %q", err, c.msg)
			}
		})
	}
}
