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
	provides Provides
	// local sources describe the node the exporter runs on; on other
	// exporters they are skipped.
	local bool
	build func(env Env, src *config.Source) (Source, error)
}

// factories registers every source type in one place.
var factories = map[string]factory{
	"command":       {provides: Provides{Role: true, Sync: true}, build: newCommandSource},
	"http":          {provides: Provides{Role: true, Sync: true}, build: newHTTPSource},
	"vip_local":     {provides: Provides{Role: true}, local: true, build: newVIPLocalSource},
	"peer_tcp":      {local: true, build: newPeerTCPSource},
	"queue_dir":     {local: true, build: newQueueDirSource},
	"version":       {local: true, build: newVersionSource},
	"marker":        {provides: Provides{Sync: true}, local: true, build: newMarkerSource},
	"pacemaker":     {provides: Provides{Role: true}, local: true, build: newPacemakerSource},
	"drbd":          {provides: Provides{Role: true, Sync: true}, local: true, build: newDRBDSource},
	"keepalived":    {provides: Provides{Role: true}, local: true, build: newKeepalivedSource},
	"dovecot":       {provides: Provides{Sync: true}, local: true, build: newDovecotSource},
	"postfix_queue": {local: true, build: newPostfixQueueSource},
	"clpstat":       {provides: Provides{Role: true}, local: true, build: newClpstatSource},
	"solaris":       {provides: Provides{Role: true}, local: true, build: newSolarisSource},
	"mfilter":       {provides: Provides{Sync: true}, local: true, build: newMFilterSource},
	"vip_holder":    {provides: Provides{Role: true}, build: newVIPHolderSource},
}
