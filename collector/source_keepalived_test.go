package collector

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

const capturedKeepalived = "../e2e/captured/keepalived/"

// kaPair is the e2e testbed's pair: VRRP runs over the sync addresses.
func kaPair() []*config.Node {
	return []*config.Node{
		{Name: "node-a", Address: "10.213.47.11", SyncAddress: "10.213.48.11", Priority: 1},
		{Name: "node-b", Address: "10.213.47.12", SyncAddress: "10.213.48.12", Priority: 2},
	}
}

type kaCase struct {
	name       string
	cfg        config.KeepalivedSource
	files      map[string]string // file name in the temp dir -> content ("@x" copies captured file x)
	age        time.Duration     // how old every file is
	running    *bool             // nil: no pid_file
	vipHere    bool              // the virtual address is on a local interface
	wantRole   facts.Role
	wantRedund *bool
	wantPeer   facts.Role // role reported for node-a (the peer), "" = none
	wantErr    bool
}

func TestKeepalivedSource(t *testing.T) {
	yes, no := facts.Bool(true), facts.Bool(false)
	state := func(st string) map[string]string {
		return map[string]string{"state": "INSTANCE VI_MAIL " + st + " 100 1795313171\n"}
	}
	week := model.Duration(7 * 24 * time.Hour)
	cases := []kaCase{
		{name: "running BACKUP", cfg: config.KeepalivedSource{StateFile: "state"}, files: state("BACKUP"),
			running: yes, wantRole: facts.RoleStandby, wantRedund: yes},
		{name: "graceful stop recorded", cfg: config.KeepalivedSource{StateFile: "state"}, files: state("STOP"),
			running: no, wantRole: facts.RoleStandby, wantRedund: no},
		{name: "graceful stop, VIP still here", cfg: config.KeepalivedSource{StateFile: "state"}, files: state("STOP"),
			running: no, vipHere: true, wantRole: facts.RoleActive, wantRedund: no},
		{name: "graceful stop without pid file", cfg: config.KeepalivedSource{StateFile: "state"}, files: state("STOP"),
			wantRole: facts.RoleStandby, wantRedund: no},
		{name: "crash leaves a stale BACKUP", cfg: config.KeepalivedSource{StateFile: "state"}, files: state("BACKUP"),
			running: no, wantRole: facts.RoleOffline},
		{name: "crash leaves a stale MASTER and the VIP", cfg: config.KeepalivedSource{StateFile: "state"}, files: state("MASTER"),
			running: no, vipHere: true, wantRole: facts.RoleActive},
		{name: "crash before any state was written", cfg: config.KeepalivedSource{StateFile: "state"},
			running: no, wantRole: facts.RoleOffline},
		{name: "old state file, keepalived running", cfg: config.KeepalivedSource{StateFile: "state", MaxStateAge: week},
			files: state("MASTER"), age: 9 * 24 * time.Hour, running: yes, wantRole: facts.RoleActive, wantRedund: yes},
		{name: "old state file, nothing says keepalived runs", cfg: config.KeepalivedSource{StateFile: "state", MaxStateAge: week},
			files: state("MASTER"), age: 9 * 24 * time.Hour, wantRole: facts.RoleUnknown},
		{name: "fresh state file, no pid file", cfg: config.KeepalivedSource{StateFile: "state", MaxStateAge: week},
			files: state("MASTER"), age: time.Hour, wantRole: facts.RoleActive},
		{name: "old DATA dump while running", cfg: config.KeepalivedSource{DataFile: "data", MaxStateAge: model.Duration(time.Minute)},
			files: map[string]string{"data": "@node-b.steady.keepalived.data"}, age: time.Hour, running: yes, wantRole: facts.RoleUnknown, wantRedund: yes},
		{name: "BACKUP's DATA dump names the master router", cfg: config.KeepalivedSource{DataFile: "data"},
			files: map[string]string{"data": "@node-b.steady.keepalived.data"}, running: yes,
			wantRole: facts.RoleStandby, wantRedund: yes, wantPeer: facts.RoleActive},
		{name: "BACKUP's JSON dump hears a master in a pair", cfg: config.KeepalivedSource{JSONFile: "json"},
			files:    map[string]string{"json": "@node-b.steady.keepalived.json"},
			wantRole: facts.RoleStandby, wantPeer: facts.RoleActive},
		{name: "state file for the role, JSON dump for the peer", cfg: config.KeepalivedSource{StateFile: "state", JSONFile: "json"},
			files:    map[string]string{"state": "@node-b.steady.keepalived.state", "json": "@node-b.steady.keepalived.json"},
			wantRole: facts.RoleStandby, wantPeer: facts.RoleActive},
		{name: "a MASTER says nothing of its peer", cfg: config.KeepalivedSource{JSONFile: "json"},
			files: map[string]string{"json": "@node-b.failover.keepalived.json"}, wantRole: facts.RoleActive},
		{name: "unreadable state while running fails", cfg: config.KeepalivedSource{StateFile: "state"},
			running: yes, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runKACase(t, c) })
	}
}

func runKACase(t *testing.T, c kaCase) {
	dir := t.TempDir()
	now := time.Now()
	for name, content := range c.files {
		b := []byte(content)
		if len(content) > 0 && content[0] == '@' {
			var err error
			if b, err = os.ReadFile(capturedKeepalived + content[1:]); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-c.age), now.Add(-c.age)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := c.cfg
	for _, f := range []*string{&cfg.StateFile, &cfg.JSONFile, &cfg.DataFile} {
		if *f != "" {
			*f = filepath.Join(dir, *f)
		}
	}
	if c.running != nil {
		cfg.PIDFile = filepath.Join(dir, "keepalived.pid")
	}
	env := ssEnv("node-b", kaPair()...)
	env.Global.MaxOutputBytes = 1 << 20
	env.Cluster.Kind = config.KindActiveStandby
	env.Cluster.VirtualAddress = "10.213.47.10"
	addrs := []net.Addr{&net.IPNet{IP: net.ParseIP("10.213.47.12"), Mask: net.CIDRMask(24, 32)}}
	if c.vipHere {
		addrs = append(addrs, &net.IPNet{IP: net.ParseIP("10.213.47.10"), Mask: net.CIDRMask(24, 32)})
	}
	s := &keepalivedSource{env: env, node: "node-b", cfg: &cfg, now: time.Now,
		vip: &vipLocalSource{node: "node-b", vip: net.ParseIP("10.213.47.10"), addrs: func() ([]net.Addr, error) { return addrs, nil }},
		running: func(pidFile, name string) (bool, error) {
			if pidFile != cfg.PIDFile || name != "keepalived" {
				t.Errorf("running(%q, %q)", pidFile, name)
			}
			return *c.running, nil
		}}
	set, err := s.Collect(context.Background())
	if (err != nil) != c.wantErr {
		t.Fatalf("err = %v, want error %v", err, c.wantErr)
	}
	if c.wantErr {
		return
	}
	f := set["node-b"]
	if f == nil {
		t.Fatalf("no facts for the local node: %+v", set)
	}
	if f.Role != c.wantRole {
		t.Errorf("role %q (%s), want %q", f.Role, f.RoleCause, c.wantRole)
	}
	if !eqBoolPtr(f.RedundancyEnabled, c.wantRedund) {
		t.Errorf("redundancy_enabled %v, want %v", showBool(f.RedundancyEnabled), showBool(c.wantRedund))
	}
	peer := facts.Role("")
	if p := set["node-a"]; p != nil {
		peer = p.Role
	}
	if peer != c.wantPeer {
		t.Errorf("peer role %q, want %q", peer, c.wantPeer)
	}
}

func eqBoolPtr(a, b *bool) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func showBool(b *bool) any {
	if b == nil {
		return "absent"
	}
	return *b
}
