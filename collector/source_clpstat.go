package collector

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/clpstat"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// clpstatSource reads CLUSTERPRO / EXPRESSCLUSTER X `clpstat` on a cluster
// server: the server where the failover group is Online is active, other
// Online servers standby, Offline/Isolated servers offline; Suspension
// switches redundancy off; heartbeats give peer_up. With mirror_command
// (`clpmdstat --mirror md1`) the mirror disk state gives the sync state.
// clpstat needs root (or the Administrators group on Windows).
type clpstatSource struct {
	env    Env
	cfg    *config.ClpstatSource
	cmd    config.Command
	names  renamer
	prio   []string
	mirror bool
}

func newClpstatSource(env Env, src *config.Source) (Source, error) {
	if _, err := env.local("clpstat"); err != nil {
		return nil, err
	}
	cfg := src.Clpstat
	r := renamer(cfg.Servers)
	return &clpstatSource{env: env, cfg: cfg, cmd: withDefault(cfg.Command, "clpstat"), names: r,
		prio: r.byPriority(env.Cluster), mirror: len(cfg.MirrorCommand.Argv) > 0}, nil
}

func (s *clpstatSource) Collect(ctx context.Context) (facts.Set, error) {
	out, err := s.env.Runner.Run(ctx, s.cmd)
	if err != nil {
		return nil, err
	}
	st, err := clpstat.Parse(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("clpstat output: %w", err)
	}
	set, err := st.NodeFacts(s.cfg.Group, s.prio)
	if err != nil {
		return nil, fmt.Errorf("clpstat output: %w", err)
	}
	set = s.names.set(set)
	if s.mirror {
		out, err := s.env.Runner.Run(ctx, s.cfg.MirrorCommand)
		if err != nil {
			return nil, err
		}
		m, err := clpstat.ParseMirror(bytes.NewReader(out))
		if err != nil {
			return nil, fmt.Errorf("clpmdstat output: %w", err)
		}
		for name, n := range s.names.set(m.NodeFacts()) {
			if s.env.Cluster.NodeByName(name) != nil {
				set.Node(name).Merge(n)
			}
		}
	}
	return set, nil
}
