// Package facts is the vocabulary shared by every source, parser and the
// metric writer: the observed facts about the nodes of one cluster
// (DESIGN.md §3). It holds no judgement; colours are computed by the rules.
package facts

import "sort"

// Role is a node's operating role (mailcluster_node_role{role}).
type Role string

// The roles of DESIGN.md §3, in exposition order.
const (
	RoleActive  Role = "active"
	RoleStandby Role = "standby"
	RoleMaster  Role = "master"
	RoleSlave   Role = "slave"
	RoleOffline Role = "offline"
	RoleUnknown Role = "unknown"
)

// Roles lists every role in exposition order.
var Roles = []Role{RoleActive, RoleStandby, RoleMaster, RoleSlave, RoleOffline, RoleUnknown}

// Observation is what one exporter's probes saw of a node
// (mailcluster_node_observed{state}). It is not a role: the rules turn
// observations into a role only where no reported role exists.
type Observation string

// The observed states of DESIGN.md §3, in exposition order.
const (
	ObservedServing Observation = "serving" // the primary service answers on the node's own address
	ObservedAlive   Observation = "alive"   // it does not, but something on the node answers
	ObservedSilent  Observation = "silent"  // nothing answers
)

// Observations lists every observed state in exposition order.
var Observations = []Observation{ObservedServing, ObservedAlive, ObservedSilent}

// SyncState is the data replication state (mailcluster_sync_state{state}).
type SyncState string

// The sync states of DESIGN.md §3, in exposition order.
const (
	SyncSynced    SyncState = "synced"
	SyncSyncing   SyncState = "syncing"
	SyncOutOfSync SyncState = "out_of_sync"
	SyncDisabled  SyncState = "disabled"
	SyncUnknown   SyncState = "unknown"
)

// SyncStates lists every sync state in exposition order.
var SyncStates = []SyncState{SyncSynced, SyncSyncing, SyncOutOfSync, SyncDisabled, SyncUnknown}

// syncSeverity orders sync states when several sources report one for the
// same node: the worse one wins, so a healthy source cannot hide a broken one.
var syncSeverity = map[SyncState]int{
	SyncSynced: 0, SyncSyncing: 1, SyncDisabled: 2, SyncUnknown: 3, SyncOutOfSync: 4,
}

// WorseSync returns the worse of two sync states ("" means not reported).
func WorseSync(a, b SyncState) SyncState {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	if syncSeverity[b] > syncSeverity[a] {
		return b
	}
	return a
}

// Queue describes one mail queue or spool directory.
type Queue struct {
	Messages float64
	Bytes    float64
	// OldestAgeSeconds is nil when the queue is empty or the age is unknown.
	OldestAgeSeconds *float64
}

// Node holds what is known about one node. Every field is optional: a zero
// value (empty string, nil pointer, nil map) means "not reported", and the
// metric is then omitted rather than zeroed.
type Node struct {
	Role              Role
	RoleCause         string // free text, e.g. a failed action; logged, never a label
	RedundancyEnabled *bool
	PeerUp            map[string]bool // peer node name -> this node sees it
	SyncState         SyncState
	SyncProgress      *float64           // 0..1 while syncing
	SyncLagSeconds    *float64           // age of the newest replicated change
	SyncPending       map[string]float64 // unit ("bytes", "items") -> amount
	Version           string
	RestartRequired   *bool
	Queues            map[string]Queue
	// LastRoleChange is a Unix timestamp reported by the source itself
	// (e.g. keepalived's notify time); 0 when not reported.
	LastRoleChange float64
}

// Set is the facts about several nodes, keyed by node name.
type Set map[string]*Node

// Node returns the entry for name, creating it.
func (s Set) Node(name string) *Node {
	n, ok := s[name]
	if !ok {
		n = &Node{}
		s[name] = n
	}
	return n
}

// Names returns the node names in sorted order.
func (s Set) Names() []string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Merge adds src into dst the way the rules combine exporters: a known
// role beats unknown (else the earlier source's role is kept); the worse
// sync state wins; a peer seen down by any source is down; redundancy
// switched off by any source is off. Other fields already set in dst are
// kept (sources earlier in the configuration take precedence), and maps
// are merged key by key.
func (n *Node) Merge(src *Node) {
	if src == nil {
		return
	}
	if n.Role == "" || (n.Role == RoleUnknown && src.Role != "") {
		n.Role = src.Role
		if src.RoleCause != "" {
			n.RoleCause = src.RoleCause
		}
	}
	if n.RoleCause == "" {
		n.RoleCause = src.RoleCause
	}
	if n.RedundancyEnabled == nil || src.RedundancyEnabled != nil && !*src.RedundancyEnabled {
		n.RedundancyEnabled = src.RedundancyEnabled
	}
	n.SyncState = WorseSync(n.SyncState, src.SyncState)
	if n.SyncProgress == nil {
		n.SyncProgress = src.SyncProgress
	}
	if n.SyncLagSeconds == nil {
		n.SyncLagSeconds = src.SyncLagSeconds
	}
	if n.Version == "" {
		n.Version = src.Version
	}
	if n.RestartRequired == nil {
		n.RestartRequired = src.RestartRequired
	}
	if n.LastRoleChange == 0 {
		n.LastRoleChange = src.LastRoleChange
	}
	for k, v := range src.PeerUp {
		if n.PeerUp == nil {
			n.PeerUp = map[string]bool{}
		}
		if up, ok := n.PeerUp[k]; !ok || up {
			n.PeerUp[k] = v
		}
	}
	for k, v := range src.SyncPending {
		if n.SyncPending == nil {
			n.SyncPending = map[string]float64{}
		}
		if _, ok := n.SyncPending[k]; !ok {
			n.SyncPending[k] = v
		}
	}
	for k, v := range src.Queues {
		if n.Queues == nil {
			n.Queues = map[string]Queue{}
		}
		if _, ok := n.Queues[k]; !ok {
			n.Queues[k] = v
		}
	}
}

// Bool returns a pointer to b, for the optional boolean facts.
func Bool(b bool) *bool { return &b }

// Float returns a pointer to f, for the optional numeric facts.
func Float(f float64) *float64 { return &f }
