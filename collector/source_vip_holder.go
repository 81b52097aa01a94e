package collector

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// vipHolderSource tells, without an agent, which node holds the common
// (virtual) address: it reads a fingerprint (SSH host key, TLS certificate
// or an HTTP header) through the virtual address and on each node's own
// address. The node whose fingerprint is the one seen through the virtual
// address holds it: that is the cluster's own claim (the appliance put the
// address there), a reported role (DESIGN §2.8): the holder is active, the
// other nodes that answer are standby. It keeps telling the boxes apart
// while their mail services are stopped for an update.
//
// Nothing answering through the virtual address is no evidence about who
// holds it: no fact. Two nodes with the same fingerprint (a cloned host
// key) cannot be told apart: the source fails, naming them.
type vipHolderSource struct {
	vip     string
	nodes   []*config.Node
	port    int
	timeout time.Duration
	print   fingerprinter
}

func newVIPHolderSource(env Env, src *config.Source) (Source, error) {
	cfg := src.VIPHolder
	s := &vipHolderSource{vip: env.Cluster.VirtualAddress, nodes: env.Cluster.Nodes, port: cfg.Port,
		timeout: time.Duration(cfg.Timeout)}
	if s.timeout <= 0 {
		s.timeout = time.Duration(env.Global.ProbeTimeout)
	}
	if s.timeout <= 0 {
		s.timeout = fingerprintTimeout
	}
	defaultPort := 0
	switch cfg.Method {
	case "ssh":
		s.print, defaultPort = sshHostKey, 22
	case "tls":
		s.print, defaultPort = tlsCertificate, 443
	case "http_header":
		s.print, defaultPort = httpHeader(cfg.Header, cfg.HTTPPath), 80
	default:
		return nil, fmt.Errorf("vip_holder: unknown method %q", cfg.Method)
	}
	if s.port == 0 {
		s.port = defaultPort
	}
	if s.vip == "" {
		return nil, fmt.Errorf("vip_holder: the cluster has no virtual_address")
	}
	return s, nil
}

func (s *vipHolderSource) Collect(ctx context.Context) (facts.Set, error) {
	hosts := map[string]string{"": s.vip} // "" is the virtual address
	for _, n := range s.nodes {
		hosts[n.Name] = n.Address
	}
	prints := map[string]string{}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, host := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, s.timeout)
			defer cancel()
			fp, err := s.print(pctx, net.JoinHostPort(host, strconv.Itoa(s.port)))
			if err != nil {
				return // nothing answers there: no evidence
			}
			mu.Lock()
			prints[name] = fp
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fingerprints not read in time: %w", err)
	}
	set := facts.Set{}
	through, ok := prints[""]
	if !ok {
		return set, nil
	}
	owner := map[string]string{}
	for _, n := range s.nodes {
		fp, ok := prints[n.Name]
		if !ok {
			continue
		}
		if other, dup := owner[fp]; dup {
			return nil, fmt.Errorf("nodes %s and %s show the same fingerprint on port %d: the holder of the virtual address cannot be told apart (use another vip_holder method)", other, n.Name, s.port)
		}
		owner[fp] = n.Name
	}
	for _, n := range s.nodes {
		fp, ok := prints[n.Name]
		if !ok {
			continue
		}
		f := set.Node(n.Name)
		holds := fp == through
		f.VirtualHolder = facts.Bool(holds)
		f.Role = facts.RoleStandby
		if holds {
			f.Role = facts.RoleActive
		}
	}
	return set, nil
}
