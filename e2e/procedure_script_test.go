//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procedureScript is the shipped example the update scenario drives.
var procedureScript = mustAbs("../examples/update-procedure.sh")

// procedure is examples/update-procedure.sh running against the testbed,
// with hooks that call ops.sh and hand over to the test at checkpoints
// (`pause NAME` in a hook waits until the test releases NAME).
type procedure struct {
	dir   string // checkpoint files, hooks
	cmd   *exec.Cmd
	mu    sync.Mutex    // guards out and errb, written by the running script
	out   *bytes.Buffer // the event log (stdout)
	errb  *bytes.Buffer // ops.sh output, gate wait explanations (stderr)
	done  chan error    // the script's exit, put back after each look
	start time.Time
}

// procedureHooks are the site-specific steps of the testbed pair: both
// nodes in maintenance (the keepalived notify script then starts no mail
// service by itself), mail services on node-a, keepalived as the
// redundancy, ops.sh's version file as the software.
const procedureHooks = `
ops() { "$OPS" "$@" >&2; }
pause() {   # hand over to the test at checkpoint $1 (bounded: 300 s)
  : >"$PROC_DIR/at-$1"
  local i
  for ((i = 0; i < 3000; i++)); do [ -e "$PROC_DIR/go-$1" ] && return 0; sleep 0.1; done
  echo "checkpoint $1 not released" >&2; return 1
}
open_window()        { default_open_window "$@" >&2; pause window-open; }
stop_services()      { ops maint on node-a; ops maint on node-b; ops services stop node-a; }
disable_redundancy() { ops keepalived stop node-b; ops keepalived stop node-a; }
update_software()    { ops version node-a 1.1.0; pause node-a-updated; ops version node-b 1.1.0; }
enable_redundancy()  { ops keepalived start node-a; ops wait-vip node-a 15; ops keepalived start node-b; pause redundancy-enabled; }
start_services()     { ops services start node-a; }
close_window()       { pause before-close; ops maint off node-a; ops maint off node-b; default_close_window "$@" >&2; }
`

// startProcedure starts the script for the testbed's cluster; it is killed
// (its whole process group) when the test ends.
func startProcedure(t *testing.T) *procedure {
	t.Helper()
	p := &procedure{dir: t.TempDir(), out: &bytes.Buffer{}, errb: &bytes.Buffer{}, done: make(chan error, 1)}
	// gate wait talks to Prometheus from the client namespace, like every client of the testbed
	wrapper := filepath.Join(p.dir, "mailcluster_exporter")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", clientNS, exporterBin)), 0o755); err != nil {
		t.Fatal(err)
	}
	hooks := filepath.Join(p.dir, "hooks.sh")
	if err := os.WriteFile(hooks, []byte(procedureHooks), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command("bash", procedureScript, cluster)
	p.cmd.Env = append(os.Environ(),
		"MAILCLUSTER_EXPORTER="+wrapper, "HOOKS="+hooks, "PROC_DIR="+p.dir, "OPS="+filepath.Join(testbedDir, "ops.sh"),
		"GATE_ARGS=--prometheus.url="+promURL, "GATE_POLL=1s", "GATE_TIMEOUT=3m",
		"WINDOW_ARGS=--config.file="+clientCfg+" --windows.file="+windowsFile,
		"WINDOW_FOR=1h", "WINDOW_REASON=e2e update procedure")
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{&p.mu, p.out}, lockedWriter{&p.mu, p.errb}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if ended, _ := p.exitedEarly(); !ended {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// lockedWriter serialises writes (the script's output, read by the test while it runs).
type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (p *procedure) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String() + "\n--- stderr ---\n" + p.errb.String()
}

// exitedEarly reports whether the script has ended (and how).
func (p *procedure) exitedEarly() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// checkpoint waits (at most max) until a hook pauses at name, runs f, then
// releases the hook.
func (p *procedure) checkpoint(t *testing.T, name string, max time.Duration, f func()) {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		if _, err := os.Stat(filepath.Join(p.dir, "at-"+name)); err == nil {
			break
		}
		if ended, err := p.exitedEarly(); ended {
			t.Fatalf("update-procedure.sh ended (%v) before checkpoint %s:\n%s", err, name, p.log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint %s not reached within %s:\n%s", name, max, p.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("checkpoint %s reached after %s", name, time.Since(p.start).Round(100*time.Millisecond))
	f()
	if err := os.WriteFile(filepath.Join(p.dir, "go-"+name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitEvent waits (at most max) until the script logged the event (e.g.
// "gate roles_restored open") and returns its time.
func (p *procedure) waitEvent(t *testing.T, event string, max time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		for _, e := range p.events(t) {
			if e.what == event {
				return e.at
			}
		}
		if ended, err := p.exitedEarly(); ended {
			t.Fatalf("update-procedure.sh ended (%v) without %q:\n%s", err, event, p.log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged within %s:\n%s", event, max, p.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// wait waits (at most max) for the script to end and fails the test unless it succeeded.
func (p *procedure) wait(t *testing.T, max time.Duration) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("update-procedure.sh failed: %v\n%s", err, p.log())
		}
	case <-time.After(max):
		t.Fatalf("update-procedure.sh did not finish within %s:\n%s", max, p.log())
	}
}

type procEvent struct {
	at   time.Time
	what string // "step NAME start", "step NAME done", "gate NAME open"
}

// events parses the script's event log ("<RFC 3339 ms UTC> <event>").
func (p *procedure) events(t *testing.T) []procEvent {
	t.Helper()
	p.mu.Lock()
	text := p.out.String()
	p.mu.Unlock()
	var evs []procEvent
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		ts, what, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000Z", ts)
		if err != nil {
			t.Fatalf("event log line %q: %v", sc.Text(), err)
		}
		evs = append(evs, procEvent{at, what})
	}
	return evs
}

// stepGates: the gates that must be open before each step of the procedure
// starts (DESIGN §6), checked against the script's log and against
// Prometheus at the instant the step started.
var stepGates = []struct {
	step  string
	gates []string
}{
	{"disable_redundancy", []string{"services_stopped"}},
	{"update_software", []string{"redundancy_disabled"}},
	{"enable_redundancy", []string{"versions_match"}},
	{"start_services", []string{"redundancy_enabled", "roles_restored", "sync_complete"}},
	{"close_window", []string{"services_running", "restart_flag_clear"}},
}

// checkNoStepBeforeItsGate logs every event with its time since the start
// and fails if a step started before one of its gates was open: in the
// script's own log, and in Prometheus at the step's start time.
func (p *procedure) checkNoStepBeforeItsGate(t *testing.T) {
	t.Helper()
	evs := p.events(t)
	var b strings.Builder
	at := map[string]time.Time{}
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %7.1fs  %s", e.at.Sub(p.start).Seconds(), e.what)
		if _, seen := at[e.what]; !seen {
			at[e.what] = e.at
		}
	}
	t.Logf("update-procedure.sh events (seconds since start):%s", b.String())
	for _, sg := range stepGates {
		start, ok := at["step "+sg.step+" start"]
		if !ok {
			t.Errorf("step %s never started", sg.step)
			continue
		}
		for _, g := range sg.gates {
			open, ok := at["gate "+g+" open"]
			if !ok || open.After(start) {
				t.Errorf("step %s started at %s, before gate %s opened (logged open: %v at %s)", sg.step, start.Format(time.StampMilli), g, ok, open.Format(time.StampMilli))
				continue
			}
			v, err := queryAt(fmt.Sprintf(`mailcluster:update_gate:ok{cluster=%q,gate=%q}`, cluster, g), start)
			if err != nil {
				t.Errorf("gate %s at the start of step %s: %v", g, sg.step, err)
			} else if len(v) != 1 || v[0].Value != 1 {
				t.Errorf("Prometheus at the start of step %s (%s): gate %s = %s, want 1", sg.step, start.Format(time.StampMilli), g, v)
			}
		}
	}
}
