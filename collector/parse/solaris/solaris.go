// Package solaris parses Oracle Solaris Cluster / Sun Cluster status output
// and maps it onto the shared fact vocabulary (collector/facts):
//
//   - the 3.2+ object CLI: `clresourcegroup status` (clrg), `clresource
//     status` (clrs), `clnode status`, `clinterconnect status` (clintr),
//     `clquorum status`, and `cluster status`, which prints all of these;
//   - the legacy Sun Cluster 3.x `scstat` (all sections) and `scstat -g`
//     (resource groups and resources), with their labelled rows
//     ("Cluster node:", "Group:", "Resource:", "Transport path:", …).
//
// Several outputs may be concatenated into one input (the collector runs
// e.g. `clnode status; clrg status; clrs status`): Parse reads every
// section it recognises and skips tables it does not know (device groups,
// IPMP, zone clusters). Header lines may lack the leading "=== " (as in
// some transcriptions). See NodeFacts for the mapping.
package solaris

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

// MaxLineBytes bounds one line of input.
const MaxLineBytes = 64 * 1024

// Status is everything read from the input.
type Status struct {
	Nodes     []NodeStatus     // clnode status, scstat "Cluster node:"
	Groups    []GroupStatus    // clrg status, scstat "Group:"
	Resources []ResourceStatus // clrs status, scstat "Resource:"
	Paths     []TransportPath  // clintr status, scstat "Transport path:"
	Quorum    *Quorum          // clquorum status, scstat quorum sections
	// GroupResources maps a resource group to its resources (scstat
	// "Resources:" rows).
	GroupResources map[string][]string
}

// NodeStatus is a cluster node's membership status (Online / Offline).
type NodeStatus struct {
	Name   string
	Status string
	Line   int
}

// GroupStatus is one (resource group, node) row.
type GroupStatus struct {
	Group  string
	Node   string
	Status string // Online, Offline, Pending_online, Pending_offline, Online_faulted, Error--stop failed, Unmanaged…
	// Suspended is the "Suspended" column (clrg suspend: no automatic
	// recovery or failover); nil when the output has no such column.
	Suspended *bool
	Line      int
}

// ResourceStatus is one (resource, node) row.
type ResourceStatus struct {
	Resource string
	Node     string
	State    string // Online, Offline, Start_failed, Stop_failed, Monitor_failed, Online_not_monitored, Starting, Stopping…
	Message  string // "Online - Service is online.", "Faulted - …", "Degraded - …"
	Line     int
}

// TransportPath is one interconnect path.
type TransportPath struct {
	Endpoint1, Endpoint2 string // node:adapter
	Status               string // Path online, Path faulted, waiting…
	Line                 int
}

// Quorum is the quorum summary and votes.
type Quorum struct {
	Needed, Present, Possible int
	NodeVotes                 []Vote
	DeviceVotes               []Vote
}

// Vote is one quorum vote row.
type Vote struct {
	Name              string
	Present, Possible int
	Status            string
	Line              int
}

// ParseError is a malformed-input error with its line
// ("solaris cluster status: line N: …").
type ParseError = parseutil.LineError

func errf(line int, format string, a ...any) error {
	return parseutil.Errorf("solaris cluster status", line, format, a...)
}

var (
	// "=== Cluster Resource Groups ===", or the same without the leading
	// "=== " as some transcriptions have it.
	sectionRE    = regexp.MustCompile(`^(?:=+\s+)?(\S.*?)\s+=+$`)
	subsectionRE = regexp.MustCompile(`^-{2,3}\s+(\S.*?)\s+-{2,3}$`)
	dashRowRE    = regexp.MustCompile(`^-+(\s+-+)*$`)
	labelRE      = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z -]*?):\s+(\S.*)$`)
)

// table kinds
type kind int

const (
	kNone kind = iota
	kUnknown
	kNodes
	kGroups
	kResources
	kPaths
	kQuorumSummary
	kNodeVotes
	kDeviceVotes
)

// line is one input line with its 1-based number (CR and trailing spaces
// removed).
type line = parseutil.Line

func readLines(r io.Reader) ([]line, error) {
	return parseutil.ReadLines(r, "solaris cluster status", MaxLineBytes)
}

// Parse reads Solaris Cluster status output. It fails when no known
// section or row is found, or when a row of a known table is malformed
// (naming the line).
func Parse(r io.Reader) (*Status, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	st := &Status{}
	recognised := false
	tbl := kNone
	hasSuspended := false
	prevName := "" // group / resource name for continuation rows
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l.Text)
		if t == "" {
			continue
		}
		// scstat labelled rows are self-describing.
		if ok, err := st.labelled(l); ok || err != nil {
			if err != nil {
				return nil, err
			}
			recognised = true
			continue
		}
		if dashRowRE.MatchString(t) {
			continue // scstat separators, or a dash row already consumed
		}
		// A header: a line followed by a row of dashes.
		if i+1 < len(lines) && dashRowRE.MatchString(strings.TrimSpace(lines[i+1].Text)) {
			tbl, hasSuspended = headerKind(t)
			prevName = ""
			if tbl == kQuorumSummary && st.Quorum == nil {
				st.Quorum = &Quorum{}
			}
			i++
			continue
		}
		if subsectionRE.MatchString(t) || (sectionRE.MatchString(t) && !strings.Contains(t, ":")) {
			tbl = kNone
			prevName = ""
			continue
		}
		cont := l.Text[0] == ' ' || l.Text[0] == '\t'
		f := strings.Fields(t)
		switch tbl {
		case kNone, kUnknown:
			// Text outside a known table (summaries, unknown sections).
			continue
		case kNodes:
			if len(f) < 2 {
				return nil, errf(l.N, "node status row %q: want a node name and a status", parseutil.Clip(t, 80))
			}
			st.Nodes = append(st.Nodes, NodeStatus{Name: f[0], Status: strings.Join(f[1:], " "), Line: l.N})
		case kGroups:
			if !cont {
				prevName, f = f[0], f[1:]
			}
			if prevName == "" {
				return nil, errf(l.N, "resource group row %q continues no group", parseutil.Clip(t, 80))
			}
			want := 2
			if hasSuspended {
				want = 3
			}
			if len(f) < want {
				return nil, errf(l.N, "resource group row %q: want node, %sstatus", parseutil.Clip(t, 80), map[bool]string{true: "suspended, "}[hasSuspended])
			}
			g := GroupStatus{Group: prevName, Node: f[0], Line: l.N}
			rest := f[1:]
			if hasSuspended {
				b, err := yesNo(rest[0])
				if err != nil {
					return nil, errf(l.N, "resource group row %q: Suspended %v", parseutil.Clip(t, 80), err)
				}
				g.Suspended = &b
				rest = rest[1:]
			}
			g.Status = strings.Join(rest, " ")
			st.Groups = append(st.Groups, g)
		case kResources:
			if !cont {
				prevName, f = f[0], f[1:]
			}
			if prevName == "" {
				return nil, errf(l.N, "resource row %q continues no resource", parseutil.Clip(t, 80))
			}
			if len(f) < 2 {
				return nil, errf(l.N, "resource row %q: want node, state [, status message]", parseutil.Clip(t, 80))
			}
			st.Resources = append(st.Resources, ResourceStatus{Resource: prevName, Node: f[0], State: f[1], Message: strings.Join(f[2:], " "), Line: l.N})
		case kPaths:
			if len(f) < 3 {
				return nil, errf(l.N, "transport path row %q: want two endpoints and a status", parseutil.Clip(t, 80))
			}
			st.Paths = append(st.Paths, TransportPath{Endpoint1: f[0], Endpoint2: f[1], Status: strings.Join(f[2:], " "), Line: l.N})
		case kQuorumSummary:
			if len(f) != 3 {
				return nil, errf(l.N, "quorum summary row %q: want needed, present, possible", parseutil.Clip(t, 80))
			}
			var v [3]int
			for k := range v {
				n, err := strconv.Atoi(f[k])
				if err != nil || n < 0 {
					return nil, errf(l.N, "quorum summary row %q: %q is not a vote count", parseutil.Clip(t, 80), f[k])
				}
				v[k] = n
			}
			st.Quorum.Needed, st.Quorum.Present, st.Quorum.Possible = v[0], v[1], v[2]
		case kNodeVotes, kDeviceVotes:
			v, err := voteRow(f, l.N)
			if err != nil {
				return nil, err
			}
			if st.Quorum == nil {
				st.Quorum = &Quorum{}
			}
			if tbl == kNodeVotes {
				st.Quorum.NodeVotes = append(st.Quorum.NodeVotes, v)
			} else {
				st.Quorum.DeviceVotes = append(st.Quorum.DeviceVotes, v)
			}
		}
		recognised = true
	}
	if !recognised {
		return nil, errf(0, "no Solaris Cluster status table or scstat row in the input (empty or unsupported output)")
	}
	return st, nil
}

func yesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither Yes nor No", s)
}

func voteRow(f []string, n int) (Vote, error) {
	if len(f) < 4 {
		return Vote{}, errf(n, "quorum vote row %q: want name, present, possible, status", parseutil.Clip(strings.Join(f, " "), 80))
	}
	p, err1 := strconv.Atoi(f[1])
	q, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || p < 0 || q < 0 {
		return Vote{}, errf(n, "quorum vote row %q: present/possible are not vote counts", parseutil.Clip(strings.Join(f, " "), 80))
	}
	return Vote{Name: f[0], Present: p, Possible: q, Status: strings.Join(f[3:], " "), Line: n}, nil
}

// headerKind identifies an object-CLI table by its column names.
func headerKind(h string) (kind, bool) {
	x := strings.ToLower(strings.Join(strings.Fields(h), " "))
	switch {
	case strings.HasPrefix(x, "group name node name"):
		return kGroups, strings.Contains(x, "suspended")
	case strings.HasPrefix(x, "resource name node name"):
		return kResources, false
	case x == "node name present possible status":
		return kNodeVotes, false
	case x == "device name present possible status":
		return kDeviceVotes, false
	case x == "node name status":
		return kNodes, false
	case x == "endpoint1 endpoint2 status", x == "endpoint endpoint status":
		return kPaths, false
	case x == "needed present possible":
		return kQuorumSummary, false
	}
	return kUnknown, false
}

// labelled parses a scstat row ("  Cluster node:  name  Online"). It
// reports false for lines that are not scstat rows.
func (st *Status) labelled(l line) (bool, error) {
	m := labelRE.FindStringSubmatch(l.Text)
	if m == nil {
		return false, nil
	}
	label := strings.ToLower(strings.Join(strings.Fields(m[1]), " "))
	f := strings.Fields(m[2])
	bad := func(what string) error {
		return errf(l.N, "scstat %q row %q: want %s", m[1], parseutil.Clip(strings.TrimSpace(l.Text), 80), what)
	}
	switch label {
	case "cluster node":
		if len(f) < 2 {
			return true, bad("node name and status")
		}
		st.Nodes = append(st.Nodes, NodeStatus{Name: f[0], Status: strings.Join(f[1:], " "), Line: l.N})
	case "transport path":
		if len(f) < 3 {
			return true, bad("two endpoints and a status")
		}
		st.Paths = append(st.Paths, TransportPath{Endpoint1: f[0], Endpoint2: f[1], Status: strings.Join(f[2:], " "), Line: l.N})
	case "quorum votes possible", "quorum votes needed", "quorum votes present":
		if len(f) != 1 {
			return true, bad("one vote count")
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 {
			return true, bad("a vote count")
		}
		if st.Quorum == nil {
			st.Quorum = &Quorum{}
		}
		switch label {
		case "quorum votes possible":
			st.Quorum.Possible = n
		case "quorum votes needed":
			st.Quorum.Needed = n
		default:
			st.Quorum.Present = n
		}
	case "node votes", "device votes":
		v, err := voteRow(f, l.N)
		if err != nil {
			return true, err
		}
		if st.Quorum == nil {
			st.Quorum = &Quorum{}
		}
		if label == "node votes" {
			st.Quorum.NodeVotes = append(st.Quorum.NodeVotes, v)
		} else {
			st.Quorum.DeviceVotes = append(st.Quorum.DeviceVotes, v)
		}
	case "group":
		// "Group: MAIL-RG  mars  Online  [No]" (3.2 adds Suspended).
		if len(f) < 3 {
			return true, bad("group, node, state [, suspended]")
		}
		g := GroupStatus{Group: f[0], Node: f[1], Line: l.N}
		rest := f[2:]
		if len(rest) > 1 {
			if b, err := yesNo(rest[len(rest)-1]); err == nil {
				g.Suspended = &b
				rest = rest[:len(rest)-1]
			}
		}
		g.Status = strings.Join(rest, " ")
		st.Groups = append(st.Groups, g)
	case "resources":
		if len(f) < 1 {
			return true, bad("a group and its resources")
		}
		if st.GroupResources == nil {
			st.GroupResources = map[string][]string{}
		}
		st.GroupResources[f[0]] = append(st.GroupResources[f[0]], f[1:]...)
	case "resource":
		if len(f) < 3 {
			return true, bad("resource, node, state [, status message]")
		}
		st.Resources = append(st.Resources, ResourceStatus{Resource: f[0], Node: f[1], State: f[2], Message: strings.Join(f[3:], " "), Line: l.N})
	case "device group servers", "device group status", "multi-owner device group", "multi-owner device groups", "ipmp group":
		// Known scstat rows the mapping does not use.
	default:
		return false, nil
	}
	return true, nil
}
