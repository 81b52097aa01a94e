// Package collector turns one cluster's configuration into the facts of
// DESIGN.md §3: it probes every service on every node and on the virtual
// address, runs the configured sources, and writes the metrics. All work
// of one collection runs concurrently under one deadline, in the slots of
// the exporter-wide scheduler (collector/sched); a silent node costs one
// timeout, never a hung scrape.
package collector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/prober"
	"github.com/mailcluster/mailcluster_exporter/collector/roundtrip"
	"github.com/mailcluster/mailcluster_exporter/collector/sched"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// Options are the exporter-wide settings a cluster collector needs.
type Options struct {
	LocalNode string // --cluster.node; "" = not a member of any cluster
	Logger    *slog.Logger
	Roles     *RoleTracker // shared across reloads
	Now       func() time.Time
	// Scheduler bounds the probes and commands of every cluster and every
	// collection at once; one per exporter, shared across reloads. nil: a
	// scheduler of this cluster's own with global.max_concurrency slots.
	Scheduler *sched.Scheduler
}

// Cluster collects one cluster.
type Cluster struct {
	cfg      *config.Cluster
	global   config.Global
	opts     Options
	local    string // this exporter's node in this cluster, or ""
	sources  []*sourceRunner
	primary  string       // the service whose answer means "serving" (node_observed)
	probes   []*probeTask // services on nodes and the virtual address, liveness checks
	provides Provides     // union over configured sources: is a role/sync fact expected?
	// greetingVersions: no configured source reports versions, so the
	// version a service's greeting states stands in (agentless clusters).
	// Mixing the two would make exporters disagree about one node.
	greetingVersions bool
	group            *sched.Group      // this cluster's turn in the scheduler
	silent           silentNodes       // nodes that answered nothing last time
	roundTrip        *roundtrip.Runner // nil unless configured
}

type sourceRunner struct {
	name     string
	provides Provides
	nodes    []string
	local    bool // runs on, and describes, this exporter's own node
	src      Source
}

// probeTask is one protocol check of one service on one address.
type probeTask struct {
	node    string // "" for the virtual address
	service *config.Service
	live    bool // a liveness check, not a service
	prober  prober.Prober
	target  prober.Target
}

// New builds the collector of one cluster; every error is a configuration
// problem found up front (unknown protocol, unreadable CA file…).
func New(cfg *config.Cluster, global config.Global, opts Options) (*Cluster, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Roles == nil {
		opts.Roles = NewRoleTracker()
	}
	if opts.Scheduler == nil {
		opts.Scheduler = sched.New(global.MaxConcurrency)
	}
	c := &Cluster{cfg: cfg, global: global, opts: opts}
	c.group = opts.Scheduler.NewGroup(cfg.MaxConcurrency)
	if cfg.NodeByName(opts.LocalNode) != nil {
		c.local = opts.LocalNode
	}
	env := Env{Cluster: cfg, Global: global, LocalNode: c.local, Runner: Runner{MaxOutput: global.MaxOutputBytes},
		Logger: opts.Logger.With("cluster", cfg.Name)}
	c.primary = primaryService(cfg)
	for _, s := range cfg.Sources {
		if s.Type == "service" {
			continue // only chooses the primary service of the observations
		}
		f, ok := factories[s.Type]
		if !ok {
			return nil, fmt.Errorf("cluster %q: source %q: type %q is not implemented yet", cfg.Name, s.Name, s.Type)
		}
		if f.local && c.local == "" {
			env.Logger.Debug("skipping local source: this exporter is not a node of the cluster", "source", s.Name)
			continue
		}
		src, err := f.build(env, s)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: source %q: %w", cfg.Name, s.Name, err)
		}
		nodes := []string{c.local}
		if f.all || !f.local {
			nodes = nodeNames(cfg)
		}
		p := f.provides(s)
		c.sources = append(c.sources, &sourceRunner{name: s.Name, provides: p, nodes: nodes, local: f.local && !f.all, src: src})
		c.provides.Role = c.provides.Role || p.Role
		c.provides.Sync = c.provides.Sync || p.Sync
	}
	if cfg.Kind == config.KindMasterSlave {
		c.provides.Role = true // roles come from the configuration
	}
	c.greetingVersions = true
	for _, s := range cfg.Sources {
		switch s.Type {
		case "version", "command", "http", "mfilter":
			c.greetingVersions = false
		}
	}
	if err := c.buildProbes(); err != nil {
		return nil, fmt.Errorf("cluster %q: %w", cfg.Name, err)
	}
	rt, err := c.newRoundTrip()
	if err != nil {
		return nil, fmt.Errorf("cluster %q: roundtrip: %w", cfg.Name, err)
	}
	c.roundTrip = rt
	return c, nil
}

// Name is the cluster name.
func (c *Cluster) Name() string { return c.cfg.Name }

func nodeNames(cfg *config.Cluster) []string {
	out := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		out[i] = n.Name
	}
	return out
}

func (c *Cluster) buildProbes() error {
	add := func(node, host string, s *config.Service, live bool) error {
		p, ok := prober.Lookup(s.Protocol)
		if !ok {
			return fmt.Errorf("service %q: no prober for protocol %q", s.Name, s.Protocol)
		}
		t, err := c.target(host, s)
		if err != nil {
			return fmt.Errorf("service %q: %w", s.Name, err)
		}
		c.probes = append(c.probes, &probeTask{node: node, service: s, live: live, prober: p, target: t})
		return nil
	}
	for _, s := range c.cfg.Services {
		for _, n := range c.cfg.Nodes {
			if err := add(n.Name, n.Address, s, false); err != nil {
				return err
			}
		}
		if c.cfg.VirtualAddress != "" {
			if err := add("", c.cfg.VirtualAddress, s, false); err != nil {
				return err
			}
		}
	}
	for _, s := range c.cfg.Liveness {
		for _, n := range c.cfg.Nodes {
			if err := add(n.Name, n.Address, s, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// target is the prober's view of service s on host. Certificates are
// checked against the configured tls_server_name, never against host: nodes
// are usually configured by address while their certificate names the
// service (mail.example.com).
func (c *Cluster) target(host string, s *config.Service) (prober.Target, error) {
	t := prober.Target{
		Address:       net.JoinHostPort(host, strconv.Itoa(s.Port)),
		TLS:           prober.TLSMode(s.TLSMode()),
		Opportunistic: s.Opportunistic(),
		ServerName:    c.cfg.TLSServerNameFor(s),
		HeloName:      c.global.HeloName,
		HTTPPath:      s.HTTPPath, HTTPExpectStatus: s.HTTPExpectStatus, HTTPHost: s.HTTPHost,
		DNSQueryName: s.DNSQueryName, DNSQueryType: s.DNSQueryType, DNSTransport: s.DNSTransport,
		LDAPBaseDN: s.LDAPBaseDN,
	}
	if s.Auth != nil {
		t.Login = &prober.Login{Credentials: s.Auth.Credentials, Mechanism: s.Auth.Mechanism, AllowPlaintext: s.Auth.AllowPlaintextAuth}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return t, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return t, fmt.Errorf("ca_file %s: no PEM certificate found", s.CAFile)
		}
		tc.RootCAs = pool
	}
	t.TLSConfig = tc
	return t, nil
}

// ProbeOutcome is one probe's result in a snapshot.
type ProbeOutcome struct {
	Service *config.Service
	Result  prober.Result
	// NotRun: the collection ran out of time before the probe started;
	// nothing is reported for it.
	NotRun bool
}

// SourceStatus is how one source did for one node.
type SourceStatus struct {
	Name     string
	Node     string
	Up       bool
	Duration time.Duration
}

// Snapshot is everything one collection observed about a cluster.
type Snapshot struct {
	Cluster  *config.Cluster
	Facts    facts.Set
	Services map[string][]ProbeOutcome // node -> service probes
	Virtual  []ProbeOutcome
	// Observed is what this exporter's probes saw of each node; a node
	// without a probe that ran is absent.
	Observed map[string]facts.Observation
	Sources  []SourceStatus
	Roles    map[string]RoleHistory
	Window   WindowState
	Provides Provides
	// RoundTrip is the last finished round trip (set by Cluster.RoundTrip).
	RoundTrip *RoundTripState
}

// WindowState is the update window of a cluster at collection time: End is
// the end of the open window, or of the last one for 24 h after it ended.
type WindowState struct {
	Open bool
	End  time.Time
}

// Collect runs every probe and source of the cluster under ctx.
func (c *Cluster) Collect(ctx context.Context) *Snapshot {
	snap := &Snapshot{
		Cluster:  c.cfg,
		Facts:    facts.Set{},
		Services: map[string][]ProbeOutcome{},
		Provides: c.provides,
	}
	observedAt := c.opts.Now() // the facts are as of the start of the collection
	var mu sync.Mutex
	// Every probe and source waits for a slot of the exporter-wide
	// scheduler; one that gets none before the deadline never runs and
	// reports nothing. Nodes that answered nothing last time go last.
	batch := c.group.Batch(ctx)
	silent := c.silent.get()
	probed := make([]ProbeOutcome, len(c.probes)) // by index; NotRun until a probe reports
	started := make([]bool, len(c.probes))        // got a slot (and may have been cut short)
	for i, p := range c.probes {
		probed[i] = ProbeOutcome{Service: p.service, NotRun: true}
		pri := sched.Normal
		if silent[p.node] { // "" is the virtual address
			pri = sched.Deferred
		}
		batch.Go(pri, func() {
			started[i] = true
			res, ran := c.probe(ctx, p)
			probed[i] = ProbeOutcome{Service: p.service, Result: res, NotRun: !ran}
		})
	}
	results := make([]facts.Set, len(c.sources))
	failed := make([]bool, len(c.sources))
	ranSource := make([]bool, len(c.sources))
	for i, s := range c.sources {
		batch.Go(sched.Normal, func() {
			start := time.Now()
			set, err := s.collect(ctx)
			d := time.Since(start)
			if err != nil {
				c.opts.Logger.Warn("source failed", "cluster", c.cfg.Name, "source", s.name, "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			ranSource[i] = true
			results[i], failed[i] = set, err != nil
			for _, n := range s.nodes {
				snap.Sources = append(snap.Sources, SourceStatus{Name: s.name, Node: n, Up: err == nil, Duration: d})
			}
			if err != nil {
				results[i] = unknownFacts(s)
			}
		})
	}
	batch.Wait()
	for i, s := range c.sources {
		if !ranSource[i] { // no slot before the deadline: the source could not produce its facts
			c.opts.Logger.Warn("source not run: no free slot before the scrape deadline (raise the scrape timeout or global.max_concurrency)",
				"cluster", c.cfg.Name, "source", s.name)
			for _, n := range s.nodes {
				snap.Sources = append(snap.Sources, SourceStatus{Name: s.name, Node: n, Up: false})
			}
			results[i], failed[i] = unknownFacts(s), true
		}
	}
	live := map[string][]ProbeOutcome{} // node -> liveness checks
	for i, p := range c.probes {
		o := probed[i]
		switch {
		case p.live:
			live[p.node] = append(live[p.node], o)
		case p.node == "":
			snap.Virtual = append(snap.Virtual, o)
		default:
			snap.Services[p.node] = append(snap.Services[p.node], o)
		}
	}
	c.silent.update(c.probes, started, probed)
	// Sources merge as the rules merge exporters (facts.Merge): worst peer
	// and sync state, an explicit switch-off, known roles win; otherwise
	// earlier sources in the configuration take precedence.
	for _, set := range results {
		for name, n := range set {
			if c.cfg.NodeByName(name) == nil {
				c.opts.Logger.Debug("source reported an unconfigured node; ignored", "cluster", c.cfg.Name, "node", name)
				continue
			}
			snap.Facts.Node(name).Merge(n)
		}
	}
	snap.Observed = observe(c.primary, snap.Services, live)
	if c.greetingVersions {
		c.versionsFromGreetings(snap)
	}
	if c.cfg.Kind == config.KindMasterSlave {
		c.applyConfiguredRoles(snap, results, failed)
	}
	// A node no source of this exporter describes gets no role fact here:
	// a local source (keepalived, drbd…) on node a says nothing about node
	// b, and b's own exporter reports it. The rules turn a configured node
	// that nobody reports into `unknown` (green needs evidence); a source
	// that failed left `unknown` above for the nodes it is responsible for.
	snap.Roles = c.opts.Roles.Observe(c.cfg.Name, snap.Facts, observedAt)
	sortOutcomes(snap)
	return snap
}

// versionsFromGreetings takes, for each node, the version stated by the
// first configured service whose greeting states one (deterministic: the
// configuration's order, not the order probes finished in).
func (c *Cluster) versionsFromGreetings(snap *Snapshot) {
	for node, outcomes := range snap.Services {
		f := snap.Facts.Node(node)
		for _, svc := range c.cfg.Services {
			for _, o := range outcomes {
				if f.Version == "" && o.Service == svc && o.Result.Version != "" {
					f.Version = o.Result.Version
				}
			}
		}
	}
}

func (s *sourceRunner) collect(ctx context.Context) (set facts.Set, err error) {
	defer func() {
		if r := recover(); r != nil { // a parser bug must not take the exporter down
			set, err = nil, fmt.Errorf("source panicked: %v", r)
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("no time left: %w", err)
	}
	set, err = s.src.Collect(ctx)
	if err != nil {
		return nil, err
	}
	return s.provides.keep(set), nil
}

// unknownFacts is what a failed source leaves: the facts it is responsible
// for become unknown on the nodes it describes.
func unknownFacts(s *sourceRunner) facts.Set {
	set := facts.Set{}
	for _, n := range s.nodes {
		f := set.Node(n)
		if s.provides.Role {
			f.Role = facts.RoleUnknown
		}
		if s.provides.Sync {
			f.SyncState = facts.SyncUnknown
		}
	}
	return set
}

// applyConfiguredRoles reports a master_slave node's configured role where
// a source of this exporter confirms the node is up: a local source that
// ran on it, or a source that succeeded and described it. A role a source
// reported (offline, say) stands; a node whose describing sources all
// failed is unknown; a node no source describes gets no role here (its
// own exporter reports it, and the rules read the observations).
func (c *Cluster) applyConfiguredRoles(snap *Snapshot, results []facts.Set, failed []bool) {
	confirmed, unconfirmed := map[string]bool{}, map[string]bool{}
	for i, s := range c.sources {
		for _, n := range s.nodes {
			_, described := results[i][n]
			switch {
			case failed[i]:
				unconfirmed[n] = true
			case s.local || described:
				confirmed[n] = true
			}
		}
	}
	for _, n := range c.cfg.Nodes {
		f := snap.Facts[n.Name]
		switch {
		case f != nil && f.Role != "" && f.Role != facts.RoleUnknown:
		case confirmed[n.Name]:
			snap.Facts.Node(n.Name).Role = facts.Role(n.Role)
		case unconfirmed[n.Name]:
			snap.Facts.Node(n.Name).Role = facts.RoleUnknown
		}
	}
}

// probe runs one check within the service timeout and what is left of
// ctx. ran is false when the check measured the exporter rather than the
// server: the collection's deadline passed before it could start, or cut
// it short before the service's own timeout. Neither is evidence that the
// service is down, and neither is reported. The duration starts at the
// dial, after the wait for a slot.
func (c *Cluster) probe(ctx context.Context, p *probeTask) (res prober.Result, ran bool) {
	if err := ctx.Err(); err != nil {
		return prober.Result{Err: fmt.Errorf("not started: %w", err)}, false
	}
	start := time.Now()
	timeout := time.Duration(p.service.Timeout)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res = p.prober(pctx, p.target)
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	if !res.Up && cutShort(ctx, start.Add(timeout)) {
		c.opts.Logger.Warn("probe cut short by the scrape deadline, not reported (raise the scrape timeout or global.max_concurrency)",
			"cluster", c.cfg.Name, "node", p.node, "service", p.service.Name)
		return res, false
	}
	if res.Err != nil {
		c.opts.Logger.Debug("probe failed", "cluster", c.cfg.Name, "node", p.node, "service", p.service.Name, "err", res.Err)
	}
	return res, true
}

// cutShort reports whether a failed probe ended because the collection
// ended (cancelled, or its deadline passed) before the probe's own
// deadline. The connection's I/O deadline can fire a moment before the
// context's timer, hence the clock.
func cutShort(ctx context.Context, own time.Time) bool {
	if dl, ok := ctx.Deadline(); ok && dl.Before(own) {
		return ctx.Err() != nil || !time.Now().Before(dl)
	}
	return ctx.Err() != nil
}
