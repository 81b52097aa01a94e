// Package scripts_test runs the project's shell scripts against stand-in
// commands.
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAPT is an apt-get that fails every download (404, as with stale
// package lists) until `apt-get update` has run once, or always.
const fakeAPT = `#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
case "$1" in
update) [ -n "$FAKE_UPDATE_FAILS" ] && exit 100; touch "$FAKE_DIR/updated"; exit 0 ;;
install)
  if [ -n "$FAKE_ALWAYS_404" ] || [ ! -e "$FAKE_DIR/updated" ]; then
    echo "E: Failed to fetch http://deb.debian.org/debian/pool/main/d/dovecot/dovecot-pop3d_2.3.19.1+dfsg1-2.1+deb12u5_amd64.deb  404  Not Found" >&2
    exit 100
  fi
  exit 0 ;;
esac
exit 0
`

// installDeps runs scripts/install-deps.sh with stand-ins for dpkg, apt and
// every binary it checks for, in its own PID namespace (so that its "stop
// the daemons the install started" step sees no process of this machine).
func installDeps(t *testing.T, env ...string) (log string, out string, err error) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root for a private PID namespace (unshare); CI runs as root")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("apt-get", fakeAPT)
	// dovecot-pop3d is not installed; everything else is.
	write("dpkg-query", "#!/bin/sh\nfor a; do p=$a; done\n[ \"$p\" = dovecot-pop3d ] && exit 1\necho 'install ok installed'\n")
	write("apt-cache", "#!/bin/sh\nshift\nfor p; do echo \"$p:\"; echo '  Candidate: 1:2.3.19.1+dfsg1-2.1+deb12u1'; done\n")
	write("debconf-set-selections", "#!/bin/sh\ncat >/dev/null\n")
	for _, b := range strings.Fields(`promtool amtool crm_mon crm_simulate ip ss nft nsenter unshare flock mountpoint setsid timeout
		keepalived postfix postconf postqueue postsuper dovecot doveadm prometheus prometheus-alertmanager curl jq bc python3`) {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			write(b, "#!/bin/sh\nexit 0\n")
		}
	}
	logFile := filepath.Join(dir, "apt.log")
	unshare, lerr := exec.LookPath("unshare")
	if lerr != nil {
		t.Fatalf("unshare (util-linux) not found: %v", lerr)
	}
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", "bash", "install-deps.sh")
	cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin", "FAKE_LOG="+logFile, "FAKE_DIR="+dir,
		"POLICY_RC_D="+filepath.Join(dir, "policy-rc.d"))
	cmd.Env = append(cmd.Env, env...)
	b, err := cmd.CombinedOutput()
	l, _ := os.ReadFile(logFile)
	return string(l), string(b), err
}

// Stale package lists: the first download fails with 404; the installer
// refreshes the lists and retries once, and succeeds.
func TestInstallDepsRetriesAfterStaleLists(t *testing.T) {
	log, out, err := installDeps(t)
	if err != nil {
		t.Fatalf("install-deps.sh failed: %v\n%s", err, out)
	}
	calls := strings.Split(strings.TrimSpace(log), "\n")
	want := []string{"install", "update", "install"}
	if len(calls) != len(want) {
		t.Fatalf("apt-get calls:\n%s\nwant install, update, install", log)
	}
	for i, w := range want {
		if !strings.HasPrefix(calls[i], "apt-get "+w) {
			t.Errorf("call %d = %q, want apt-get %s", i, calls[i], w)
		}
	}
	if !strings.Contains(calls[0], "dovecot-pop3d") || !strings.Contains(out, "apt-get update and one retry") {
		t.Errorf("log %q, output %q", log, out)
	}
}

// A download that keeps failing fails the installer after one retry, with
// the error; it does not loop.
func TestInstallDepsGivesUpAfterOneRetry(t *testing.T) {
	log, out, err := installDeps(t, "FAKE_ALWAYS_404=1")
	if err == nil {
		t.Fatalf("install-deps.sh succeeded although every download fails:\n%s", out)
	}
	if n := strings.Count(log, "apt-get install"); n != 2 {
		t.Errorf("%d installs, want 2 (one retry):\n%s", n, log)
	}
	if !strings.Contains(out, "ERROR: apt-get install failed (rc=100)") {
		t.Errorf("output lacks the failure: %s", out)
	}
}
