package collector

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/dovecot"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// dovecotSource reads Dovecot's dsync replicator on the node it runs on:
// failed users or requests → out_of_sync, queued requests → syncing (with
// sync_pending items), else synced; dsync connections → peer_up. It needs
// access to doveadm's socket (root, or the dovecot group with the socket's
// mode opened up). User names never leave the parser.
//
// The per-user table is streamed and counted, never buffered, so 20,000 or
// 200,000 users cost the same memory; beyond maxUsers the command is
// stopped and the counts are a lower bound, never an error.
type dovecotSource struct {
	env                  Env
	node, peer           string
	users, overview, dsy config.Command
	maxUsers             int
}

// maxReplicatorUsers is where the dovecot source stops counting users.
const maxReplicatorUsers = 1_000_000

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
		maxUsers: maxReplicatorUsers,
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
	in := dovecot.Input{Peer: s.peer, Users: &dovecot.UserCounts{}}
	err := s.env.Runner.Stream(ctx, s.users, func(r io.Reader) error {
		return dovecot.ScanUsersAny(r, func(u dovecot.User) error {
			in.Users.Add(u)
			if in.Users.Users >= s.maxUsers {
				in.Users.Truncated = true
				return errStreamStopped
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("replicator users: %w", err)
	}
	if in.Users.Truncated {
		s.env.Logger.Warn("more replicated users than the counting limit: counts are a lower bound", "limit", s.maxUsers)
	}
	out, err := s.env.Runner.Run(ctx, s.overview)
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
