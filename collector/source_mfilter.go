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
// (14042–14047), and reports each port's reachability. All reachable →
// synced (syncing while the slave's saved/held queue still drains into the
// master); any blocked → out_of_sync (during a no-stop version-up that is
// the expected state, and every port must be blocked). It also reports the
// data-sync flag, the version (with the version file's mtime, so a stale
// file is visible) and the restart-required flag.
//
// The version and restart flag are optional facts: a missing or unreadable
// file leaves that fact absent (not "no restart needed", not a failed
// source), so the sync and peer facts still arrive.
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
	if len(s.cfg.QueueDirs) > 0 {
		if f.Queues, err = measureQueues(ctx, s.cfg.QueueDirs, s.now()); err != nil {
			return nil, err
		}
	}
	if f.SyncState == "" {
		s.probeSync(ctx, def, f)
	}
	if s.cfg.RestartRequiredFile != "" {
		if v, ok := s.readFlag(s.cfg.RestartRequiredFile); ok {
			f.RestartRequired = &v
		}
	}
	if s.cfg.VersionFile != "" {
		f.Version, f.VersionTimestamp = s.readVersion(s.cfg.VersionFile)
	}
	return set, nil
}

// probeSync connects to every replication endpoint and derives the sync
// state and peer_up from them.
func (s *mfilterSource) probeSync(ctx context.Context, def *mfreplica.Config, f *facts.Node) {
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
		_, port, _ := net.SplitHostPort(t)
		p, _ := strconv.Atoi(port)
		f.SyncPorts = append(f.SyncPorts, facts.SyncPort{Peer: peer, Port: p, Up: reach[t]})
		if _, seen := f.PeerUp[peer]; !seen {
			f.PeerUp[peer] = true
		}
		f.PeerUp[peer] = f.PeerUp[peer] && reach[t]
		all = all && reach[t]
	}
	pending := 0.0
	for _, q := range f.Queues {
		pending += q.Messages
	}
	if len(f.Queues) > 0 {
		f.SyncPending = map[string]float64{"items": pending}
	}
	switch {
	case !all:
		f.SyncState = facts.SyncOutOfSync
	case pending > 0:
		// The path is open and the saved/held mail queued on the slave
		// still moves to the master's archive: like a resync after a
		// link outage, no automatic failover is safe until it drains.
		f.SyncState = facts.SyncSyncing
	default:
		f.SyncState = facts.SyncSynced
	}
}

// readVersion returns the version a site job wrote into path, with the
// file's mtime. A missing, unreadable or empty file is no version fact.
func (s *mfilterSource) readVersion(path string) (string, float64) {
	st, err := os.Stat(path)
	if err != nil {
		s.logOptional("version_file", path, err)
		return "", 0
	}
	b, err := readCapped(path, 4096)
	if err != nil {
		s.logOptional("version_file", path, err)
		return "", 0
	}
	v, err := pickVersion(string(b), nil)
	if err != nil {
		s.logOptional("version_file", path, err)
		return "", 0
	}
	return v, float64(st.ModTime().UnixNano()) / 1e9
}

// readFlag reads a restart-required flag file: "", "0", "false", "no" or
// "off" mean false, anything else true. A missing or unreadable file is no
// fact (ok false): the flag is reported only when it can be read.
func (s *mfilterSource) readFlag(path string) (value, ok bool) {
	b, err := readCapped(path, 4096)
	if err != nil {
		s.logOptional("restart_required_file", path, err)
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "", "0", "false", "no", "off":
		return false, true
	}
	return true, true
}

func (s *mfilterSource) logOptional(field, path string, err error) {
	if s.env.Logger != nil {
		s.env.Logger.Debug("m-FILTER optional file not read; the fact is left out", "field", field, "path", path, "err", err)
	}
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
