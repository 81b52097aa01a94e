package scripts_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeExporter stands in for `mailcluster_exporter gate wait` and `window`:
// it records each call in $CALLS and keeps the gate named in $CLOSED_GATE
// closed (exit 1, as gate wait does at its timeout).
const fakeExporter = `#!/bin/sh
echo "exporter $*" >>"$CALLS"
for a; do
  case "$a" in --gate="$CLOSED_GATE") echo "gate $CLOSED_GATE still closed: node-b: sync syncing" >&2; exit 1 ;; esac
done
exit 0
`

const hooks = `
stop_services()      { echo "hook stop_services $1" >>"$CALLS"; }
disable_redundancy() { echo "hook disable_redundancy $1" >>"$CALLS"; }
update_software()    { echo "hook update_software $1" >>"$CALLS"; false; echo "not reached" >>"$CALLS"; }
enable_redundancy()  { echo "hook enable_redundancy $1" >>"$CALLS"; }
start_services()     { echo "hook start_services $1" >>"$CALLS"; }
close_window()       { echo "hook close_window $1" >>"$CALLS"; default_close_window "$@"; }
`

func runProcedure(t *testing.T, hooksBody string, env ...string) (calls []string, out string, err error) {
	t.Helper()
	dir := t.TempDir()
	exp := filepath.Join(dir, "mailcluster_exporter")
	if err := os.WriteFile(exp, []byte(fakeExporter), 0o755); err != nil {
		t.Fatal(err)
	}
	h := filepath.Join(dir, "hooks.sh")
	if err := os.WriteFile(h, []byte(hooksBody), 0o644); err != nil {
		t.Fatal(err)
	}
	callsFile := filepath.Join(dir, "calls")
	cmd := exec.Command("bash", "../examples/update-procedure.sh", "mail-a")
	cmd.Env = append(os.Environ(), "MAILCLUSTER_EXPORTER="+exp, "HOOKS="+h, "CALLS="+callsFile,
		"GATE_ARGS=--prometheus.url=http://prom:9090 --gate.stale-after=1m", "WINDOW_ARGS=--windows.file=/x/w.json")
	cmd.Env = append(cmd.Env, env...)
	b, err := cmd.CombinedOutput()
	c, _ := os.ReadFile(callsFile)
	return strings.Split(strings.TrimSpace(string(c)), "\n"), string(b), err
}

var eventLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (step \S+ (start|done)|gate \S+ open)$`)

// The whole walk: every gate is waited for before the step it unlocks, in
// procedure order, with the flags passed through.
func TestUpdateProcedureOrder(t *testing.T) {
	calls, out, err := runProcedure(t, strings.Replace(hooks, "false; ", "", 1))
	if err != nil {
		t.Fatalf("procedure failed: %v\n%s", err, out)
	}
	gate := func(g string) string {
		return "exporter gate wait --cluster=mail-a --gate=" + g + " --timeout=30m --poll-interval=10s --prometheus.url=http://prom:9090 --gate.stale-after=1m"
	}
	want := []string{
		"exporter window open --cluster=mail-a --for=2h --reason=software update --windows.file=/x/w.json",
		"hook stop_services mail-a", gate("services_stopped"),
		"hook disable_redundancy mail-a", gate("redundancy_disabled"),
		"hook update_software mail-a", "not reached", gate("versions_match"),
		"hook enable_redundancy mail-a", gate("redundancy_enabled"), gate("roles_restored"), gate("sync_complete"),
		"hook start_services mail-a", gate("services_running"), gate("restart_flag_clear"),
		"hook close_window mail-a", "exporter window close --cluster=mail-a --windows.file=/x/w.json",
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if !eventLine.MatchString(l) {
			t.Errorf("output line %q is not an event", l)
		}
	}
	if len(lines) != 2*7+8 {
		t.Errorf("%d events, want 7 steps × start/done + 8 gates (sync_complete or early_start_ok):\n%s", len(lines), out)
	}
}

// EARLY_START=1 waits for early_start_ok instead of sync_complete.
func TestUpdateProcedureEarlyStart(t *testing.T) {
	calls, out, err := runProcedure(t, strings.Replace(hooks, "false; ", "", 1), "EARLY_START=1")
	if err != nil {
		t.Fatalf("procedure failed: %v\n%s", err, out)
	}
	all := strings.Join(calls, "\n")
	if strings.Contains(all, "--gate=sync_complete") || !strings.Contains(all, "--gate=early_start_ok") {
		t.Errorf("calls:\n%s", all)
	}
}

// A gate that stays closed stops the procedure before its step, with the
// exit code of gate wait and the window left open.
func TestUpdateProcedureStopsAtAClosedGate(t *testing.T) {
	calls, out, err := runProcedure(t, strings.Replace(hooks, "false; ", "", 1), "CLOSED_GATE=sync_complete")
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1 (gate still closed)\n%s", err, out)
	}
	last := calls[len(calls)-1]
	if !strings.Contains(last, "--gate=sync_complete") {
		t.Errorf("last call %q; want the closed gate, and no step after it", last)
	}
	if !strings.Contains(out, "node-b: sync syncing") || !strings.Contains(out, "gate sync_complete did not open") ||
		!strings.Contains(out, "window stays open") {
		t.Errorf("output:\n%s", out)
	}
}

// A failing command inside a hook fails its step (errexit in the hook).
func TestUpdateProcedureStopsAtAFailedStep(t *testing.T) {
	calls, out, err := runProcedure(t, hooks)
	if err == nil {
		t.Fatalf("procedure succeeded although update_software failed:\n%s", out)
	}
	if last := calls[len(calls)-1]; last != "hook update_software mail-a" {
		t.Errorf("last call %q, want the failed hook (nothing after it)", last)
	}
	if !strings.Contains(out, "step update_software failed (rc=1)") {
		t.Errorf("output:\n%s", out)
	}
	// Without a hooks file the first site step says what is missing.
	_, out, err = runProcedure(t, "")
	if err == nil || !strings.Contains(out, "no stop_services hook: define it in the HOOKS file") {
		t.Errorf("no hooks: %v\n%s", err, out)
	}
}
