package collector

import (
	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// serviceRoles is the agentless role source `service`: it needs no agent on
// the nodes, only the probes the collector runs anyway.
//
//   - a node whose own address answers the primary service serves: active
//     (several serving nodes are all active; the rules call that split brain);
//   - a node that does not serve but answers a liveness check is standby
//     (a standby's mail services are normally stopped, so "not serving"
//     alone must not read as "down");
//   - a node that answers nothing is offline.
//
// For master_slave clusters the role comes from the configuration and this
// source only tells alive from offline.
type serviceRoles struct {
	name    string
	cluster *config.Cluster
	primary string
}

func newServiceRoles(cl *config.Cluster, src *config.Source) *serviceRoles {
	primary := ""
	if src.Service != nil {
		primary = src.Service.PrimaryService
	}
	if primary == "" && len(cl.Services) > 0 {
		primary = cl.Services[0].Name
	}
	return &serviceRoles{name: src.Name, cluster: cl, primary: primary}
}

func (s *serviceRoles) derive(snap *Snapshot, live map[string]map[string]bool) facts.Set {
	set := facts.Set{}
	for _, n := range s.cluster.Nodes {
		serving, anyUp, evidence := false, false, false
		for _, o := range snap.Services[n.Name] {
			if o.NotRun {
				continue
			}
			evidence = true
			anyUp = anyUp || o.Result.Up
			if o.Service.Name == s.primary {
				serving = o.Result.Up
			}
		}
		for _, up := range live[n.Name] {
			evidence = true
			anyUp = anyUp || up
		}
		f := set.Node(n.Name)
		switch {
		case !evidence:
			f.Role = facts.RoleUnknown // no probe could run in time
		case !anyUp:
			f.Role = facts.RoleOffline
		case s.cluster.Kind == config.KindMasterSlave:
			f.Role = facts.Role(n.Role)
		case serving:
			f.Role = facts.RoleActive
		default:
			f.Role = facts.RoleStandby
		}
	}
	return set
}
