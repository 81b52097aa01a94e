package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/solaris"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// solarisSource reads Oracle Solaris Cluster / Sun Cluster status on a
// cluster node: `clresourcegroup status` (or legacy `scstat -g`) for where
// the mail resource group is Online (active), `clnode status` for node
// membership (offline, peer_up), and `clresource status` for the
// HAStoragePlus resource, whose state is the cluster's storage ("sync")
// health. The commands need the solaris.cluster.read authorization.
type solarisSource struct {
	env   Env
	cfg   *config.SolarisSource
	cmds  []config.Command
	names renamer
	opts  solaris.Options
}

func newSolarisSource(env Env, src *config.Source) (Source, error) {
	local, err := env.local("solaris")
	if err != nil {
		return nil, err
	}
	cfg := src.Solaris
	r := renamer(cfg.Nodes)
	s := &solarisSource{env: env, cfg: cfg, names: r,
		opts: solaris.Options{Group: cfg.ResourceGroup, Local: r.toPrinted(local)}}
	main := withDefault(cfg.Command, "clresourcegroup", "status")
	s.cmds = []config.Command{main}
	if cfg.StorageResource != "" {
		s.opts.Storage = []string{cfg.StorageResource}
	}
	// Legacy `scstat` (Sun Cluster 3.0/3.1) prints groups, resources and
	// nodes in one output: the cl* commands are only added when asked for.
	if filepath.Base(main.Argv[0]) != "scstat" {
		s.cmds = append(s.cmds, withDefault(cfg.NodeCommand, "clnode", "status"))
		if cfg.StorageResource != "" {
			s.cmds = append(s.cmds, withDefault(cfg.ResourceCommand, "clresource", "status"))
		}
	} else {
		for _, c := range []config.Command{cfg.NodeCommand, cfg.ResourceCommand} {
			if len(c.Argv) > 0 {
				s.cmds = append(s.cmds, c)
			}
		}
	}
	return s, nil
}

func (s *solarisSource) Collect(ctx context.Context) (facts.Set, error) {
	var all bytes.Buffer
	for _, c := range s.cmds {
		out, err := s.env.Runner.Run(ctx, c)
		if err != nil {
			return nil, err
		}
		all.Write(out)
		all.WriteByte('\n')
	}
	st, err := solaris.Parse(&all)
	if err != nil {
		return nil, fmt.Errorf("cluster status output: %w", err)
	}
	set, err := st.NodeFacts(s.opts)
	if err != nil {
		return nil, fmt.Errorf("cluster status output: %w", err)
	}
	if s.cfg.SuspendFlagFile != "" {
		s.applySuspendFlag(set)
	}
	return s.names.set(set), nil
}

// applySuspendFlag gives redundancy_enabled to the group's nodes from the
// operator's flag file where the status has no Suspended column (Sun
// Cluster 3.1): the file's presence is the positive signal that failover
// was suspended on purpose. A file that cannot be checked says nothing.
func (s *solarisSource) applySuspendFlag(set facts.Set) {
	for _, f := range set {
		if f.RedundancyEnabled != nil {
			return // the status itself tells (Suspended column, Unmanaged)
		}
	}
	_, err := os.Stat(s.cfg.SuspendFlagFile)
	var enabled bool
	switch {
	case err == nil:
		enabled = false
	case errors.Is(err, fs.ErrNotExist):
		enabled = true
	default:
		s.env.Logger.Warn("suspend_flag_file not checked; redundancy_enabled left out", "path", s.cfg.SuspendFlagFile, "err", err)
		return
	}
	for _, f := range set {
		f.RedundancyEnabled = facts.Bool(enabled)
	}
}
