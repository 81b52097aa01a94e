package clpstat

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

// MaxLineBytes bounds one line of input; longer lines are an error, not a
// silent truncation.
const MaxLineBytes = 64 * 1024

// TruncatedNameLen is the width at which the normal clpstat view cuts server,
// group and resource names ("container-recovery" prints as
// "container-recove"). --long prints full names.
const TruncatedNameLen = 16

// Status is everything read from one or more clpstat views.
type Status struct {
	Cluster string
	// Local is the server marked with `*` (the server clpstat ran on), ""
	// when no view marked one.
	Local    string
	Servers  []Server
	Groups   []Group
	Monitors []Resource
	// GroupMap is the `clpstat -g` view, nil when not in the input.
	GroupMap *GroupMap
	// HB is the `clpstat --hb` matrix, nil when not in the input.
	HB *HBMatrix
}

// Server is one server line of the CLUSTER STATUS view.
type Server struct {
	Name    string
	Local   bool
	State   string // as printed: Online, Offline, Caution, Suspension, Isolated, Unknown…
	Comment string // the optional comment column
	// Heartbeats are the heartbeat resources under the server (lankhb,
	// lanhb, diskhb, witnesshb, comhb, bmchb…): Normal, Caution, Error,
	// Unused, Offline, Unknown.
	Heartbeats []Resource
	// NP are the network-partition resolution resources (pingnp, httpnp,
	// majonp…) printed under the server.
	NP   []Resource
	Line int
}

// Group is one failover group of the CLUSTER STATUS view.
type Group struct {
	Name    string
	State   string // Online, Offline, Online Pending, Offline Pending, Online Failure, Offline Failure, Caution…
	Comment string
	// Current is the server the group is on; "" when clpstat printed None.
	Current   string
	Resources []Resource // group resources: fip, md, disk, exec…
	Line      int
}

// Resource is a heartbeat, group resource or monitor resource line.
type Resource struct {
	Name    string
	State   string
	Comment string // comment column, or the heartbeat type ("Kernel Mode LAN Heartbeat")
	Line    int
}

// GroupMap is the `clpstat -g` view.
type GroupMap struct {
	Servers []MapServer
}

// MapServer is one row of the group map.
type MapServer struct {
	Index  string // "server0"
	Name   string // "116rhel94"
	Local  bool
	Mark   string // o, x, -… as printed
	Groups []MapGroup
}

// MapGroup is one `group[mark]` entry of the group map.
type MapGroup struct {
	Name string
	Mark string // o online, e error, p pending… as printed
}

// HBMatrix is the `clpstat --hb` view: for each server's point of view
// ("[on serverN : State]"), which heartbeat reaches which server.
type HBMatrix struct {
	Servers    map[string]string // "server0" -> server name
	Local      string            // server name marked `*`
	Heartbeats map[string]string // "HB0" / "0" -> heartbeat resource name
	Views      []HBView
}

// HBView is one "[on serverN : State]" block.
type HBView struct {
	On      string // server name (resolved from the index when possible)
	OnState string
	// Rows maps a server name to its marks, one per heartbeat column:
	// o reachable, x unreachable, - not used / unknown.
	Rows map[string][]string
	Line int
}

// ParseError is a malformed-input error with the line it was found on
// ("clpstat: line N: …", or "clpmdstat: …" from ParseMirror).
type ParseError = parseutil.LineError

func errf(line int, format string, a ...any) error {
	return parseutil.Errorf("clpstat", line, format, a...)
}

var (
	frameOpenRE  = regexp.MustCompile(`^\s*=+\s+(\S.*?)\s+=+\s*$`)
	frameCloseRE = regexp.MustCompile(`^\s*=+\s*$`)
	sectionRE    = regexp.MustCompile(`^\s*<([^<>]+)>\s*$`)
	mapRowRE     = regexp.MustCompile(`^(\*?)(\S+)\s*\[(.)\]\s*:(.*)$`)
	mapGroupRE   = regexp.MustCompile(`^(\S+?)\[(.)\]$`)
	hbOnRE       = regexp.MustCompile(`^\[on\s+(\S+)\s*:\s*(.*?)\s*\]$`)
	dashesRE     = regexp.MustCompile(`^-{4,}$`)
)

// line is one input line with its 1-based number (CR and trailing spaces
// removed).
type line = parseutil.Line

func readLines(r io.Reader) ([]line, error) {
	return parseutil.ReadLines(r, "clpstat", MaxLineBytes)
}

// Parse reads clpstat output: one or more framed views (CLUSTER STATUS,
// GROUPMAP INFORMATION, HEARTBEAT RESOURCE STATUS). Blank lines between
// frames are allowed; any other text outside a frame, an unknown frame, an
// unterminated frame or a malformed line is an error naming the line.
func Parse(r io.Reader) (*Status, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	st := &Status{}
	frames := 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l.Text) == "" {
			continue
		}
		m := frameOpenRE.FindStringSubmatch(l.Text)
		if m == nil {
			return nil, errf(l.N, "expected a clpstat frame title such as \" ===  CLUSTER STATUS  ===\", got %q", parseutil.Clip(l.Text, 80))
		}
		title := strings.Join(strings.Fields(m[1]), " ")
		end := -1
		for j := i + 1; j < len(lines); j++ {
			if frameCloseRE.MatchString(lines[j].Text) {
				end = j
				break
			}
			if frameOpenRE.MatchString(lines[j].Text) {
				return nil, errf(lines[j].N, "frame %q opened on line %d is not closed before the next frame", title, l.N)
			}
		}
		if end < 0 {
			return nil, errf(l.N, "frame %q is not closed (missing the closing ===== line; truncated output?)", title)
		}
		body := lines[i+1 : end]
		switch strings.ToUpper(title) {
		case "CLUSTER STATUS":
			err = st.parseClusterStatus(body, l.N)
		case "GROUPMAP INFORMATION":
			err = st.parseGroupMap(body, l.N)
		case "HEARTBEAT RESOURCE STATUS":
			err = st.parseHB(body, l.N)
		default:
			err = errf(l.N, "unsupported clpstat view %q (supported: CLUSTER STATUS, GROUPMAP INFORMATION, HEARTBEAT RESOURCE STATUS)", title)
		}
		if err != nil {
			return nil, err
		}
		frames++
		i = end
	}
	if frames == 0 {
		return nil, errf(0, "no clpstat frame in the input (empty output?)")
	}
	return st, nil
}

// nameColumn returns the column of the first character of the name on an
// entity line (after indentation and the local-server `*`), and whether the
// `*` was present.
func nameColumn(s string) (int, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i < len(s) && s[i] == '*' {
		return i + 1, true
	}
	return i, false
}

// splitEntity splits "name ....: State   comment" into its parts.
func splitEntity(s string, n int) (name, state, comment string, err error) {
	col, _ := nameColumn(s)
	rest := s[col:]
	k := strings.IndexByte(rest, ':')
	if k < 0 {
		return "", "", "", errf(n, "expected \"name : state\", got %q", parseutil.Clip(strings.TrimSpace(s), 80))
	}
	name = cleanName(rest[:k])
	if name == "" {
		return "", "", "", errf(n, "empty name before ':' in %q", parseutil.Clip(strings.TrimSpace(s), 80))
	}
	state, comment = splitState(rest[k+1:])
	return name, state, comment, nil
}

// cleanName removes the dot padding: "server1 ........." -> "server1". Dots
// that are part of the name (not preceded by a space) are kept.
func cleanName(s string) string {
	s = strings.TrimRight(s, " \t")
	t := strings.TrimRight(s, ".")
	if t != s && (t == "" || t[len(t)-1] == ' ' || t[len(t)-1] == '\t') {
		s = t
	}
	return strings.TrimSpace(s)
}

// splitState splits the value column into the state (up to the first run of
// two or more blanks) and the rest (comment / heartbeat type / annotation).
func splitState(v string) (state, comment string) {
	v = strings.TrimSpace(v)
	for i := 0; i+1 < len(v); i++ {
		if isBlank(v[i]) && isBlank(v[i+1]) {
			return v[:i], strings.TrimSpace(v[i:])
		}
	}
	return v, ""
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' }

func (st *Status) setLocal(name string, n int) error {
	if st.Local != "" && st.Local != name {
		return errf(n, "two servers marked local with '*': %q and %q", st.Local, name)
	}
	st.Local = name
	return nil
}

func (st *Status) setCluster(name string, n int) error {
	if name == "" {
		return errf(n, "empty cluster name")
	}
	if st.Cluster != "" && st.Cluster != name {
		return errf(n, "views of different clusters in one input: %q and %q", st.Cluster, name)
	}
	st.Cluster = name
	return nil
}

// parseClusterStatus reads the body of a CLUSTER STATUS frame.
func (st *Status) parseClusterStatus(body []line, open int) error {
	if len(st.Servers) > 0 || len(st.Groups) > 0 {
		return errf(open, "a second CLUSTER STATUS view in one input")
	}
	section := ""
	entityCol := -1
	var curServer *Server
	var curGroup *Group
	for _, l := range body {
		t := strings.TrimSpace(l.Text)
		if t == "" {
			continue
		}
		if m := sectionRE.FindStringSubmatch(l.Text); m != nil {
			section = strings.ToLower(strings.TrimSpace(m[1]))
			entityCol = -1
			curServer, curGroup = nil, nil
			continue
		}
		if section == "" {
			name, value, _, err := splitEntity(l.Text, l.N)
			if err != nil {
				return err
			}
			if !strings.EqualFold(name, "Cluster") {
				return errf(l.N, "expected \"Cluster : <name>\" before the first <server> section, got %q", parseutil.Clip(t, 80))
			}
			if err := st.setCluster(value, l.N); err != nil {
				return err
			}
			continue
		}
		col, local := nameColumn(l.Text)
		if entityCol < 0 {
			entityCol = col
		}
		name, state, comment, err := splitEntity(l.Text, l.N)
		if err != nil {
			return err
		}
		if state == "" {
			return errf(l.N, "%q has an empty state", name)
		}
		sub := col > entityCol
		if !sub && col < entityCol {
			return errf(l.N, "line is indented less than the %s entries above it", section)
		}
		switch section {
		case "server":
			if !sub {
				st.Servers = append(st.Servers, Server{Name: name, Local: local, State: state, Comment: comment, Line: l.N})
				curServer = &st.Servers[len(st.Servers)-1]
				if local {
					if err := st.setLocal(name, l.N); err != nil {
						return err
					}
				}
				continue
			}
			if curServer == nil {
				return errf(l.N, "heartbeat line %q before any server", name)
			}
			res := Resource{Name: name, State: state, Comment: comment, Line: l.N}
			if isNP(res) {
				curServer.NP = append(curServer.NP, res)
			} else {
				curServer.Heartbeats = append(curServer.Heartbeats, res)
			}
		case "group":
			if !sub {
				st.Groups = append(st.Groups, Group{Name: name, State: state, Comment: comment, Line: l.N})
				curGroup = &st.Groups[len(st.Groups)-1]
				continue
			}
			if curGroup == nil {
				return errf(l.N, "group resource line %q before any group", name)
			}
			if strings.EqualFold(name, "current") {
				if !strings.EqualFold(state, "None") {
					curGroup.Current = state
				}
				continue
			}
			curGroup.Resources = append(curGroup.Resources, Resource{Name: name, State: state, Comment: comment, Line: l.N})
		case "monitor":
			if sub {
				return errf(l.N, "unexpected indented line under <monitor>: %q", parseutil.Clip(t, 80))
			}
			st.Monitors = append(st.Monitors, Resource{Name: name, State: state, Comment: comment, Line: l.N})
		default:
			// A section this parser does not know (a newer version's
			// addition): its lines are well-formed "name : state" lines,
			// kept nowhere. The known sections are still authoritative.
		}
	}
	if len(st.Servers) == 0 {
		return errf(open, "CLUSTER STATUS view lists no server")
	}
	return nil
}

var npNameRE = regexp.MustCompile(`(?i)np\d*$`)

// isNP tells network-partition resolution resources (pingnp1, httpnp1,
// majonp, "ping resolution") from heartbeats.
func isNP(r Resource) bool {
	c := strings.ToLower(r.Comment)
	if strings.Contains(c, "heartbeat") {
		return false
	}
	return strings.Contains(c, "resolution") || npNameRE.MatchString(r.Name)
}

// parseGroupMap reads the body of a GROUPMAP INFORMATION frame.
func (st *Status) parseGroupMap(body []line, open int) error {
	if st.GroupMap != nil {
		return errf(open, "a second GROUPMAP INFORMATION view in one input")
	}
	gm := &GroupMap{}
	names := map[string]string{}
	var locals = map[string]bool{}
	table := false
	for _, l := range body {
		t := strings.TrimSpace(l.Text)
		if t == "" {
			continue
		}
		if dashesRE.MatchString(t) {
			table = true
			continue
		}
		if !table {
			name, value, _, err := splitEntity(l.Text, l.N)
			if err != nil {
				return err
			}
			_, local := nameColumn(l.Text)
			if strings.EqualFold(name, "Cluster") && !local {
				if err := st.setCluster(value, l.N); err != nil {
					return err
				}
				continue
			}
			if value == "" {
				return errf(l.N, "server index %q without a server name", name)
			}
			names[name] = value
			if local {
				locals[name] = true
				if err := st.setLocal(value, l.N); err != nil {
					return err
				}
			}
			continue
		}
		m := mapRowRE.FindStringSubmatch(t)
		if m == nil {
			return errf(l.N, "expected \"serverN [o] : group[o] …\", got %q", parseutil.Clip(t, 80))
		}
		row := MapServer{Index: m[2], Mark: m[3], Local: m[1] == "*" || locals[m[2]]}
		row.Name = names[m[2]]
		if row.Name == "" {
			row.Name = m[2]
		}
		for _, tok := range strings.Fields(m[4]) {
			g := mapGroupRE.FindStringSubmatch(tok)
			if g == nil {
				return errf(l.N, "expected \"group[mark]\", got %q", parseutil.Clip(tok, 80))
			}
			row.Groups = append(row.Groups, MapGroup{Name: g[1], Mark: g[2]})
		}
		gm.Servers = append(gm.Servers, row)
	}
	if len(gm.Servers) == 0 {
		return errf(open, "GROUPMAP INFORMATION view has no server rows")
	}
	st.GroupMap = gm
	return nil
}

// parseHB reads the body of a HEARTBEAT RESOURCE STATUS frame.
func (st *Status) parseHB(body []line, open int) error {
	if st.HB != nil {
		return errf(open, "a second HEARTBEAT RESOURCE STATUS view in one input")
	}
	hb := &HBMatrix{Servers: map[string]string{}, Heartbeats: map[string]string{}}
	var view *HBView
	for _, l := range body {
		t := strings.TrimSpace(l.Text)
		if t == "" || dashesRE.MatchString(t) {
			continue
		}
		if m := hbOnRE.FindStringSubmatch(t); m != nil {
			on := m[1]
			if n, ok := hb.Servers[on]; ok {
				on = n
			}
			hb.Views = append(hb.Views, HBView{On: on, OnState: m[2], Rows: map[string][]string{}, Line: l.N})
			view = &hb.Views[len(hb.Views)-1]
			continue
		}
		if view != nil {
			f := strings.Fields(t)
			if len(f) > 0 && strings.EqualFold(f[0], "HB") {
				continue // column header "HB 0 1 2"
			}
			k := strings.IndexByte(t, ':')
			if k < 0 {
				return errf(l.N, "expected \"serverN : o x -\" in the heartbeat matrix, got %q", parseutil.Clip(t, 80))
			}
			srv := strings.TrimSpace(t[:k])
			if n, ok := hb.Servers[srv]; ok {
				srv = n
			}
			marks := strings.Fields(t[k+1:])
			for _, mk := range marks {
				if len(mk) != 1 {
					return errf(l.N, "heartbeat mark %q is not a single character", parseutil.Clip(mk, 80))
				}
			}
			if srv == "" || len(marks) == 0 {
				return errf(l.N, "empty heartbeat matrix row %q", parseutil.Clip(t, 80))
			}
			view.Rows[srv] = marks
			continue
		}
		name, value, _, err := splitEntity(l.Text, l.N)
		if err != nil {
			return err
		}
		_, local := nameColumn(l.Text)
		switch {
		case strings.EqualFold(name, "Cluster") && !local:
			if err := st.setCluster(value, l.N); err != nil {
				return err
			}
		case strings.HasPrefix(strings.ToUpper(name), "HB"):
			hb.Heartbeats[strings.TrimPrefix(strings.ToUpper(name), "HB")] = value
		default:
			if value == "" {
				return errf(l.N, "server index %q without a server name", name)
			}
			hb.Servers[name] = value
			if local {
				hb.Local = value
				if err := st.setLocal(value, l.N); err != nil {
					return err
				}
			}
		}
	}
	if len(hb.Views) == 0 {
		return errf(open, "HEARTBEAT RESOURCE STATUS view has no \"[on server : state]\" block")
	}
	st.HB = hb
	return nil
}

// NameMatches reports whether a name printed by clpstat denotes full: equal,
// or printed is the 16-character truncation of full (normal view).
func NameMatches(printed, full string) bool {
	if printed == full {
		return true
	}
	return len(printed) == TruncatedNameLen && len(full) > TruncatedNameLen && strings.HasPrefix(full, printed)
}

// Group returns the group called name (tolerating the 16-character
// truncation of the normal view).
func (st *Status) Group(name string) (*Group, bool) {
	for i := range st.Groups {
		if NameMatches(st.Groups[i].Name, name) {
			return &st.Groups[i], true
		}
	}
	return nil, false
}

// Server returns the server called name (tolerating truncation).
func (st *Status) Server(name string) (*Server, bool) {
	for i := range st.Servers {
		if NameMatches(st.Servers[i].Name, name) {
			return &st.Servers[i], true
		}
	}
	return nil, false
}

// Unhealthy lists the monitor resources, group resources and heartbeats
// whose state is not healthy (Error, Warning, Caution, Online/Offline
// Failure, or a state outside the vocabulary), as "kind name: State" texts
// in output order. Offline/Suspend monitors and Unused heartbeats are not
// listed (they are stopped on purpose).
func (st *Status) Unhealthy() []string {
	var out []string
	for _, s := range st.Servers {
		for _, h := range s.Heartbeats {
			if c := ClassifyHeartbeat(h.State); c == HBError || c == HBCaution || c == HBUnknown {
				out = append(out, fmt.Sprintf("heartbeat %s on %s: %s", h.Name, s.Name, h.State))
			}
		}
	}
	for _, g := range st.Groups {
		for _, r := range g.Resources {
			if c := ClassifyGroup(r.State); c == GroupFailed || c == GroupUnknown {
				out = append(out, fmt.Sprintf("resource %s of %s: %s", r.Name, g.Name, r.State))
			}
		}
	}
	for _, m := range st.Monitors {
		if c := ClassifyMonitor(m.State); c == MonitorError || c == MonitorWarning || c == MonitorUnknown {
			out = append(out, fmt.Sprintf("monitor %s: %s", m.Name, m.State))
		}
	}
	return out
}

// normState lower-cases and collapses blanks: "Online  Pending" -> "online pending".
func normState(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}
