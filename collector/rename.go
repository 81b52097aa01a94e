package collector

import (
	"sort"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// renamer translates the names a cluster manager prints (CLUSTERPRO
// servers, Solaris Cluster nodes) to the configured node names, with an
// explicit map from the configuration; names not in the map are kept.
type renamer map[string]string

func (r renamer) toNode(printed string) string {
	if n, ok := r[printed]; ok {
		return n
	}
	return printed
}

func (r renamer) toPrinted(node string) string {
	for printed, n := range r {
		if n == node {
			return printed
		}
	}
	return node
}

// set renames the keys of a fact set and the peers inside it.
func (r renamer) set(in facts.Set) facts.Set {
	out := facts.Set{}
	for name, n := range in {
		if n.PeerUp != nil {
			peers := map[string]bool{}
			for p, up := range n.PeerUp {
				peers[r.toNode(p)] = up
			}
			n.PeerUp = peers
		}
		out[r.toNode(name)] = n
	}
	return out
}

// byPriority lists the cluster's nodes, first choice first, under the
// names the cluster manager prints.
func (r renamer) byPriority(cl *config.Cluster) []string {
	nodes := append([]*config.Node(nil), cl.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].Priority < nodes[j].Priority })
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = r.toPrinted(n.Name)
	}
	return out
}

// otherNodes lists the cluster's nodes other than node.
func otherNodes(cl *config.Cluster, node string) []string {
	var out []string
	for _, n := range cl.Nodes {
		if n.Name != node {
			out = append(out, n.Name)
		}
	}
	return out
}
