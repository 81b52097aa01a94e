package crmmon

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

// Mapping says which resources mark the active node.
type Mapping struct {
	// Resource is the id of a group (e.g. "mail-group") or of a primitive
	// whose location marks the active node. A group counts as running on a
	// node when every member that is not deliberately stopped
	// (target_role=Stopped) is running there and none has failed.
	Resource string
	// Promotable is the id of a promotable clone (or of its primitive, e.g.
	// "mail-drbd-clone" or "mail-drbd") whose Promoted (legacy: Master)
	// instance marks the active node.
	Promotable string
	// Nodes, when not empty, restricts the facts to these Pacemaker node
	// names. By default every cluster node is reported except guest and
	// bundle nodes.
	Nodes []string
	// Rename maps a Pacemaker node name to the exporter's node name; names
	// not listed are kept.
	Rename map[string]string
}

// maxCauses caps how many failed actions are quoted in one RoleCause.
const maxCauses = 3

// NodeFacts maps the status onto facts, one entry per node.
//
// When both Resource and Promotable are empty, the only top-level group is
// used, else the only promotable clone; if that is ambiguous an error asks
// for a mapping. An error is also returned when a named resource is not in
// the output (a configuration mistake must not look like "standby").
//
// Role of a node:
//   - offline when the node is not online, is unclean (failed, fencing
//     pending) or is still pending (joining); RoleCause says which.
//   - active when everything named by the mapping runs on it (the group
//     fully, the promotable clone Promoted there).
//   - unknown when only part of it runs there (a group partially started,
//     a failed member, promoted without the group...): in transition or
//     broken, never "healthy".
//   - standby otherwise. A node in standby mode or maintenance, and
//     standby_onfail, stays standby but RoleCause says it cannot take over.
//
// RedundancyEnabled is false on every node in cluster maintenance-mode or
// with stop-all-resources, and on a node in standby mode or node
// maintenance (an operator switched its failover off); true otherwise.
//
// PeerUp is set on online nodes only (they share the membership this crm_mon
// sees): PeerUp[other] is whether the other node is online and clean. The
// view of an offline node is unknown, so it gets no PeerUp.
//
// RoleCause also quotes up to three failed actions of the node, e.g.
// "failed start of Email on cluster02: not installed", and failed fencing.
func (s *Status) NodeFacts(cfg Mapping) (facts.Set, error) {
	cfg, err := s.resolve(cfg)
	if err != nil {
		return nil, err
	}
	nodes := s.selectNodes(cfg)
	name := func(n string) string {
		if r, ok := cfg.Rename[n]; ok && r != "" {
			return r
		}
		return n
	}
	set := facts.Set{}
	for _, n := range nodes {
		f := set.Node(name(n.Name))
		var causes []string
		enabled := !(s.MaintenanceMode || s.StopAllResources || n.Standby || n.Maintenance)
		f.RedundancyEnabled = facts.Bool(enabled)
		if s.MaintenanceMode {
			causes = append(causes, "cluster in maintenance mode")
		}
		if s.StopAllResources {
			causes = append(causes, "stop-all-resources is set")
		}
		switch {
		case n.Unclean:
			f.Role = facts.RoleOffline
			causes = append(causes, "node unclean (failed, not yet fenced)")
		case !n.Online:
			f.Role = facts.RoleOffline
			causes = append(causes, "node offline")
		case n.Pending:
			f.Role = facts.RoleOffline
			causes = append(causes, "node pending (joining the cluster)")
		default:
			role, why := s.roleOn(n.Name, cfg)
			f.Role = role
			causes = append(causes, why...)
			if n.Standby {
				causes = append(causes, "node in standby mode: cannot take over")
			}
			if n.StandbyOnFail {
				causes = append(causes, "node in standby after a failure (on-fail=standby): cannot take over")
			}
			if n.Maintenance {
				causes = append(causes, "node in maintenance: resources unmanaged")
			}
			if n.Shutdown {
				causes = append(causes, "node shutting down")
			}
			for _, p := range nodes {
				if p.Name != n.Name {
					if f.PeerUp == nil {
						f.PeerUp = map[string]bool{}
					}
					f.PeerUp[name(p.Name)] = p.Online && !p.Unclean && !p.Pending
				}
			}
		}
		causes = append(causes, s.failuresOn(n.Name)...)
		f.RoleCause = strings.Join(causes, "; ")
	}
	return set, nil
}

func (s *Status) resolve(cfg Mapping) (Mapping, error) {
	if cfg.Resource == "" && cfg.Promotable == "" {
		groups, proms := map[string]bool{}, map[string]bool{}
		for _, r := range s.Resources {
			if r.Group != "" && r.Clone == "" && r.Bundle == "" {
				groups[r.Group] = true
			}
			if r.Promotable {
				proms[r.Clone] = true
			}
		}
		switch {
		case len(groups) == 1:
			for g := range groups {
				cfg.Resource = g
			}
		case len(groups) == 0 && len(proms) == 1:
			for p := range proms {
				cfg.Promotable = p
			}
		default:
			return cfg, fmt.Errorf("crm_mon: %d groups and %d promotable clones: name the resource that marks the active node", len(groups), len(proms))
		}
	}
	if cfg.Resource != "" && len(s.members(cfg.Resource)) == 0 {
		return cfg, fmt.Errorf("crm_mon: resource %q not found (not a group or primitive in the output)", cfg.Resource)
	}
	if cfg.Promotable != "" && len(s.promotable(cfg.Promotable)) == 0 {
		return cfg, fmt.Errorf("crm_mon: promotable clone %q not found", cfg.Promotable)
	}
	return cfg, nil
}

// members returns the primitive instances of a group or a primitive,
// outside clones (a cloned group runs everywhere and marks nothing).
func (s *Status) members(id string) []Resource {
	var out []Resource
	for _, r := range s.Resources {
		if r.Clone != "" || r.Bundle != "" {
			continue
		}
		if r.Group == id || r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

func (s *Status) promotable(id string) []Resource {
	var out []Resource
	for _, r := range s.Resources {
		if r.Promotable && (r.Clone == id || r.ID == id) {
			out = append(out, r)
		}
	}
	return out
}

func on(r Resource, node string) bool {
	for _, n := range r.Nodes {
		if n == node {
			return true
		}
	}
	return false
}

// roleOn decides active/standby/unknown for an online node.
func (s *Status) roleOn(node string, cfg Mapping) (facts.Role, []string) {
	var have, want int
	var why []string
	if cfg.Resource != "" {
		want++
		var needed, running, here int
		var bad []string
		for _, r := range s.members(cfg.Resource) {
			if !on(r, node) || (!r.Active && !r.Failed) {
				if !strings.EqualFold(r.TargetRole, "Stopped") {
					needed++
				}
				continue
			}
			here++
			needed++
			if r.Running() {
				running++
			} else {
				bad = append(bad, fmt.Sprintf("%s %s", r.ID, describe(r)))
			}
		}
		switch {
		case here == 0:
		case running == needed && len(bad) == 0:
			have++
		default:
			why = append(why, fmt.Sprintf("%s partially active here (%d of %d running)", cfg.Resource, running, needed))
			why = append(why, bad...)
			return facts.RoleUnknown, why
		}
	}
	if cfg.Promotable != "" {
		want++
		for _, r := range s.promotable(cfg.Promotable) {
			if !on(r, node) {
				continue
			}
			switch {
			case r.Promoted() && r.Running():
				have++
			case r.Failed:
				why = append(why, fmt.Sprintf("%s %s", r.ID, describe(r)))
				return facts.RoleUnknown, why
			}
		}
	}
	switch {
	case have == want:
		return facts.RoleActive, why
	case have == 0:
		return facts.RoleStandby, why
	default:
		why = append(why, fmt.Sprintf("only part of the mapping runs here (%d of %d: resource %q, promotable %q)", have, want, cfg.Resource, cfg.Promotable))
		return facts.RoleUnknown, why
	}
}

func describe(r Resource) string {
	switch {
	case r.Failed:
		return "FAILED"
	case r.Blocked:
		return "blocked"
	}
	return strings.ToLower(r.Role)
}

func (s *Status) failuresOn(node string) []string {
	var out []string
	n := 0
	for _, f := range s.Failures {
		if f.Node != node {
			continue
		}
		n++
		if n > maxCauses {
			continue
		}
		task := f.Task
		if task == "" {
			task = "operation"
		}
		msg := fmt.Sprintf("failed %s of %s on %s: %s", task, f.Resource, f.Node, f.ExitStatus)
		if st := strings.ToLower(f.Status); st != "" && st != "complete" {
			msg += " (" + f.Status + ")"
		}
		out = append(out, msg)
	}
	if n > maxCauses {
		out = append(out, fmt.Sprintf("and %d more failed actions", n-maxCauses))
	}
	for _, e := range s.FenceEvents {
		if e.Target == node && e.State == "failed" {
			out = append(out, fmt.Sprintf("fencing (%s) of %s failed", e.Action, node))
			break
		}
	}
	return out
}

func (s *Status) selectNodes(cfg Mapping) []Node {
	var out []Node
	if len(cfg.Nodes) > 0 {
		want := map[string]bool{}
		for _, n := range cfg.Nodes {
			want[n] = true
		}
		for _, n := range s.Nodes {
			if want[n.Name] {
				out = append(out, n)
			}
		}
	} else {
		for _, n := range s.Nodes {
			if !n.Guest {
				out = append(out, n)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
