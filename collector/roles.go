package collector

import (
	"sort"
	"sync"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

// RoleHistory is what the exporter remembers of one node's role.
type RoleHistory struct {
	Role       facts.Role
	Changes    float64
	LastChange float64 // Unix seconds; 0 = no change seen or reported

	seen time.Time // when the role was last observed
}

// RoleTracker counts role transitions per (cluster, node). It lives as long
// as the process, across configuration reloads. Only a node becoming or
// ceasing to be active (master) counts: that is a failover. standby ↔
// offline is a peer problem, not a failover, and transitions to or from
// `unknown` (a source that failed for one scrape) are not counted.
type RoleTracker struct {
	mu    sync.Mutex
	nodes map[[2]string]*RoleHistory
}

// NewRoleTracker returns an empty tracker.
func NewRoleTracker() *RoleTracker {
	return &RoleTracker{nodes: map[[2]string]*RoleHistory{}}
}

// Observe records the roles of one collection and returns the history of
// every node with a role fact.
func (t *RoleTracker) Observe(cluster string, set facts.Set, now time.Time) map[string]RoleHistory {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]RoleHistory{}
	for name, f := range set {
		if f.Role == "" {
			continue
		}
		key := [2]string{cluster, name}
		h, ok := t.nodes[key]
		if !ok {
			h = &RoleHistory{Role: f.Role}
			t.nodes[key] = h
		}
		// Overlapping collections (/metrics and /probe) may finish out of
		// order: an observation older than the last one changes nothing.
		if f.Role != facts.RoleUnknown && !now.Before(h.seen) {
			h.seen = now
			if h.Role != facts.RoleUnknown && h.Role != f.Role && (serves(h.Role) || serves(f.Role)) {
				h.Changes++
				h.LastChange = float64(now.UnixNano()) / 1e9
			}
			h.Role = f.Role
		}
		if f.LastRoleChange > h.LastChange {
			h.LastChange = f.LastRoleChange
		}
		out[name] = *h
	}
	return out
}

func serves(r facts.Role) bool { return r == facts.RoleActive || r == facts.RoleMaster }

func sortOutcomes(s *Snapshot) {
	byName := func(o []ProbeOutcome) {
		sort.Slice(o, func(i, j int) bool { return o[i].Service.Name < o[j].Service.Name })
	}
	for _, o := range s.Services {
		byName(o)
	}
	byName(s.Virtual)
	sort.Slice(s.Sources, func(i, j int) bool {
		if s.Sources[i].Name != s.Sources[j].Name {
			return s.Sources[i].Name < s.Sources[j].Name
		}
		return s.Sources[i].Node < s.Sources[j].Node
	})
}
