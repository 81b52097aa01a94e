package clpstat

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

// Mirror is the output of `clpmdstat --mirror <md>` (-m) and/or
// `clpmdstat --active <md>` (-a) for one mirror disk resource.
//
// Layout (EXPRESSCLUSTER X Reference Guide, "Mirror-related commands" →
// "Displaying the mirror status (clpmdstat command)"; see
// testdata/clpmdstat-*.txt for the transcribed examples):
//
//	Mirror Status: Normal
//
//	  md1                 server1              server2
//	  ------------------------------------------------------------
//	  Mirror Color        GREEN                GREEN
//	  Lastupdate Time     --                   --
//	  Break Time          --                   --
//	  Disk Error          OK                   OK
//	  Difference Percent  0%                   0%
//
// While recovering, a second table follows:
//
//	Recovery Status     Value
//	------------------------------------------------------------
//	Status:             Recovering
//	Direction:          server1 -> server2
//	Percent:            7%
//	Used Time:          00:00:09
//	Remain Time:        00:01:59
//	Iteration Times:    1/1
//
// `--active` prints the same per-server table with one row, "Active Status"
// (Active / Inactive).
type Mirror struct {
	Name string // mirror disk resource, e.g. md1
	// Status is the "Mirror Status:" value (Normal, Recovering, Abnormal,
	// Pending, No Construction…); "" when the input had no such line
	// (--active output).
	Status  string
	Servers []string
	// Rows maps a row name ("Mirror Color", "Disk Error", …) to one value
	// per server, in Servers order.
	Rows map[string][]string
	// Recovery holds the "Recovery Status" table ("Status", "Direction",
	// "Percent", …); nil when not printed.
	Recovery map[string]string
}

var (
	mirrorStatusRE = regexp.MustCompile(`^(?i)mirror\s+status\s*:\s*(.*)$`)
	recoveryHdrRE  = regexp.MustCompile(`^(?i)recovery\s+status(\s+value)?$`)
	percentRE      = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*%$`)
)

// ParseMirror reads clpmdstat --mirror / --active output for one mirror
// disk. Errors name the line.
func ParseMirror(r io.Reader) (*Mirror, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, mdErr(err)
	}
	m := &Mirror{Rows: map[string][]string{}}
	var cols []int // start column of each server in the current table
	inTable, inRecovery := false, false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l.Text)
		if t == "" {
			inTable, inRecovery = false, false
			continue
		}
		if mm := mirrorStatusRE.FindStringSubmatch(t); mm != nil {
			if m.Status != "" {
				return nil, mdErrf(l.N, "second \"Mirror Status:\" line (one mirror disk per input)")
			}
			m.Status = strings.TrimSpace(mm[1])
			if m.Status == "" {
				return nil, mdErrf(l.N, "empty mirror status")
			}
			inTable, inRecovery = false, false
			continue
		}
		if dashesRE.MatchString(t) {
			if !inTable && !inRecovery {
				return nil, mdErrf(l.N, "separator line without a header line above it")
			}
			continue
		}
		next := ""
		if i+1 < len(lines) {
			next = strings.TrimSpace(lines[i+1].Text)
		}
		if dashesRE.MatchString(next) {
			// A header line.
			if recoveryHdrRE.MatchString(strings.Join(strings.Fields(t), " ")) {
				if m.Recovery != nil {
					return nil, mdErrf(l.N, "second Recovery Status table")
				}
				m.Recovery = map[string]string{}
				inRecovery, inTable = true, false
				continue
			}
			f := strings.Fields(t)
			if len(f) < 2 {
				return nil, mdErrf(l.N, "table header %q names no server", parseutil.Clip(t, 80))
			}
			if m.Name != "" && m.Name != f[0] {
				return nil, mdErrf(l.N, "tables of two mirror disks (%q and %q) in one input", m.Name, f[0])
			}
			if m.Servers != nil && strings.Join(m.Servers, " ") != strings.Join(f[1:], " ") {
				return nil, mdErrf(l.N, "server columns changed between tables: %v then %v", m.Servers, f[1:])
			}
			m.Name, m.Servers = f[0], f[1:]
			cols = headerColumns(l.Text, f)
			inTable, inRecovery = true, false
			continue
		}
		switch {
		case inRecovery:
			k := strings.IndexByte(t, ':')
			if k <= 0 {
				return nil, mdErrf(l.N, "expected \"Key: value\" in the Recovery Status table, got %q", parseutil.Clip(t, 80))
			}
			m.Recovery[strings.TrimSpace(t[:k])] = strings.TrimSpace(t[k+1:])
		case inTable:
			key, vals, err := splitRow(l.Text, cols, len(m.Servers))
			if err != nil {
				return nil, mdErrf(l.N, "%v", err)
			}
			if _, dup := m.Rows[key]; dup {
				return nil, mdErrf(l.N, "row %q appears twice", key)
			}
			m.Rows[key] = vals
		default:
			return nil, mdErrf(l.N, "unexpected line outside a table: %q", parseutil.Clip(t, 80))
		}
	}
	if m.Status == "" && len(m.Rows) == 0 {
		return nil, mdErrf(0, "no \"Mirror Status:\" line and no status table (empty output?)")
	}
	return m, nil
}

// mdErr reports a ParseError of the shared line reader as clpmdstat's.
func mdErr(err error) error {
	if pe, ok := err.(*ParseError); ok {
		return &ParseError{Tool: "clpmdstat", Line: pe.Line, Msg: pe.Msg}
	}
	return err
}

func mdErrf(line int, format string, a ...any) error {
	return parseutil.Errorf("clpmdstat", line, format, a...)
}

// headerColumns returns the start column of each server field of a header
// line whose fields are f (f[0] is the mirror disk name).
func headerColumns(s string, f []string) []int {
	cols := make([]int, 0, len(f)-1)
	pos := 0
	for i, w := range f {
		k := strings.Index(s[pos:], w)
		if k < 0 {
			return nil
		}
		if i > 0 {
			cols = append(cols, pos+k)
		}
		pos += k + len(w)
	}
	return cols
}

// splitRow splits a table row into its key and one value per server: by the
// header's columns when the row is aligned to them, else by runs of two or
// more blanks.
func splitRow(s string, cols []int, n int) (string, []string, error) {
	if len(cols) == n && n > 0 && len(s) > cols[0] && aligned(s, cols) {
		key := strings.TrimSpace(s[:cols[0]])
		vals := make([]string, n)
		for i := range cols {
			end := len(s)
			if i+1 < len(cols) && cols[i+1] < end {
				end = cols[i+1]
			}
			if cols[i] < len(s) {
				vals[i] = strings.TrimSpace(s[cols[i]:end])
			}
		}
		if key != "" && allSet(vals) {
			return key, vals, nil
		}
	}
	f := splitWide(strings.TrimSpace(s))
	if len(f) != n+1 {
		return "", nil, fmt.Errorf("row %q: want a name and %d values, got %d fields", parseutil.Clip(strings.TrimSpace(s), 80), n, len(f))
	}
	return f[0], f[1:], nil
}

func aligned(s string, cols []int) bool {
	for _, c := range cols {
		if c >= len(s) {
			return false
		}
		if c > 0 && !isBlank(s[c-1]) {
			return false
		}
	}
	return true
}

func allSet(v []string) bool {
	for _, x := range v {
		if x == "" {
			return false
		}
	}
	return true
}

// splitWide splits on runs of two or more blanks.
func splitWide(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if isBlank(s[i]) && i+1 < len(s) && isBlank(s[i+1]) {
			if f := strings.TrimSpace(s[start:i]); f != "" {
				out = append(out, f)
			}
			for i < len(s) && isBlank(s[i]) {
				i++
			}
			start = i
		}
	}
	if f := strings.TrimSpace(s[start:]); f != "" {
		out = append(out, f)
	}
	return out
}

// Row returns the values of a row, matching its name case-insensitively.
func (m *Mirror) Row(name string) ([]string, bool) {
	for k, v := range m.Rows {
		if strings.EqualFold(strings.Join(strings.Fields(k), " "), name) {
			return v, true
		}
	}
	return nil, false
}

// ClassifyMirrorStatus maps the "Mirror Status:" value:
//
//	Normal                          synced
//	Recovering                      syncing (mirror recovery copies data; no failover target until it ends)
//	Abnormal, Error, Pending,
//	No Construction                 out_of_sync (no up-to-date second copy; Pending needs an operator's
//	                                forced recovery, No Construction: the initial mirror was never built)
//	anything else                   unknown
func ClassifyMirrorStatus(s string) facts.SyncState {
	switch normState(s) {
	case "normal":
		return facts.SyncSynced
	case "recovering", "recovery":
		return facts.SyncSyncing
	case "abnormal", "error", "pending", "no construction", "failure":
		return facts.SyncOutOfSync
	}
	return facts.SyncUnknown
}

// ClassifyMirrorColor maps a server's "Mirror Color":
//
//	GREEN   synced        normal
//	YELLOW  syncing       mirror recovery in progress
//	RED     out_of_sync   this server's data is not up to date (error)
//	ORANGE  out_of_sync   pending: needs forced recovery, data may be inconsistent
//	BLUE    out_of_sync   active on both servers (split brain)
//	BLACK   out_of_sync   the mirror cannot be used on this server
//	GRAY    unknown       server stopped or its state cannot be obtained
//	other   unknown
func ClassifyMirrorColor(c string) facts.SyncState {
	switch strings.ToUpper(strings.TrimSpace(c)) {
	case "GREEN":
		return facts.SyncSynced
	case "YELLOW":
		return facts.SyncSyncing
	case "RED", "ORANGE", "BLUE", "BLACK":
		return facts.SyncOutOfSync
	}
	return facts.SyncUnknown
}

// Progress returns the recovery progress 0..1 from the Recovery Status
// table's "Percent" entry.
func (m *Mirror) Progress() (float64, bool) {
	if m.Recovery == nil {
		return 0, false
	}
	for k, v := range m.Recovery {
		if !strings.EqualFold(k, "Percent") {
			continue
		}
		pm := percentRE.FindStringSubmatch(strings.TrimSpace(v))
		if pm == nil {
			return 0, false
		}
		f, err := strconv.ParseFloat(pm[1], 64)
		if err != nil || f < 0 || f > 100 {
			return 0, false
		}
		return f / 100, true
	}
	return 0, false
}

// NodeFacts maps the mirror state onto the sync facts of each server column
// (keyed by the server names printed). Per server, the worse of the overall
// Mirror Status and that server's Mirror Color is taken (facts.WorseSync);
// a "Disk Error" other than OK/-- makes the server out_of_sync. While the
// state is syncing, SyncProgress is the recovery Percent when printed. With
// neither a status nor a color (--active output alone) no sync fact is
// produced. Roles do not come from clpmdstat (Active Status only says where
// the mirror is mounted); use clpstat for roles.
func (m *Mirror) NodeFacts() facts.Set {
	out := facts.Set{}
	overall := facts.SyncState("")
	if m.Status != "" {
		overall = ClassifyMirrorStatus(m.Status)
	}
	colors, hasColor := m.Row("Mirror Color")
	diskErr, hasDiskErr := m.Row("Disk Error")
	prog, hasProg := m.Progress()
	for i, srv := range m.Servers {
		s := overall
		if hasColor && i < len(colors) {
			s = facts.WorseSync(s, ClassifyMirrorColor(colors[i]))
		}
		if hasDiskErr && i < len(diskErr) {
			switch strings.ToUpper(diskErr[i]) {
			case "OK", "--", "-":
			default:
				s = facts.WorseSync(s, facts.SyncOutOfSync)
			}
		}
		if s == "" {
			continue
		}
		n := out.Node(srv)
		n.SyncState = s
		if s == facts.SyncSyncing && hasProg {
			n.SyncProgress = facts.Float(prog)
		}
	}
	return out
}
