package collector

import (
	"context"
	"fmt"
	"net"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// vipLocalSource says whether the virtual address is on a local interface:
// active if so, standby if not. It needs no privileges.
type vipLocalSource struct {
	node  string
	vip   net.IP
	addrs func() ([]net.Addr, error)
}

func newVIPLocalSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("vip_local")
	if err != nil {
		return nil, err
	}
	addr := env.Cluster.VirtualAddress
	if src.VIPLocal != nil && src.VIPLocal.Address != "" {
		addr = src.VIPLocal.Address
	}
	ip := net.ParseIP(addr)
	if ip == nil {
		ips, err := net.LookupIP(addr)
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("virtual address %q is not an IP and does not resolve", addr)
		}
		ip = ips[0]
	}
	return &vipLocalSource{node: node, vip: ip, addrs: net.InterfaceAddrs}, nil
}

func (s *vipLocalSource) Collect(context.Context) (facts.Set, error) {
	addrs, err := s.addrs()
	if err != nil {
		return nil, fmt.Errorf("listing interface addresses: %w", err)
	}
	role := facts.RoleStandby
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(s.vip) {
			role = facts.RoleActive
			break
		}
	}
	set := facts.Set{}
	set.Node(s.node).Role = role
	return set, nil
}

// localVIP returns a check of whether the cluster's virtual address is on a
// local interface, or nil when the cluster has none. keepalived (a stopped
// keepalived's role) and marker (which node writes) use it.
func localVIP(env Env) (*vipLocalSource, error) {
	if env.Cluster.VirtualAddress == "" {
		return nil, nil
	}
	v, err := newVIPLocalSource(env, &config.Source{})
	if err != nil {
		return nil, err
	}
	return v.(*vipLocalSource), nil
}

// role is active when the virtual address is here, else standby.
func (s *vipLocalSource) role(ctx context.Context) (facts.Role, error) {
	set, err := s.Collect(ctx)
	if err != nil {
		return "", err
	}
	return set[s.node].Role, nil
}
