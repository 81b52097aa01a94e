package collector

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
	"github.com/mailcluster/mailcluster_exporter/internal/realoutputs"
)

// TestDRBDSourceRealOutputs runs every DRBD output of shared/real-outputs
// through the configured source (json, text, events2 through a command,
// proc through proc_file) and checks the facts against what the file says.
func TestDRBDSourceRealOutputs(t *testing.T) {
	type want struct {
		role facts.Role
		sync facts.SyncState
	}
	expect := map[string]want{
		"drbd9-status-json/ha_cluster_exporter-drbdsetup-status-json-2res-secondary.json":                 {facts.RoleStandby, facts.SyncSynced},
		"drbd9-status-json/salt-shaptools-drbdsetup-status-json-9.0.16-primary-connected.json":            {facts.RoleActive, facts.SyncSynced},
		"drbd9-status-json/salt-shaptools-drbdsetup-status-json-syncsource-nan-INVALID-JSON.json":         {facts.RoleActive, facts.SyncSyncing},
		"drbd9-status-text/linbit-ug9-drbdadm-status-connecting-peer.txt":                                 {facts.RoleStandby, facts.SyncOutOfSync},
		"drbd9-status-text/linbit-ug9-drbdsetup-status-verbose-statistics-wrapped.txt":                    {facts.RoleStandby, facts.SyncOutOfSync},
		"drbd9-status-text/salt-shaptools-drbdadm-status-2res-2vol-3node.txt":                             {facts.RoleActive, facts.SyncSynced},
		"drbd9-status-text/salt-shaptools-drbdadm-status-local-vol1-inconsistent.txt":                     {facts.RoleActive, facts.SyncOutOfSync},
		"drbd9-status-text/salt-shaptools-drbdadm-status-syncsource-done96.47.txt":                        {facts.RoleActive, facts.SyncSyncing},
		"drbd9-status-text/salt-shaptools-drbdmod-comment-drbdadm-status-synctarget-2vol-DECOMMENTED.txt": {facts.RoleStandby, facts.SyncSyncing},
		"drbd9-events2/drbd-utils-test-events2-all-create-change-full.txt":                                {facts.RoleActive, facts.SyncSynced},
		"drbd9-events2/drbd-utils-test-events2-all-create-change-statistics.txt":                          {facts.RoleActive, facts.SyncSynced},
		"drbd9-events2/drbd-utils-test-events2-all-create-change.txt":                                     {facts.RoleActive, facts.SyncSynced},
		"drbd9-events2/drbd-utils-test-events2-local-inconsistent.txt":                                    {facts.RoleStandby, facts.SyncOutOfSync},
		"drbd9-events2/drbd-utils-test-events2-quorum-lost.txt":                                           {facts.RoleStandby, facts.SyncOutOfSync},
		"drbd9-events2/drbd-utils-test-events2-resource-exists-only.txt":                                  {facts.RoleStandby, facts.SyncOutOfSync},
		"drbd9-events2/drbd-utils-test-events2-sync-syncsource-statistics.txt":                            {facts.RoleStandby, facts.SyncSyncing},
		"drbd9-events2/drbd-utils-test-events2-sync-syncsource.txt":                                       {facts.RoleStandby, facts.SyncSyncing},
		"drbd9-events2/linbit-ug9-events2-now-wrapped.txt":                                                {facts.RoleStandby, facts.SyncSynced},
		"drbd9-events2/linbit-ug9-events2-statistics-now-wrapped.txt":                                     {facts.RoleStandby, facts.SyncSynced},
		"proc-drbd-8.x/ganeti-proc_drbd8.txt":                                                             {facts.RoleUnknown, facts.SyncOutOfSync},
		"proc-drbd-8.x/ganeti-proc_drbd83_sync.txt":                                                       {facts.RoleUnknown, facts.SyncOutOfSync},
		"proc-drbd-8.x/ganeti-proc_drbd83_sync_krnl2.6.39.txt":                                            {facts.RoleUnknown, facts.SyncOutOfSync},
		"proc-drbd-8.x/ganeti-proc_drbd83_sync_want.txt":                                                  {facts.RoleStandby, facts.SyncSyncing},
		"proc-drbd-8.x/ganeti-proc_drbd84.txt":                                                            {facts.RoleUnknown, facts.SyncOutOfSync},
		"proc-drbd-8.x/ganeti-proc_drbd84_sync.txt":                                                       {facts.RoleUnknown, facts.SyncOutOfSync},
		"proc-drbd-8.x/linbit-ug84-administration-three-minors.txt":                                       {facts.RoleUnknown, facts.SyncSynced},
		"proc-drbd-8.x/linbit-ug84-configure-inconsistent-initial.txt":                                    {facts.RoleStandby, facts.SyncOutOfSync},
		"proc-drbd-8.x/node_exporter-proc-drbd-8.4.3-dual-primary.txt":                                    {facts.RoleActive, facts.SyncSynced},
	}
	files := realoutputs.Glob(t, "drbd/*/*")
	if len(files) != len(expect) {
		t.Errorf("%d DRBD files in real-outputs, %d expectations: every file needs one", len(files), len(expect))
	}
	for _, f := range files {
		rel := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		w, ok := expect[rel]
		if !ok {
			t.Errorf("%s: no expectation", rel)
			continue
		}
		cfg := &config.DRBDSource{}
		switch dir := filepath.Dir(rel); {
		case dir == "proc-drbd-8.x":
			cfg.Format, cfg.ProcFile = "proc", f
		case strings.HasSuffix(dir, "json"):
			cfg.Format, cfg.Command = "json", config.Command{Argv: []string{"cat", f}}
		case strings.HasSuffix(dir, "text"):
			cfg.Format, cfg.Command = "text", config.Command{Argv: []string{"cat", f}}
		default:
			cfg.Format, cfg.Command = "events2", config.Command{Argv: []string{"cat", f}}
		}
		env := ssEnv("a", ssNodes("a", "b")...)
		env.Runner.MaxOutput, env.Global.MaxOutputBytes = 1<<20, 1<<20
		src, err := newDRBDSource(env, &config.Source{Type: "drbd", DRBD: cfg})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		set, err := ssCollect(t, src)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if n := set["a"]; n.Role != w.role || n.SyncState != w.sync {
			t.Errorf("%s: role %s sync %s (%s), want %s %s", rel, n.Role, n.SyncState, n.RoleCause, w.role, w.sync)
		}
	}
}

// TestDRBDSourceMissingResource: a configured resource that drbdsetup does
// not list is a source error (sync unknown in the rules), not `disabled`.
func TestDRBDSourceMissingResource(t *testing.T) {
	for name, c := range map[string]struct {
		out, resource string
	}{
		"named resource absent": {`[{"name":"other","role":"Secondary","suspended":false,"devices":[],"connections":[]}]`, "r0"},
		"nothing up":            {`[]`, ""},
	} {
		env := ssEnv("a", ssNodes("a", "b")...)
		src, err := newDRBDSource(env, &config.Source{Type: "drbd", DRBD: &config.DRBDSource{
			Resource: c.resource, Command: config.Command{Argv: []string{"printf", "%s", c.out}}}})
		if err != nil {
			t.Fatal(err)
		}
		if set, err := ssCollect(t, src); err == nil {
			t.Errorf("%s: no error, facts %+v", name, set["a"])
		}
	}
}
