package collector

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/mfreplica"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// mfilterSource covers an m-FILTER style master/slave pair on the node it
// runs on. It reads the replication definition (mf_replica.def), connects
// to the settings-sync targets it names (REPLICA_SERVER_*, port 14083) and,
// on a slave with data sync on, to the master's data-sync ports
// (14042–14047): all reachable → synced and peer up; any blocked →
// out_of_sync (during a no-stop version-up that is the expected state).
// It also measures the slave's held/saved mail directories, and reports
// the version and restart-required flag from files.
type mfilterSource struct {
	env  Env
	node *config.Node
	cfg  *config.MFilterSource
	now  func() time.Time
}

func newMFilterSource(env Env, src *config.Source) (Source, error) {
	local, err := env.local("mfilter")
	if err != nil {
		return nil, err
	}
	return &mfilterSource{env: env, node: env.Cluster.NodeByName(local), cfg: src.MFilter, now: time.Now}, nil
}

func (s *mfilterSource) Collect(ctx context.Context) (facts.Set, error) {
	b, err := readCapped(s.cfg.DefFile, s.env.Global.MaxOutputBytes)
	if err != nil {
		return nil, err
	}
	def, err := mfreplica.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.cfg.DefFile, err)
	}
	set, err := def.NodeFacts(s.node.Name, facts.Role(s.node.Role))
	if err != nil {
		return nil, err
	}
	f := set[s.node.Name]
	if f.SyncState == "" {
		targets := def.ReplicaTargets()
		if s.node.Role == "slave" {
			if master := s.master(); master != nil {
				for _, p := range def.DataSyncPorts() {
					targets = append(targets, net.JoinHostPort(hostOf(master), strconv.Itoa(p.Port)))
				}
			}
		}
		reach := dialAll(ctx, targets, config.DefaultPeerTCPTimeout)
		all := true
		f.PeerUp = map[string]bool{}
		for _, t := range targets {
			peer := s.peerOf(t)
			if _, seen := f.PeerUp[peer]; !seen {
				f.PeerUp[peer] = true
			}
			f.PeerUp[peer] = f.PeerUp[peer] && reach[t]
			all = all && reach[t]
		}
		f.SyncState = facts.SyncSynced
		if !all {
			f.SyncState = facts.SyncOutOfSync
		}
	}
	if s.cfg.RestartRequiredFile != "" {
		v, err := flagFile(s.cfg.RestartRequiredFile)
		if err != nil {
			return nil, err
		}
		f.RestartRequired = &v
	}
	if s.cfg.VersionFile != "" {
		v, err := readCapped(s.cfg.VersionFile, 4096)
		if err != nil {
			return nil, err
		}
		if f.Version, err = pickVersion(string(v), nil); err != nil {
			return nil, fmt.Errorf("%s: %w", s.cfg.VersionFile, err)
		}
	}
	if len(s.cfg.QueueDirs) > 0 {
		if f.Queues, err = measureQueues(ctx, s.cfg.QueueDirs, s.now()); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func hostOf(n *config.Node) string {
	if n.SyncAddress != "" {
		return n.SyncAddress
	}
	return n.Address
}

func (s *mfilterSource) master() *config.Node {
	for _, n := range s.env.Cluster.Nodes {
		if n.Role == "master" {
			return n
		}
	}
	return nil
}

// peerOf names the node a host:port target belongs to: the node whose
// address or sync address is that host, else the host itself.
func (s *mfilterSource) peerOf(target string) string {
	host, _, _ := net.SplitHostPort(target)
	for _, n := range s.env.Cluster.Nodes {
		if n.Address == host || n.SyncAddress == host {
			return n.Name
		}
	}
	return host
}

// flagFile: a missing or empty file, "0", "false" or "no" means false.
func flagFile(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "", "0", "false", "no", "off":
		return false, nil
	}
	return true, nil
}
