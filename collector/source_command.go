package collector

import (
	"context"
	"fmt"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/contract"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// commandSource runs an argv that prints the JSON contract (DESIGN.md §4),
// for appliances and anything without a native parser.
type commandSource struct {
	env Env
	cmd config.Command
}

func newCommandSource(env Env, src *config.Source) (Source, error) {
	return &commandSource{env: env, cmd: src.Command.Command}, nil
}

func (s *commandSource) Collect(ctx context.Context) (facts.Set, error) {
	out, err := s.env.Runner.Run(ctx, s.cmd)
	if err != nil {
		return nil, err
	}
	set, err := contract.Parse(out, nodeNames(s.env.Cluster))
	if err != nil {
		return nil, fmt.Errorf("%s: output: %w", s.cmd.Argv[0], err)
	}
	return set, nil
}
