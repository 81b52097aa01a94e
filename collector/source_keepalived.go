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
	"github.com/mailcluster/mailcluster_exporter/collector/parse/keepalived"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// keepalivedSource reads keepalived's own view of the VRRP instance on the
// node it runs on: MASTER → active, BACKUP → standby, FAULT → offline. It
// reads, in this order of preference, the state file of the notify script
// shipped in collector/parse/keepalived (state_file), the --signum=JSON dump
// (json_file) or the --signum=DATA dump (data_file).
//
// Gray needs evidence: only a recorded STOP (the notify script's line on a
// graceful stop) switches redundancy off. With pid_file set, a keepalived
// that is not running and recorded no STOP crashed: the node is offline
// from its own view (active if it still holds the virtual address) and
// redundancy_enabled is left unreported. A state older than max_state_age
// is not trusted where its freshness is in doubt (a dump, or a state file
// without pid_file): the role is then unknown.
//
// A BACKUP's dump also states the peer's role: "Master router" (DATA) names
// the master's address; a master priority (JSON) in a pair names the other
// node. That node is reported active, as this node sees it.
type keepalivedSource struct {
	env     Env
	node    string
	cfg     *config.KeepalivedSource
	vip     *vipLocalSource // nil when the cluster has no virtual address
	now     func() time.Time
	running func(pidFile, name string) (bool, error)
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
	return &keepalivedSource{env: env, node: node, cfg: src.Keepalived, vip: vip, now: time.Now, running: processRunning}, nil
}

// keepalivedState is one read of a keepalived file.
type keepalivedState struct {
	data *keepalived.Data
	in   *keepalived.Instance
	age  time.Duration // since the file was last written
	dump bool          // a --signum dump (a snapshot), not the notify state file
}

func (st *keepalivedState) stopped() bool { return strings.EqualFold(st.in.State, "STOP") }

func (s *keepalivedSource) Collect(ctx context.Context) (facts.Set, error) {
	set := facts.Set{}
	f := set.Node(s.node)
	st, stErr := s.read(s.primaryFile())
	if s.cfg.PIDFile != "" {
		running, err := s.running(s.cfg.PIDFile, "keepalived")
		if err != nil {
			return nil, err
		}
		if !running {
			return set, s.notRunning(ctx, f, st, stErr)
		}
	}
	if stErr != nil {
		return nil, stErr
	}
	if s.stale(st, s.cfg.PIDFile != "") {
		f.Role = facts.RoleUnknown
		f.RoleCause = fmt.Sprintf("keepalived state is %s old, older than max_state_age", st.age.Round(time.Second))
		if s.cfg.PIDFile != "" {
			f.RedundancyEnabled = facts.Bool(true) // it runs: only the state is unknown
		}
		return set, nil
	}
	if st.stopped() && s.cfg.PIDFile == "" {
		return set, s.gracefulStop(ctx, f)
	}
	n, err := keepalived.NodeFacts(st.data, s.cfg.Instance)
	if err != nil {
		return nil, err
	}
	if s.cfg.PIDFile != "" {
		n.RedundancyEnabled = facts.Bool(true)
	}
	set[s.node] = n
	if n.Role == facts.RoleStandby {
		s.peerView(set, st)
	}
	return set, nil
}

// notRunning describes a node whose keepalived is not running: a recorded
// STOP is a graceful stop (redundancy off); anything else is a crash.
func (s *keepalivedSource) notRunning(ctx context.Context, f *facts.Node, st *keepalivedState, stErr error) error {
	if stErr == nil && !st.dump && st.stopped() {
		return s.gracefulStop(ctx, f)
	}
	f.Role = facts.RoleOffline
	f.RoleCause = "keepalived is not running and recorded no STOP (crashed or killed)"
	if s.vip != nil {
		role, err := s.vip.role(ctx)
		if err != nil {
			return err
		}
		if role == facts.RoleActive {
			f.Role = facts.RoleActive
			f.RoleCause = "keepalived is not running (crashed or killed) but the virtual address is still on this node"
		}
	}
	return nil
}

// gracefulStop: keepalived released the instance on purpose. Redundancy is
// off; the role is whether the node still holds the virtual address.
func (s *keepalivedSource) gracefulStop(ctx context.Context, f *facts.Node) error {
	f.RedundancyEnabled = facts.Bool(false)
	f.RoleCause = "keepalived was stopped (STOP recorded)"
	f.Role = facts.RoleStandby
	if s.vip != nil {
		role, err := s.vip.role(ctx)
		if err != nil {
			return err
		}
		f.Role = role
	}
	return nil
}

// stale says whether a state's age makes it untrustworthy: a dump is a
// snapshot and always ages; the notify state file changes only on
// transitions, so its age matters only when nothing says keepalived runs.
func (s *keepalivedSource) stale(st *keepalivedState, runningKnown bool) bool {
	limit := time.Duration(s.cfg.MaxStateAge)
	if limit <= 0 || (!st.dump && runningKnown) {
		return false
	}
	return st.age > limit
}

// peerView reports the master a BACKUP hears as active.
func (s *keepalivedSource) peerView(set facts.Set, st *keepalivedState) {
	if !st.dump {
		dumpFile := s.cfg.JSONFile
		if dumpFile == "" {
			dumpFile = s.cfg.DataFile
		}
		if dumpFile == "" {
			return
		}
		var err error
		if st, err = s.read(dumpFile); err != nil {
			s.env.Logger.Debug("keepalived dump unreadable: no peer view", "file", dumpFile, "err", err)
			return
		}
	}
	if s.stale(st, false) || !keepalived.HearsMaster(st.in) {
		return
	}
	peer := s.peerNode(st.in)
	if peer == "" {
		return
	}
	p := set.Node(peer)
	p.Role = facts.RoleActive
	p.RoleCause = fmt.Sprintf("heard as VRRP master by %s", s.node)
}

// peerNode is the node a BACKUP's master is: the one whose address or
// sync_address is the "Master router", else, in a pair, the other node.
func (s *keepalivedSource) peerNode(in *keepalived.Instance) string {
	if in.MasterRouter != "" {
		ip := net.ParseIP(in.MasterRouter)
		for _, n := range s.env.Cluster.Nodes {
			for _, a := range []string{n.Address, n.SyncAddress} {
				if n.Name != s.node && ip != nil && ip.Equal(net.ParseIP(a)) {
					return n.Name
				}
			}
		}
		return ""
	}
	if len(s.env.Cluster.Nodes) != 2 {
		return ""
	}
	for _, n := range s.env.Cluster.Nodes {
		if n.Name != s.node {
			return n.Name
		}
	}
	return ""
}

// primaryFile is the file the node's own state is read from.
func (s *keepalivedSource) primaryFile() string {
	switch {
	case s.cfg.StateFile != "":
		return s.cfg.StateFile
	case s.cfg.JSONFile != "":
		return s.cfg.JSONFile
	}
	return s.cfg.DataFile
}

func (s *keepalivedSource) read(path string) (*keepalivedState, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	b, err := readCapped(path, s.env.Global.MaxOutputBytes)
	if err != nil {
		return nil, err
	}
	st := &keepalivedState{age: s.now().Sub(fi.ModTime()), dump: path != s.cfg.StateFile}
	switch path {
	case s.cfg.StateFile:
		in, perr := keepalived.ParseStateFile(bytes.NewReader(b))
		st.data, err = &keepalived.Data{Instances: in}, perr
	case s.cfg.JSONFile:
		st.data, err = keepalived.ParseJSON(b)
	default:
		st.data, err = keepalived.ParseData(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.in, err = keepalived.Select(st.data.Instances, s.cfg.Instance); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
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
