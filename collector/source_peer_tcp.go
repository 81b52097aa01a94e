package collector

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// peerTCPSource connects from this node to every peer's sync/heartbeat
// ports (on the peer's sync_address, else its address). A peer is up when
// every port accepts a connection.
type peerTCPSource struct {
	node    string
	peers   []*config.Node
	ports   []int
	timeout time.Duration
}

func newPeerTCPSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("peer_tcp")
	if err != nil {
		return nil, err
	}
	s := &peerTCPSource{node: node, ports: src.PeerTCP.Ports, timeout: time.Duration(src.PeerTCP.Timeout)}
	if s.timeout <= 0 {
		s.timeout = config.DefaultPeerTCPTimeout
	}
	for _, n := range env.Cluster.Nodes {
		if n.Name != node {
			s.peers = append(s.peers, n)
		}
	}
	return s, nil
}

func (s *peerTCPSource) Collect(ctx context.Context) (facts.Set, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	up := make(map[string]bool, len(s.peers))
	for _, p := range s.peers {
		up[p.Name] = true // before any dial goroutine writes the map
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range s.peers {
		host := p.SyncAddress
		if host == "" {
			host = p.Address
		}
		for _, port := range s.ports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var d net.Dialer
				conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
				if err == nil {
					conn.Close()
				}
				mu.Lock()
				up[p.Name] = up[p.Name] && err == nil
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	set := facts.Set{}
	set.Node(s.node).PeerUp = up
	return set, nil
}

// dialAll connects to every target concurrently and reports which answered.
func dialAll(ctx context.Context, targets []string, timeout time.Duration) map[string]bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make(map[string]bool, len(targets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", t)
			if err == nil {
				c.Close()
			}
			mu.Lock()
			out[t] = err == nil
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
