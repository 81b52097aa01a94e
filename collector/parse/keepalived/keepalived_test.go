package keepalived

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/internal/realoutputs"
)

func describe(in Instance) string {
	return fmt.Sprintf("%s %s want=%s if=%s vrid=%d prio=%d/%d lt=%.6f master=%s vips=%v excl=%v",
		in.Name, in.State, in.WantState, in.Interface, in.VRID, in.Priority, in.EffectivePriority,
		in.LastTransition, in.MasterRouter, in.VIPs, in.ExcludedVIPs)
}

func TestRealData(t *testing.T) {
	for _, c := range []struct {
		file    string
		want    []string
		scripts string
	}{
		{"mehdy-keepalived-exporter-v1.3.5-keepalived.data", []string{
			"VI_1 MASTER want= if=eth0 vrid=51 prio=150/0 lt=1596892296.000000 master= vips=[10.32.75.200/32] excl=[]",
		}, "[{check_haproxy BAD}]"},
		{"mehdy-keepalived-exporter-v2.0.10-keepalived.data", []string{
			"VI_1 MASTER want=MASTER if=ens192 vrid=52 prio=50/50 lt=1595875667.000000 master= vips=[2.2.2.2/32] excl=[]",
		}, "[{chk_service GOOD}]"},
		{"mehdy-keepalived-exporter-v2.1.5-keepalived.data", []string{
			"VI_EXT_1 MASTER want=MASTER if=ens192 vrid=10 prio=100/100 lt=1594831166.420598 master= vips=[192.168.2.1] excl=[]",
			"VI_EXT_2 BACKUP want=BACKUP if=ens192 vrid=20 prio=80/80 lt=1594974363.398961 master=192.168.1.2 vips=[192.168.2.2] excl=[]",
			"VI_EXT_3 BACKUP want=BACKUP if=ens192 vrid=30 prio=90/90 lt=1594974363.374509 master=192.168.1.3 vips=[192.168.2.3] excl=[]",
		}, "[{check_script GOOD}]"},
		{"mehdy-keepalived-exporter-v2.2.7-keepalived.data", []string{
			"VI_227_1 MASTER want=MASTER if=ens3 vrid=52 prio=50/150 lt=1673674892.348360 master= vips=[10.1.0.1/24] excl=[10.10.0.1]",
		}, "[{check_script GOOD}]"},
	} {
		d, err := ParseData(bytes.NewReader(realoutputs.Read(t, "keepalived", c.file)))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if len(d.Instances) != len(c.want) {
			t.Fatalf("%s: %d instances, want %d", c.file, len(d.Instances), len(c.want))
		}
		for i, w := range c.want {
			if got := describe(d.Instances[i]); got != w {
				t.Errorf("%s:\n got %s\nwant %s", c.file, got, w)
			}
		}
		if got := fmt.Sprint(d.Scripts); got != c.scripts {
			t.Errorf("%s: scripts %s, want %s", c.file, got, c.scripts)
		}
	}
	d, _ := ParseData(bytes.NewReader(realoutputs.Read(t, "keepalived", "mehdy-keepalived-exporter-v2.1.5-keepalived.data")))
	n, err := NodeFacts(d, "VI_EXT_2")
	if err != nil || n.Role != facts.RoleStandby || n.LastRoleChange != 1594974363.398961 {
		t.Errorf("VI_EXT_2: %+v %v", n, err)
	}
	if _, err := NodeFacts(d, ""); err == nil || !strings.Contains(err.Error(), "3 VRRP instances") {
		t.Errorf("ambiguous selection: %v", err)
	}
	if _, err := NodeFacts(d, "VI_NOPE"); err == nil || !strings.Contains(err.Error(), "VI_NOPE") {
		t.Errorf("unknown instance: %v", err)
	}
	d, _ = ParseData(bytes.NewReader(realoutputs.Read(t, "keepalived", "mehdy-keepalived-exporter-v1.3.5-keepalived.data")))
	n, _ = NodeFacts(d, "")
	if n.Role != facts.RoleActive || !strings.Contains(n.RoleCause, "vrrp_script check_haproxy is BAD") {
		t.Errorf("1.3.5: %+v", n)
	}
}

func TestRealStats(t *testing.T) {
	for file, want := range map[string]string{
		"mehdy-keepalived-exporter-v1.3.5-keepalived.stats": "[{VI_1 1 17 1 1}]",
		"mehdy-keepalived-exporter-v2.1.5-keepalived.stats": "[{VI_EXT_1 11 12 2 1} {VI_EXT_2 10 158 2 2} {VI_EXT_3 23 172 4 4}]",
	} {
		st, err := ParseStats(bytes.NewReader(realoutputs.Read(t, "keepalived", file)))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if got := fmt.Sprint(st); got != want {
			t.Errorf("%s: %s, want %s", file, got, want)
		}
	}
}

func TestRealJSON(t *testing.T) {
	d, err := ParseJSON(realoutputs.Read(t, "keepalived", "nser77-keepalived-wrapper-readme-keepalived.json-FAULT-prettyprinted.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := "VI_1 FAULT want=FAULT if=eth0 vrid=99 prio=233/233 lt=1677963907.144095 master= vips=[192.168.1.250] excl=[]"
	if len(d.Instances) != 1 || describe(d.Instances[0]) != want {
		t.Fatalf("got %+v", d.Instances)
	}
	n, err := NodeFacts(d, "VI_1")
	if err != nil || n.Role != facts.RoleOffline || !strings.Contains(n.RoleCause, "is FAULT") {
		t.Errorf("%+v %v", n, err)
	}
}

func TestRoleTable(t *testing.T) {
	for in, want := range map[string]facts.Role{
		"MASTER": facts.RoleActive, "BACKUP": facts.RoleStandby, "FAULT": facts.RoleOffline,
		"INIT": facts.RoleUnknown, "STOP": facts.RoleUnknown, "DELETED": facts.RoleUnknown,
		"UNKNOWN(7)": facts.RoleUnknown, "": facts.RoleUnknown, "master": facts.RoleActive,
	} {
		if got := Role(in); got != want {
			t.Errorf("Role(%q) = %q, want %q", in, got, want)
		}
	}
	for n, want := range map[int]string{0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 98: "STOP", 5: "UNKNOWN(5)"} {
		if got := stateName(n); got != want {
			t.Errorf("stateName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestStateFile(t *testing.T) {
	in := "# comment\nINSTANCE VI_MAIL BACKUP 100 1700000000\nGROUP G1 MASTER 0 1700000001\n\nINSTANCE VI_MAIL MASTER 150 1700000100.5\nINSTANCE VI_OTHER FAULT 50 1700000002\n"
	got, err := ParseStateFile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || describe(got[0]) != "VI_MAIL MASTER want= if= vrid=0 prio=150/0 lt=1700000100.500000 master= vips=[] excl=[]" || got[1].State != "FAULT" {
		t.Fatalf("got %v", got)
	}
	n, err := NodeFacts(&Data{Instances: got}, "VI_MAIL")
	if err != nil || n.Role != facts.RoleActive || n.LastRoleChange != 1700000100.5 {
		t.Errorf("%+v %v", n, err)
	}
}

// TestNotifyScript runs NotifyScript with /bin/sh and reads its file back.
func TestNotifyScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "notify")
	if err := os.WriteFile(script, []byte(NotifyScript), 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "run", "keepalived.state")
	for _, args := range [][]string{
		{"INSTANCE", "VI_MAIL", "BACKUP", "100"},
		{"INSTANCE", "VI_OTHER", "BACKUP", "90"},
		{"INSTANCE", "VI_MAIL", "MASTER", "100"},
		{"GROUP", "G1", "MASTER"},
	} {
		cmd := exec.Command(sh, append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "MAILCLUSTER_KEEPALIVED_STATE="+state)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	cmd := exec.Command(sh, script, "INSTANCE", "VI;rm", "MASTER", "1")
	cmd.Env = append(os.Environ(), "MAILCLUSTER_KEEPALIVED_STATE="+state)
	if err := cmd.Run(); err == nil {
		t.Error("odd argument accepted")
	}
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseStateFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(got) != 2 || got[0].Name != "VI_OTHER" || got[1].Name != "VI_MAIL" || got[1].State != "MASTER" || got[1].LastTransition < 1.6e9 {
		t.Errorf("got %v from\n%s", got, b)
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"data bad vrid", dataErr(" VRRP Instance = VI_1\n   State = MASTER\n   Virtual Router ID = x\n"), "line 3: field \"Virtual Router ID\""},
		{"data bad transition", dataErr(" VRRP Instance = VI_1\n   State = MASTER\n   Last transition = soon\n"), "line 3: field \"Last transition\""},
		{"data no state", dataErr(" VRRP Instance = VI_1\n   Priority = 1\n"), "has no State"},
		{"data no name", dataErr(" VRRP Instance = \n"), "line 1"},
		{"stats no colon", statsErr("VRRP Instance: VI_1\n  Became master 1\n"), "line 2"},
		{"stats bad counter", statsErr("VRRP Instance: VI_1\n  Became master: many\n"), "line 2: field \"Became master\""},
		{"stats orphan", statsErr("  Became master: 1\n"), "line 1"},
		{"json syntax", jsonErr("[\n{\"data\": }\n]"), "line 2"},
		{"json type", jsonErr("[{\"data\": {\"iname\": \"VI_1\", \"state\": \"MASTER\"}}]"), "data.state"},
		{"json missing", jsonErr("[{\"stats\": {}}]"), "data.iname"},
		{"state fields", stateErr("INSTANCE VI_1 MASTER\n"), "line 1: 3 fields"},
		{"state type", stateErr("\nVRRP VI_1 MASTER 1 2\n"), "line 2: field TYPE"},
		{"state prio", stateErr("INSTANCE VI_1 MASTER high 2\n"), "line 1: field PRIORITY"},
		{"state time", stateErr("INSTANCE VI_1 MASTER 1 yesterday\n"), "line 1: field UNIX_TIME"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, c.err, c.want)
		}
	}
	if d, err := ParseData(strings.NewReader("")); err != nil || len(d.Instances) != 0 {
		t.Errorf("empty dump: %v %v", d, err)
	} else if _, err := NodeFacts(d, ""); err == nil {
		t.Error("no instance must be an error")
	}
}

func dataErr(s string) error  { _, err := ParseData(strings.NewReader(s)); return err }
func statsErr(s string) error { _, err := ParseStats(strings.NewReader(s)); return err }
func jsonErr(s string) error  { _, err := ParseJSON([]byte(s)); return err }
func stateErr(s string) error { _, err := ParseStateFile(strings.NewReader(s)); return err }

func addSeeds(f *testing.F, glob string) {
	for _, p := range realoutputs.SeedGlob(f, "keepalived/"+glob) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func checkRole(t *testing.T, d *Data) {
	for _, in := range d.Instances {
		n, err := NodeFacts(d, in.Name)
		if err != nil {
			t.Fatalf("instance %q listed but not selectable: %v", in.Name, err)
		}
		switch n.Role {
		case facts.RoleActive, facts.RoleStandby, facts.RoleOffline, facts.RoleUnknown:
		default:
			t.Fatalf("role %q", n.Role)
		}
	}
}

func FuzzParseData(f *testing.F) {
	addSeeds(f, "*.data")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseData(bytes.NewReader(b))
		if err == nil {
			checkRole(t, d)
		}
	})
}

func FuzzParseStats(f *testing.F) {
	addSeeds(f, "*.stats")
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseStats(bytes.NewReader(b)) })
}

func FuzzParseJSON(f *testing.F) {
	addSeeds(f, "*.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseJSON(b)
		if err == nil {
			checkRole(t, d)
		}
	})
}

func FuzzParseStateFile(f *testing.F) {
	f.Add([]byte("# c\nINSTANCE VI_MAIL MASTER 150 1700000000\nGROUP G MASTER 0 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseStateFile(bytes.NewReader(b))
		if err == nil {
			checkRole(t, &Data{Instances: in})
		}
	})
}
