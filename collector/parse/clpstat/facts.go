package clpstat

import (
	"fmt"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

// Placement says where a group runs relative to its failover policy.
type Placement struct {
	Group   string
	State   string // group state as printed
	Current string // server the group is on; "" when offline everywhere
	// Preferred is the first priority server ("" when no priorities were
	// given). OnPreferred is true when the group is Online (or Caution) on
	// it.
	Preferred   string
	OnPreferred bool
}

// Placement returns where group runs. priorities is the group's failover
// policy in priority order (from configuration: clpstat's status view does
// not print it); the first entry is the preferred server.
func (st *Status) Placement(group string, priorities []string) (Placement, error) {
	_, groups := st.effective()
	g, err := findGroup(groups, group)
	if err != nil {
		return Placement{}, err
	}
	p := Placement{Group: g.Name, State: g.State, Current: g.Current}
	if len(priorities) > 0 {
		p.Preferred = priorities[0]
		c := ClassifyGroup(g.State)
		p.OnPreferred = (c == GroupOnline || c == GroupCaution) && g.Current != "" && NameMatches(g.Current, priorities[0])
	}
	return p, nil
}

func findGroup(groups []Group, name string) (*Group, error) {
	var found *Group
	for i := range groups {
		if NameMatches(groups[i].Name, name) {
			if found != nil {
				return nil, fmt.Errorf("clpstat: group name %q is ambiguous (%q and %q; names are truncated to %d characters, use clpstat --long)", name, found.Name, groups[i].Name, TruncatedNameLen)
			}
			found = &groups[i]
		}
	}
	if found == nil {
		var names []string
		for _, g := range groups {
			names = append(names, g.Name)
		}
		return nil, fmt.Errorf("clpstat: group %q not in the output (groups: %s)", name, strings.Join(names, ", "))
	}
	return found, nil
}

// effective returns the servers and groups to map: the CLUSTER STATUS view
// when present, else the ones implied by the group map (clpstat -g).
func (st *Status) effective() ([]Server, []Group) {
	if len(st.Servers) > 0 || st.GroupMap == nil {
		return st.Servers, st.Groups
	}
	var servers []Server
	var groups []Group
	for _, row := range st.GroupMap.Servers {
		servers = append(servers, Server{Name: row.Name, Local: row.Local, State: mapServerState(row.Mark)})
		for _, g := range row.Groups {
			groups = append(groups, Group{Name: g.Name, State: mapGroupState(g.Mark), Current: row.Name})
		}
	}
	return servers, groups
}

// mapServerState turns a group-map server mark into a status-view state.
func mapServerState(mark string) string {
	switch mark {
	case "o":
		return "Online"
	case "x":
		return "Offline"
	}
	return "Unknown"
}

// mapGroupState turns a group-map group mark into a status-view state.
func mapGroupState(mark string) string {
	switch mark {
	case "o":
		return "Online"
	case "e":
		return "Online Failure"
	case "p":
		return "Online Pending"
	}
	return "Unknown"
}

// NodeFacts maps the status onto node facts for the failover group named
// group (the mail group). priorities is the group's failover policy in
// priority order, as node names; when non-empty, only those servers get
// facts, keyed by the names given (matched against clpstat's possibly
// truncated names), and a listed server clpstat does not print gets role
// unknown. When empty, every server gets facts, keyed by the printed name.
// See the package documentation for the mapping. It fails when the group is
// not in the output (a configuration error: the source cannot produce its
// facts).
func (st *Status) NodeFacts(group string, priorities []string) (facts.Set, error) {
	servers, groups := st.effective()
	g, err := findGroup(groups, group)
	if err != nil {
		return nil, err
	}
	gclass := ClassifyGroup(g.State)

	type member struct {
		key string
		srv *Server
	}
	var members []member
	if len(priorities) == 0 {
		for i := range servers {
			members = append(members, member{key: servers[i].Name, srv: &servers[i]})
		}
	} else {
		for _, p := range priorities {
			m := member{key: p}
			for i := range servers {
				if NameMatches(servers[i].Name, p) {
					m.srv = &servers[i]
					break
				}
			}
			members = append(members, m)
		}
	}

	local := ""
	localTrusted := true
	for i := range servers {
		if servers[i].Local {
			local = servers[i].Name
			c := ClassifyServer(servers[i].State)
			localTrusted = c == ServerUp || c == ServerSuspended
		}
	}

	out := facts.Set{}
	unhealthy := st.Unhealthy()
	for _, m := range members {
		if m.srv == nil {
			n := out.Node(m.key)
			n.Role = facts.RoleUnknown
			n.RoleCause = fmt.Sprintf("server %s is in the failover policy of %s but not in the clpstat output", m.key, g.Name)
			continue
		}
		isLocal := local != "" && m.srv.Name == local
		if !localTrusted && !isLocal {
			// The local cluster service is not up: clpstat shows every
			// other server Offline whatever its real state.
			continue
		}
		n := out.Node(m.key)
		sclass := ClassifyServer(m.srv.State)
		switch sclass {
		case ServerDown:
			n.Role = facts.RoleOffline
			n.RoleCause = fmt.Sprintf("server %s is %s", m.srv.Name, m.srv.State)
			if isLocal {
				n.RoleCause += " (cluster service not running here)"
			}
		case ServerTransition, ServerUnknown:
			n.Role = facts.RoleUnknown
			n.RoleCause = fmt.Sprintf("server %s is %s", m.srv.Name, m.srv.State)
		case ServerUp, ServerSuspended:
			n.RedundancyEnabled = facts.Bool(sclass == ServerUp)
			if sclass == ServerSuspended {
				n.RoleCause = "cluster suspended: no failover"
			}
			onThis := g.Current != "" && NameMatches(g.Current, m.srv.Name)
			if !onThis {
				n.Role = facts.RoleStandby
				break
			}
			switch gclass {
			case GroupOnline, GroupCaution:
				n.Role = facts.RoleActive
				var causes []string
				if n.RoleCause != "" {
					causes = append(causes, n.RoleCause)
				}
				if gclass == GroupCaution {
					causes = append(causes, fmt.Sprintf("group %s is %s", g.Name, g.State))
				}
				if len(priorities) > 0 && !NameMatches(m.srv.Name, priorities[0]) {
					causes = append(causes, fmt.Sprintf("group %s runs on %s, not on its first priority server %s", g.Name, m.srv.Name, priorities[0]))
				}
				if len(unhealthy) > 0 {
					causes = append(causes, strings.Join(unhealthy, "; "))
				}
				n.RoleCause = strings.Join(causes, "; ")
			case GroupOffline:
				n.Role = facts.RoleStandby
			default:
				n.Role = facts.RoleUnknown
				n.RoleCause = fmt.Sprintf("group %s is %s on %s", g.Name, g.State, m.srv.Name)
			}
		}
	}

	if local != "" && localTrusted {
		localKey := ""
		for _, m := range members {
			if m.srv != nil && m.srv.Name == local {
				localKey = m.key
			}
		}
		if localKey != "" {
			ln := out.Node(localKey)
			for _, m := range members {
				if m.srv == nil || m.srv.Name == local {
					continue
				}
				if up, ok := st.peerUp(local, m.srv); ok {
					if ln.PeerUp == nil {
						ln.PeerUp = map[string]bool{}
					}
					ln.PeerUp[m.key] = up
				}
			}
		}
	}
	return out, nil
}

// peerUp tells whether the local server sees peer: from the --hb matrix
// when printed, else from the status view.
func (st *Status) peerUp(local string, peer *Server) (bool, bool) {
	if st.HB != nil {
		for _, v := range st.HB.Views {
			if v.On != local {
				continue
			}
			for name, marks := range v.Rows {
				if !NameMatches(name, peer.Name) && name != peer.Name {
					continue
				}
				seen, down := false, false
				for _, mk := range marks {
					switch mk {
					case "o":
						seen = true
					case "x":
						down = true
					}
				}
				if seen {
					return true, true
				}
				if down {
					return false, true
				}
				return false, false
			}
		}
	}
	switch ClassifyServer(peer.State) {
	case ServerUp, ServerSuspended:
	case ServerDown, ServerUnknown:
		return false, true
	default:
		// Starting or stopping: do not claim either way.
		return false, false
	}
	if len(peer.Heartbeats) == 0 {
		return true, true
	}
	for _, h := range peer.Heartbeats {
		if c := ClassifyHeartbeat(h.State); c == HBNormal || c == HBCaution {
			return true, true
		}
	}
	return false, true
}
