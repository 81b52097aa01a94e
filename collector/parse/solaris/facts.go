package solaris

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

// Options selects what NodeFacts maps.
type Options struct {
	// Group is the mail resource group (e.g. MAIL-RG). Required.
	Group string
	// Storage names the HAStoragePlus (or HAStorage) resources of the
	// group whose state is the cluster's "sync" fact. Status output does
	// not print resource types: list the names here, or get them with
	// `clresource list -g MAIL-RG -t SUNW.HAStoragePlus` (one name per
	// line; see ParseList). Empty: no sync facts.
	Storage []string
	// Local is the node the exporter runs on; PeerUp is reported for it
	// only. Empty: no PeerUp.
	Local string
}

// RGClass is what a resource group status means.
type RGClass int

// Resource group classes.
const (
	RGUnknown       RGClass = iota // not in the vocabulary
	RGOnline                       // Online
	RGOnlineFaulted                // Online_faulted: online, a resource has faulted
	RGOffline                      // Offline
	RGPending                      // Pending_online, Pending_offline, Pending_online_blocked
	RGStopFailed                   // Error--stop failed (ERROR_STOP_FAILED)
	RGUnmanaged                    // Unmanaged
	RGNotOnline                    // Not_online
)

// normState folds the spellings of the CLI and scstat: "Error--stop
// failed", "ERROR_STOP_FAILED" and "Error_stop_failed" all give
// "error_stop_failed"; "Pending online" gives "pending_online".
func normState(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.NewReplacer("--", "_", "-", "_", " ", "_", "\t", "_").Replace(s)
	for strings.Contains(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	return s
}

// ClassifyRG maps a resource group status (RG_state, clresourcegroup(1CL)).
func ClassifyRG(status string) RGClass {
	switch normState(status) {
	case "online":
		return RGOnline
	case "online_faulted":
		return RGOnlineFaulted
	case "offline":
		return RGOffline
	case "pending_online", "pending_offline", "pending_online_blocked":
		return RGPending
	case "error_stop_failed":
		return RGStopFailed
	case "unmanaged":
		return RGUnmanaged
	case "not_online":
		return RGNotOnline
	}
	return RGUnknown
}

// NodeClass is a node's membership status.
type NodeClass int

// Node classes.
const (
	NodeUnknown NodeClass = iota
	NodeOnline
	NodeOffline
)

// ClassifyNode maps clnode / scstat node status.
func ClassifyNode(status string) NodeClass {
	switch normState(status) {
	case "online":
		return NodeOnline
	case "offline":
		return NodeOffline
	}
	return NodeUnknown
}

// StorageSync maps the state and status message of a storage resource
// (HAStoragePlus) on one node to a sync state:
//
//	Online or Online_not_monitored, message not Faulted/Degraded/Unknown  synced (storage available)
//	Starting, Stopping, message Unknown, state not in the vocabulary      unknown
//	Start_failed, Stop_failed, Monitor_failed, Detached, message
//	Faulted or Degraded                                                   out_of_sync
//	Offline                                                               out_of_sync (not mounted; NodeFacts
//	                                                                      ignores it on standby nodes)
func StorageSync(state, message string) facts.SyncState {
	msg := strings.ToLower(strings.TrimSpace(message))
	switch {
	case strings.HasPrefix(msg, "faulted"), strings.HasPrefix(msg, "degraded"):
		return facts.SyncOutOfSync
	}
	switch normState(state) {
	case "online", "online_not_monitored":
		if strings.HasPrefix(msg, "unknown") {
			return facts.SyncUnknown
		}
		return facts.SyncSynced
	case "start_failed", "stop_failed", "monitor_failed", "detached":
		return facts.SyncOutOfSync
	case "offline":
		return facts.SyncOutOfSync
	}
	return facts.SyncUnknown
}

// NodeFacts maps the status onto node facts for the nodes of the resource
// group o.Group (the nodes its status rows name: its node list). As a Sun
// Cluster administrator reads clrg/clrs/clnode status:
//
// Roles, per (group, node) row:
//
//   - node Offline in clnode/scstat (or its quorum vote Offline): offline.
//   - Online: active. Online_faulted (online, a resource faulted; RGM may
//     be about to restart or fail it over): still active — the node holds
//     the logical host — with the status as RoleCause; the service probes
//     tell whether mail works.
//   - Offline on a node known to be Online: standby. Offline on a node
//     whose membership is not in the input: unknown (a dead node's row
//     also reads Offline; run clnode status / full scstat with clrg).
//   - Pending_online / Pending_offline / Pending_online_blocked (switchover
//     or failover in progress): unknown, with the status as cause.
//   - Error--stop failed: unknown — the group failed to stop there, its
//     resources may still be held, an operator must `clrg clear` it; the
//     node is neither serving nor a safe standby.
//   - Unmanaged, Not_online, or a status not in the vocabulary: unknown.
//
// Redundancy: Suspended Yes (clrg suspend: no automatic failover) or
// Unmanaged → RedundancyEnabled false; Suspended No → true; no Suspended
// column → not reported.
//
// PeerUp (for o.Local only, towards the other nodes of the group): any
// transport path between the two "Path online" → true, paths listed but
// none online → false; without paths, the peer's membership (Online →
// true, Offline → false).
//
// Sync (o.Storage): for a shared-storage cluster the "sync" fact is the
// health of the storage the mail store lives on. On the node where the
// group is active, the worst StorageSync of the storage resources (Offline
// there counts as out_of_sync: the mail store is not mounted where mail
// runs). On other nodes, healthy Offline storage is synced (the storage is
// shared: the node can take over with nothing to copy), and failures are
// out_of_sync (Stop_failed on a standby blocks the next switchover). Every
// node of the group thus keeps its storage fact across switchovers, so a
// switchover does not make a fact vanish. A storage resource that has no
// row at all is an error.
func (s *Status) NodeFacts(o Options) (facts.Set, error) {
	if o.Group == "" {
		return nil, fmt.Errorf("solaris cluster status: no resource group given")
	}
	var rows []GroupStatus
	for _, g := range s.Groups {
		if g.Group == o.Group {
			rows = append(rows, g)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("solaris cluster status: resource group %q not in the output (groups: %s)", o.Group, strings.Join(s.groupNames(), ", "))
	}
	membership := s.membership()
	out := facts.Set{}
	active := map[string]bool{}
	for _, r := range rows {
		n := out.Node(r.Node)
		cls := ClassifyRG(r.Status)
		mem, known := membership[r.Node]
		switch {
		case known && mem == NodeOffline:
			n.Role = facts.RoleOffline
			n.RoleCause = fmt.Sprintf("node %s is Offline", r.Node)
		case cls == RGOnline:
			n.Role = facts.RoleActive
			active[r.Node] = true
		case cls == RGOnlineFaulted:
			n.Role = facts.RoleActive
			n.RoleCause = fmt.Sprintf("resource group %s is %s on %s", o.Group, r.Status, r.Node)
			active[r.Node] = true
		case cls == RGOffline && known && mem == NodeOnline:
			n.Role = facts.RoleStandby
		case cls == RGOffline:
			n.Role = facts.RoleUnknown
			n.RoleCause = fmt.Sprintf("resource group %s is Offline on %s and the node's membership is not in the output (add clnode status)", o.Group, r.Node)
		default:
			n.Role = facts.RoleUnknown
			n.RoleCause = fmt.Sprintf("resource group %s is %s on %s", o.Group, r.Status, r.Node)
		}
		switch {
		case cls == RGUnmanaged:
			n.RedundancyEnabled = facts.Bool(false)
		case r.Suspended != nil:
			n.RedundancyEnabled = facts.Bool(!*r.Suspended)
			if *r.Suspended {
				n.RoleCause = strings.TrimPrefix(n.RoleCause+"; resource group suspended: no automatic failover", "; ")
			}
		}
	}

	if o.Local != "" {
		if ln, ok := out[o.Local]; ok {
			for _, r := range rows {
				if r.Node == o.Local {
					continue
				}
				if up, ok := s.peerUp(o.Local, r.Node, membership); ok {
					if ln.PeerUp == nil {
						ln.PeerUp = map[string]bool{}
					}
					ln.PeerUp[r.Node] = up
				}
			}
		}
	}

	for _, name := range o.Storage {
		var rs []ResourceStatus
		for _, r := range s.Resources {
			if r.Resource == name {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			return nil, fmt.Errorf("solaris cluster status: storage resource %q not in the output (add clresource status)", name)
		}
		for _, r := range rs {
			n, ok := out[r.Node]
			if !ok {
				continue // not a node of the group
			}
			st := StorageSync(r.State, r.Message)
			if !active[r.Node] {
				switch {
				case normState(r.State) == "offline" && !strings.HasPrefix(strings.ToLower(r.Message), "faulted"):
					st = facts.SyncSynced // ready to take over: shared storage has nothing to copy
				case st != facts.SyncOutOfSync && st != facts.SyncSynced:
					continue
				}
			}
			n.SyncState = facts.WorseSync(n.SyncState, st)
		}
	}
	return out, nil
}

func (s *Status) groupNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range s.Groups {
		if !seen[g.Group] {
			seen[g.Group] = true
			out = append(out, g.Group)
		}
	}
	sort.Strings(out)
	return out
}

// membership returns each node's membership from clnode/scstat, else from
// the quorum votes by node.
func (s *Status) membership() map[string]NodeClass {
	m := map[string]NodeClass{}
	if s.Quorum != nil {
		for _, v := range s.Quorum.NodeVotes {
			m[v.Name] = ClassifyNode(v.Status)
		}
	}
	for _, n := range s.Nodes {
		m[n.Name] = ClassifyNode(n.Status)
	}
	for k, v := range m {
		if v == NodeUnknown {
			delete(m, k)
		}
	}
	return m
}

func pathNode(ep string) string {
	if i := strings.IndexByte(ep, ':'); i >= 0 {
		return ep[:i]
	}
	return ep
}

func (s *Status) peerUp(local, peer string, membership map[string]NodeClass) (bool, bool) {
	listed, online := false, false
	for _, p := range s.Paths {
		a, b := pathNode(p.Endpoint1), pathNode(p.Endpoint2)
		if !(a == local && b == peer) && !(a == peer && b == local) {
			continue
		}
		listed = true
		if normState(p.Status) == "path_online" {
			online = true
		}
	}
	if listed {
		return online, true
	}
	switch membership[peer] {
	case NodeOnline:
		return true, true
	case NodeOffline:
		return false, true
	}
	return false, false
}

// ParseList reads a plain list of names, one per line (the output of
// `clresource list -t SUNW.HAStoragePlus`), ignoring blank lines.
func ParseList(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(l); t != "" {
			out = append(out, t)
		}
	}
	return out
}
