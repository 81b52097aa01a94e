package collector

import (
	"sync"
)

// silentNodes remembers which nodes (and whether the virtual address, as
// node "") answered nothing in the previous collection, so that the next
// one probes them after the others: a dead node's probes wait for their
// whole timeout, and must not hold the slots that probes of answering
// nodes need.
type silentNodes struct {
	mu    sync.Mutex
	nodes map[string]bool
}

func (s *silentNodes) get() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodes
}

// update records, per node, whether any of its probes got an answer. A
// probe cut short by the deadline got none; a node none of whose probes
// started keeps its previous mark: there is no new evidence either way.
func (s *silentNodes) update(probes []*probeTask, started []bool, outcomes []ProbeOutcome) {
	ran, up := map[string]bool{}, map[string]bool{}
	for i, p := range probes {
		if !started[i] {
			continue
		}
		ran[p.node] = true
		up[p.node] = up[p.node] || outcomes[i].Result.Answered || (!outcomes[i].NotRun && outcomes[i].Result.Up)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]bool, len(s.nodes)+len(ran))
	for node, was := range s.nodes {
		next[node] = was
	}
	for node := range ran {
		next[node] = !up[node]
	}
	s.nodes = next
}
