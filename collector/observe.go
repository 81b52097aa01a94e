package collector

import (
	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// primaryService is the service whose answer on a node's own address means
// the node serves: the `service` source's primary_service, else the
// cluster's first service.
func primaryService(cl *config.Cluster) string {
	for _, s := range cl.Sources {
		if s.Type == "service" && s.Service != nil && s.Service.PrimaryService != "" {
			return s.Service.PrimaryService
		}
	}
	if len(cl.Services) > 0 {
		return cl.Services[0].Name
	}
	return ""
}

// observe turns one collection's probes of the nodes into what this
// exporter saw of each node (DESIGN.md §2.8). It never yields a role:
//
//   - serving: the primary service's dialogue succeeded on the node's address;
//   - alive: it did not, but some probe of the node was answered (another
//     service, a liveness check, or a server that accepted the connection
//     and then failed the dialogue);
//   - silent: every probe that ran was left unanswered.
//
// A node none of whose probes ran (no probe configured, or no time left in
// the collection) is absent: this exporter has no evidence either way.
func observe(primary string, services map[string][]ProbeOutcome, live map[string][]ProbeOutcome) map[string]facts.Observation {
	out := map[string]facts.Observation{}
	nodes := map[string]bool{}
	for n := range services {
		nodes[n] = true
	}
	for n := range live {
		nodes[n] = true
	}
	for n := range nodes {
		ran, serving, answered := false, false, false
		for _, list := range [][]ProbeOutcome{services[n], live[n]} {
			for _, o := range list {
				if o.NotRun {
					continue
				}
				ran = true
				answered = answered || o.Result.Up || o.Result.Answered
			}
		}
		for _, o := range services[n] {
			if !o.NotRun && o.Service.Name == primary && o.Result.Up {
				serving = true
			}
		}
		switch {
		case !ran:
		case serving:
			out[n] = facts.ObservedServing
		case answered:
			out[n] = facts.ObservedAlive
		default:
			out[n] = facts.ObservedSilent
		}
	}
	return out
}
