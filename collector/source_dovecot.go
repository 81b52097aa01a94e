package collector

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/dovecot"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// dovecotSource reads Dovecot's dsync replicator on the node it runs on:
// failed users or requests → out_of_sync, queued requests → syncing (with
// sync_pending items), else synced; dsync connections → peer_up. It needs
// access to doveadm's socket (root, or the dovecot group with the socket's
// mode opened up). User names never leave the parser.
type dovecotSource struct {
	env                  Env
	node, peer           string
	users, overview, dsy config.Command
}

func newDovecotSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("dovecot")
	if err != nil {
		return nil, err
	}
	cfg := src.Dovecot
	if cfg == nil {
		cfg = &config.DovecotSource{}
	}
	doveadm := []string{"doveadm"}
	if cfg.ConfigFile != "" {
		doveadm = append(doveadm, "-c", cfg.ConfigFile)
	}
	with := func(args ...string) []string { return append(append([]string(nil), doveadm...), args...) }
	s := &dovecotSource{env: env, node: node, peer: cfg.Peer,
		users:    withDefault(cfg.Command, with("-f", "json", "replicator", "status", "*")...),
		overview: withDefault(cfg.OverviewCommand, with("replicator", "status")...),
		dsy:      withDefault(cfg.DsyncStatusCommand, with("replicator", "dsync-status")...),
	}
	if s.peer == "" {
		if others := otherNodes(env.Cluster, node); len(others) == 1 {
			s.peer = others[0]
		}
	} else if env.Cluster.NodeByName(s.peer) == nil {
		return nil, fmt.Errorf("dovecot.peer %q is not a node of the cluster", s.peer)
	}
	return s, nil
}

func (s *dovecotSource) Collect(ctx context.Context) (facts.Set, error) {
	in := dovecot.Input{Peer: s.peer}
	out, err := s.env.Runner.Run(ctx, s.users)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(out); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		in.Users, err = dovecot.ParseUsersJSON(out)
	} else {
		in.Users, err = dovecot.ParseUsers(bytes.NewReader(out))
	}
	if err != nil {
		return nil, fmt.Errorf("replicator users: %w", err)
	}
	if in.Users == nil {
		in.Users = []dovecot.User{} // an empty table is a fact: nobody to replicate
	}
	out, err = s.env.Runner.Run(ctx, s.overview)
	if err != nil {
		return nil, err
	}
	if in.Overview, err = dovecot.ParseOverview(bytes.NewReader(out)); err != nil {
		return nil, fmt.Errorf("replicator overview: %w", err)
	}
	out, err = s.env.Runner.Run(ctx, s.dsy)
	if err != nil {
		return nil, err
	}
	if in.Dsync, err = dovecot.ParseDsyncStatus(bytes.NewReader(out)); err != nil {
		return nil, fmt.Errorf("dsync-status: %w", err)
	}
	set := facts.Set{}
	set[s.node] = dovecot.NodeFacts(in)
	return set, nil
}
