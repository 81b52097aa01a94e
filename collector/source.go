package collector

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// Source produces facts about nodes of one cluster. Collect returns an
// error when the source could not produce its facts (the command failed,
// the output did not parse); what it observed, healthy or not, is a fact.
type Source interface {
	Collect(ctx context.Context) (facts.Set, error)
}

// Provides says which kinds of fact a source is responsible for, so that a
// failed source turns them into `unknown` instead of leaving them absent:
// green needs evidence.
type Provides struct {
	Role bool
	Sync bool
}

// Env is what a source factory may use.
type Env struct {
	Cluster   *config.Cluster
	Global    config.Global
	LocalNode string // the node this exporter runs on ("" when not a member)
	Runner    Runner
	Logger    *slog.Logger
}

// local returns the node name a local source describes, or an error when
// this exporter is not running on a node of the cluster.
func (e Env) local(kind string) (string, error) {
	if e.LocalNode == "" {
		return "", fmt.Errorf("%s reads the node it runs on, but this exporter is not a node of cluster %q (set --cluster.node)", kind, e.Cluster.Name)
	}
	return e.LocalNode, nil
}

// factory builds a source; nodes are the node names it reports about.
type factory struct {
	// provides says which fact families a source with this configuration
	// is responsible for: a failed source leaves them unknown on every node
	// it describes, and a source reports no family it does not declare.
	provides func(src *config.Source) Provides
	// local sources run on a node of the cluster; on other exporters they
	// are skipped.
	local bool
	// all: the source describes every node of the cluster, not only the
	// one it runs on (cluster managers, the JSON adapter).
	all   bool
	build func(env Env, src *config.Source) (Source, error)
}

// fixed is the declaration of a source whose facts do not depend on its
// configuration.
func fixed(p Provides) func(*config.Source) Provides {
	return func(*config.Source) Provides { return p }
}

// adapterProvides reads the `provides` list of a command or http source
// (default: role and sync).
func adapterProvides(list []string) Provides {
	if list == nil {
		return Provides{Role: true, Sync: true}
	}
	var p Provides
	for _, f := range list {
		switch f {
		case config.ProvidesRole:
			p.Role = true
		case config.ProvidesSync:
			p.Sync = true
		}
	}
	return p
}

// factories registers every source type in one place.
var factories = map[string]factory{
	"command": {all: true, build: newCommandSource, provides: func(s *config.Source) Provides {
		return adapterProvides(s.Command.Provides)
	}},
	"http": {all: true, build: newHTTPSource, provides: func(s *config.Source) Provides {
		return adapterProvides(s.HTTP.Provides)
	}},
	"vip_local":     {provides: fixed(Provides{Role: true}), local: true, build: newVIPLocalSource},
	"peer_tcp":      {provides: fixed(Provides{}), local: true, build: newPeerTCPSource},
	"queue_dir":     {provides: fixed(Provides{}), local: true, build: newQueueDirSource},
	"version":       {provides: fixed(Provides{}), local: true, build: newVersionSource},
	"marker":        {provides: fixed(Provides{Sync: true}), local: true, build: newMarkerSource},
	"pacemaker":     {provides: fixed(Provides{Role: true}), local: true, all: true, build: newPacemakerSource},
	"drbd":          {provides: fixed(Provides{Role: true, Sync: true}), local: true, build: newDRBDSource},
	"keepalived":    {provides: fixed(Provides{Role: true}), local: true, build: newKeepalivedSource},
	"dovecot":       {provides: fixed(Provides{Sync: true}), local: true, build: newDovecotSource},
	"postfix_queue": {provides: fixed(Provides{}), local: true, build: newPostfixQueueSource},
	"clpstat": {local: true, all: true, build: newClpstatSource, provides: func(s *config.Source) Provides {
		return Provides{Role: true, Sync: len(s.Clpstat.MirrorCommand.Argv) > 0}
	}},
	"solaris": {local: true, all: true, build: newSolarisSource, provides: func(s *config.Source) Provides {
		return Provides{Role: true, Sync: s.Solaris.StorageResource != ""}
	}},
	"mfilter": {provides: fixed(Provides{Role: true, Sync: true}), local: true, build: newMFilterSource},
}

// keep strips the fact families a source did not declare, so that what a
// source reports while it works is exactly what turns unknown when it fails.
func (p Provides) keep(set facts.Set) facts.Set {
	for _, n := range set {
		if !p.Role {
			n.Role, n.RoleCause = "", ""
		}
		if !p.Sync {
			n.SyncState = ""
		}
	}
	return set
}
