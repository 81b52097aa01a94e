package collector

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/crmmon"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// pacemakerSource reads `crm_mon --output-as=xml` on a cluster node. It
// sees every node's membership, so it reports on all of them; the node
// running the configured resource group (or promoted instance) is active.
// Needs membership of the haclient group (or root) to run crm_mon.
type pacemakerSource struct {
	env     Env
	cmd     config.Command
	mapping crmmon.Mapping
}

func newPacemakerSource(env Env, src *config.Source) (Source, error) {
	if _, err := env.local("pacemaker"); err != nil {
		return nil, err
	}
	p := src.Pacemaker
	return &pacemakerSource{
		env: env,
		cmd: withDefault(p.Command, "crm_mon", "--output-as=xml", "--inactive"),
		mapping: crmmon.Mapping{
			Resource:   p.ResourceGroup,
			Promotable: p.PromotableResource,
			Nodes:      nodeNames(env.Cluster),
		},
	}, nil
}

func (s *pacemakerSource) Collect(ctx context.Context) (facts.Set, error) {
	out, err := s.env.Runner.Run(ctx, s.cmd)
	if err != nil {
		return nil, err
	}
	st, err := crmmon.Parse(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("crm_mon output: %w", err)
	}
	set, err := st.NodeFacts(s.mapping)
	if err != nil {
		return nil, fmt.Errorf("crm_mon output: %w", err)
	}
	// Pacemaker speaks for every node of the cluster: a configured node it
	// does not list is not known to be anything.
	for _, name := range s.mapping.Nodes {
		if _, ok := set[name]; !ok {
			f := set.Node(name)
			f.Role, f.RoleCause = facts.RoleUnknown, "not a node of the Pacemaker cluster"
		}
	}
	for name, n := range set {
		if n.RoleCause != "" {
			s.env.Logger.Info("pacemaker reports", "node", name, "cause", n.RoleCause)
		}
	}
	return set, nil
}
