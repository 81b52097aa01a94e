package collector

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/keepalived"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// keepalivedSource reads keepalived's own view of the VRRP instance on the
// node it runs on: MASTER → active, BACKUP → standby, FAULT → offline. It
// reads, in this order of preference, the state file of the notify script
// shipped in examples/keepalived/ (state_file), the --signum=JSON dump
// (json_file) or the --signum=DATA dump (data_file). With pid_file set it
// also reports redundancy_enabled: whether keepalived runs. A stopped
// keepalived leaves a stale state behind, so the role then comes from
// whether the virtual address is on a local interface.
type keepalivedSource struct {
	env  Env
	node string
	cfg  *config.KeepalivedSource
	vip  *vipLocalSource // nil when the cluster has no virtual address
}

func newKeepalivedSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("keepalived")
	if err != nil {
		return nil, err
	}
	vip, err := localVIP(env)
	if err != nil {
		return nil, err
	}
	return &keepalivedSource{env: env, node: node, cfg: src.Keepalived, vip: vip}, nil
}

func (s *keepalivedSource) Collect(ctx context.Context) (facts.Set, error) {
	set := facts.Set{}
	if s.cfg.PIDFile != "" {
		running, err := processRunning(s.cfg.PIDFile, "keepalived")
		if err != nil {
			return nil, err
		}
		if !running {
			f := set.Node(s.node)
			f.RedundancyEnabled = facts.Bool(false)
			f.RoleCause = "keepalived is not running"
			f.Role = facts.RoleStandby
			if s.vip != nil {
				if f.Role, err = s.vip.role(ctx); err != nil {
					return nil, err
				}
			}
			return set, nil
		}
	}
	data, err := s.read()
	if err != nil {
		return nil, err
	}
	n, err := keepalived.NodeFacts(data, s.cfg.Instance)
	if err != nil {
		return nil, err
	}
	if s.cfg.PIDFile != "" {
		n.RedundancyEnabled = facts.Bool(true)
	}
	set[s.node] = n
	return set, nil
}

func (s *keepalivedSource) read() (*keepalived.Data, error) {
	max := s.env.Global.MaxOutputBytes
	switch {
	case s.cfg.StateFile != "":
		b, err := readCapped(s.cfg.StateFile, max)
		if err != nil {
			return nil, err
		}
		in, err := keepalived.ParseStateFile(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.cfg.StateFile, err)
		}
		return &keepalived.Data{Instances: in}, nil
	case s.cfg.JSONFile != "":
		b, err := readCapped(s.cfg.JSONFile, max)
		if err != nil {
			return nil, err
		}
		d, err := keepalived.ParseJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.cfg.JSONFile, err)
		}
		return d, nil
	default:
		b, err := readCapped(s.cfg.DataFile, max)
		if err != nil {
			return nil, err
		}
		d, err := keepalived.ParseData(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.cfg.DataFile, err)
		}
		return d, nil
	}
}

// processRunning reports whether the pid in pidFile is a live (not zombie)
// process whose command name contains name. A missing pid file means not
// running.
func processRunning(pidFile, name string) (bool, error) {
	b, err := os.ReadFile(pidFile)
	if os.IsNotExist(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false, fmt.Errorf("%s: not a pid: %q", pidFile, strings.TrimSpace(string(b)))
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false, nil // gone
	}
	var comm, state string
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Name:"); ok {
			comm = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "State:"); ok {
			state = strings.TrimSpace(v)
		}
	}
	return strings.Contains(comm, name) && !strings.HasPrefix(state, "Z"), nil
}
