package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/drbd"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// drbdSource reads DRBD 9's `drbdsetup status --json` (default), its text
// status (format: text), `drbdsetup events2 --now --statistics` (format:
// events2) or DRBD 8.4's /proc/drbd (format: proc) on the node it runs on:
// the local role (Primary = active), the peer connection (peer_up) and the
// replication state (sync_state, progress, out-of-sync bytes). drbdsetup
// needs root (or CAP_SYS_ADMIN); /proc/drbd is world-readable.
//
// A configured resource that the output does not list (the module is not
// loaded after a reboot, the resource is down) is a source error: the
// rules then see sync `unknown`, never a silent `disabled` (DESIGN §2.10).
type drbdSource struct {
	env  Env
	node string
	cfg  *config.DRBDSource
	cmd  config.Command
	opts drbd.Options
}

func newDRBDSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("drbd")
	if err != nil {
		return nil, err
	}
	cfg := src.DRBD
	if cfg == nil {
		cfg = &config.DRBDSource{}
	}
	var argv []string
	switch cfg.Format {
	case "text":
		argv = []string{"drbdsetup", "status", "--verbose", "--statistics"}
	case "events2":
		argv = []string{"drbdsetup", "events2", "--now", "--statistics"}
	default:
		argv = []string{"drbdsetup", "status", "--json"}
	}
	s := &drbdSource{env: env, node: node, cfg: cfg, cmd: withDefault(cfg.Command, argv...)}
	if cfg.Resource != "" {
		s.opts.Resources = []string{cfg.Resource}
	}
	s.opts.Rename = cfg.Peers
	if cfg.Format == "proc" && len(cfg.Peers) == 0 {
		// /proc/drbd names no peer: in a pair it is the other node
		if others := otherNodes(env.Cluster, node); len(others) == 1 {
			s.opts.Rename = map[string]string{drbd.PeerName8: others[0]}
		}
	}
	return s, nil
}

func (s *drbdSource) Collect(ctx context.Context) (facts.Set, error) {
	var res []drbd.Resource
	if s.cfg.Format == "proc" {
		path := s.cfg.ProcFile
		if path == "" {
			path = "/proc/drbd"
		}
		b, err := readCapped(path, s.env.Global.MaxOutputBytes)
		if err != nil {
			return nil, err
		}
		if res, err = drbd.ParseProc(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else {
		out, err := s.env.Runner.Run(ctx, s.cmd)
		if err != nil {
			return nil, err
		}
		switch s.cfg.Format {
		case "text":
			res, err = drbd.ParseStatus(bytes.NewReader(out))
		case "events2":
			res, err = drbd.ParseEvents2(bytes.NewReader(out))
		default:
			res, err = drbd.ParseJSON(out)
		}
		if err != nil {
			return nil, fmt.Errorf("drbdsetup output: %w", err)
		}
	}
	if err := missingResources(res, s.opts.Resources); err != nil {
		return nil, err
	}
	set := facts.Set{}
	set[s.node] = drbd.NodeFacts(res, s.opts)
	return set, nil
}

// missingResources is an error naming the configured resources the output
// does not list, or saying that no resource is up when none is named.
func missingResources(res []drbd.Resource, names []string) error {
	up := map[string]bool{}
	for _, r := range res {
		if !r.Unconfigured {
			up[r.Name] = true
		}
	}
	if len(names) == 0 {
		if len(up) == 0 {
			return errors.New("no DRBD resource is up (module not loaded?)")
		}
		return nil
	}
	var missing []string
	for _, n := range names {
		if !up[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("configured DRBD resource %s is not up (module not loaded, or resource down)", strings.Join(missing, ", "))
	}
	return nil
}

// readCapped reads a file of at most max bytes.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w (%d bytes)", path, errOutputTooLarge, max)
	}
	return b, nil
}
