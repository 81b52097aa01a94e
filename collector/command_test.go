package collector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mailcluster/mailcluster_exporter/config"
)

// cmdTestPromptly is a generous bound for "returns promptly", not a benchmark.
const cmdTestPromptly = 5 * time.Second

func cmdTestSh(script string) config.Command {
	return config.Command{Argv: []string{"/bin/sh", "-c", script}}
}

// cmdTestRun runs c under a deadline and reports how long Run took.
func cmdTestRun(t *testing.T, r Runner, deadline time.Duration, c config.Command) ([]byte, error, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	out, err := r.Run(ctx, c)
	return out, err, time.Since(start)
}

// cmdTestGone waits until pid has exited (or is a zombie nobody reaped).
func cmdTestGone(t *testing.T, pid int) bool {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// Field 3, after the parenthesised command name, is the state.
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func cmdTestReadPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(path)
		if err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pid written to %s", path)
	return 0
}

func TestRunnerOutput(t *testing.T) {
	out, err := Runner{}.Run(context.Background(), config.Command{Argv: []string{"printf", "%s-%s", "a b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "a b-c" {
		t.Errorf("output %q; argv must reach the program unsplit", out)
	}
}

func TestRunnerDeadline(t *testing.T) {
	out, err, took := cmdTestRun(t, Runner{}, 300*time.Millisecond, config.Command{Argv: []string{"sleep", "30"}})
	if err == nil {
		t.Fatalf("a hanging command succeeded: %q", out)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if !strings.HasPrefix(err.Error(), "sleep: ") {
		t.Errorf("error %q does not name the program", err)
	}
	if took > cmdTestPromptly {
		t.Errorf("Run took %s for a 300ms deadline", took)
	}
}

func TestRunnerCommandTimeout(t *testing.T) {
	c := config.Command{Argv: []string{"sleep", "30"}, Timeout: model.Duration(300 * time.Millisecond)}
	start := time.Now()
	_, err := Runner{}.Run(context.Background(), c)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("command timeout: got %v", err)
	}
	if took := time.Since(start); took > cmdTestPromptly {
		t.Errorf("Run took %s for a 300ms command timeout", took)
	}
}

func TestRunnerParentCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := (Runner{}).Run(ctx, config.Command{Argv: []string{"sleep", "30"}}); err == nil {
		t.Error("canceled command succeeded")
	}
	if took := time.Since(start); took > cmdTestPromptly {
		t.Errorf("Run took %s after cancellation", took)
	}
}

func TestRunnerNonZeroExit(t *testing.T) {
	_, err, _ := cmdTestRun(t, Runner{}, 10*time.Second,
		cmdTestSh(`printf 'partial output'; printf '  first problem here\nsecond line\n' >&2; exit 3`))
	if err == nil {
		t.Fatal("exit 3 succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"/bin/sh", "exit status 3", "first problem here"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "second line") {
		t.Errorf("error %q contains more than the first stderr line", msg)
	}
}

func TestRunnerNonZeroExitLongStderr(t *testing.T) {
	_, err, _ := cmdTestRun(t, Runner{}, 10*time.Second, cmdTestSh(`printf '%0300d\n' 0 >&2; exit 1`))
	if err == nil {
		t.Fatal("exit 1 succeeded")
	}
	if !strings.Contains(err.Error(), strings.Repeat("0", 200)+"…") || strings.Contains(err.Error(), strings.Repeat("0", 201)) {
		t.Errorf("the stderr line is not cut at 200 characters: %q", err)
	}
}

func TestRunnerNoisyStderrSucceeds(t *testing.T) {
	// Warnings on stderr beyond the 4 KiB kept for messages must not fail
	// (or kill) a command that succeeds.
	out, err, _ := cmdTestRun(t, Runner{}, 10*time.Second,
		cmdTestSh(`head -c 100000 /dev/zero >&2; printf '{"nodes":[]}'`))
	if err != nil {
		t.Fatalf("a successful command with a noisy stderr failed: %v", err)
	}
	if string(out) != `{"nodes":[]}` {
		t.Errorf("output %q", out)
	}
}

func TestRunnerOutputCap(t *testing.T) {
	r := Runner{MaxOutput: 1 << 20}
	out, err, took := cmdTestRun(t, r, 30*time.Second, config.Command{Argv: []string{"head", "-c", "104857600", "/dev/zero"}})
	if !errors.Is(err, errOutputTooLarge) {
		t.Fatalf("100 MiB of output with a 1 MiB cap: got %v (%d bytes)", err, len(out))
	}
	if out != nil {
		t.Errorf("output returned with the error: %d bytes", len(out))
	}
	if took > cmdTestPromptly {
		t.Errorf("Run took %s: the command was not stopped at the cap", took)
	}

	// Exactly at the cap is fine; one byte more is not.
	out, err, _ = cmdTestRun(t, r, 30*time.Second, config.Command{Argv: []string{"head", "-c", "1048576", "/dev/zero"}})
	if err != nil || len(out) != 1<<20 {
		t.Errorf("output at the cap: %d bytes, %v", len(out), err)
	}
	_, err, _ = cmdTestRun(t, r, 30*time.Second, config.Command{Argv: []string{"head", "-c", "1048577", "/dev/zero"}})
	if !errors.Is(err, errOutputTooLarge) {
		t.Errorf("cap + 1 byte: got %v", err)
	}
}

func TestRunnerDefaultCap(t *testing.T) {
	_, err, _ := cmdTestRun(t, Runner{}, 30*time.Second,
		config.Command{Argv: []string{"head", "-c", strconv.Itoa(config.DefaultMaxOutputBytes + 1), "/dev/zero"}})
	if !errors.Is(err, errOutputTooLarge) {
		t.Errorf("Runner{} must cap at config.DefaultMaxOutputBytes: got %v", err)
	}
}

func TestRunnerKillsProcessGroup(t *testing.T) {
	// The shell waits for a background helper holding stdout open: at the
	// deadline both must die, not just the shell.
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	_, err, took := cmdTestRun(t, Runner{}, 300*time.Millisecond,
		cmdTestSh(`sleep 30 & printf '%s' "$!" > `+pidFile+`; wait`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if took > cmdTestPromptly {
		t.Errorf("Run took %s for a 300ms deadline", took)
	}
	if pid := cmdTestReadPID(t, pidFile); !cmdTestGone(t, pid) {
		t.Errorf("background child %d survived the deadline", pid)
	}
}

func TestRunnerBackgroundChildHoldingStdout(t *testing.T) {
	// The shell exits at once, but its helper keeps stdout open.
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	_, err, took := cmdTestRun(t, Runner{}, 10*time.Second,
		cmdTestSh(`sleep 30 & printf '%s' "$!" > `+pidFile+`; printf done`))
	if err == nil {
		t.Error("output still held open by a helper was accepted as complete")
	}
	if took > cmdTestPromptly {
		t.Errorf("Run took %s: hung on the helper's open stdout", took)
	}
	if pid := cmdTestReadPID(t, pidFile); !cmdTestGone(t, pid) {
		t.Errorf("background child %d left running", pid)
	}
}

func TestRunnerMinimalEnvironment(t *testing.T) {
	t.Setenv("MAILCLUSTER_TEST_SECRET", "hunter2")
	t.Setenv("HOME", "/root/secret-home")
	out, err := Runner{}.Run(context.Background(), config.Command{
		Argv: []string{"/bin/sh", "-c", `export -p; printf 'secret=[%s] extra=[%s] lc_all=[%s] path=[%s]\n' "$MAILCLUSTER_TEST_SECRET" "$EXTRA" "$LC_ALL" "$PATH"`},
		Env:  []string{"EXTRA=from-config"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "hunter2") || strings.Contains(s, "MAILCLUSTER_TEST_SECRET") || strings.Contains(s, "secret-home") {
		t.Errorf("the child inherited the exporter's environment:\n%s", s)
	}
	for _, want := range []string{"secret=[] extra=[from-config] lc_all=[C] path=[/usr/local/sbin:"} {
		if !strings.Contains(s, want) {
			t.Errorf("child environment lacks %q:\n%s", want, s)
		}
	}
}

func TestRunnerStartErrors(t *testing.T) {
	if _, err := (Runner{}).Run(context.Background(), config.Command{}); err == nil || !strings.Contains(err.Error(), "no command configured") {
		t.Errorf("empty argv: %v", err)
	}
	_, err := Runner{}.Run(context.Background(), config.Command{Argv: []string{"/nonexistent/mailcluster-status"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/mailcluster-status") {
		t.Errorf("missing program: %v", err)
	}
}

func TestWithDefault(t *testing.T) {
	if got := withDefault(config.Command{}, "crm_mon", "--output-as=xml"); strings.Join(got.Argv, " ") != "crm_mon --output-as=xml" {
		t.Errorf("default argv not used: %v", got.Argv)
	}
	c := config.Command{Argv: []string{"/opt/bin/crm_mon"}, Timeout: model.Duration(time.Second)}
	if got := withDefault(c, "crm_mon"); strings.Join(got.Argv, " ") != "/opt/bin/crm_mon" || got.Timeout != c.Timeout {
		t.Errorf("configured argv replaced: %+v", got)
	}
}

// countLines is a Stream consumer that counts lines, stopping after limit.
func countLines(n *int, limit int) func(io.Reader) error {
	return func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			*n++
			if *n == limit {
				return errStreamStopped
			}
		}
		return sc.Err()
	}
}

func TestRunnerStreamBeyondTheByteCap(t *testing.T) {
	// 3.9 MB of lines with a 64 KiB byte cap: streaming is not capped.
	n := 0
	err := Runner{MaxOutput: 64 << 10}.Stream(context.Background(), config.Command{Argv: []string{"seq", "1", "500000"}}, countLines(&n, 1<<30))
	if err != nil || n != 500000 {
		t.Fatalf("got %d lines, %v", n, err)
	}
}

func TestRunnerStreamStopsTheCommand(t *testing.T) {
	// `yes` never ends: stopping after 1000 lines must stop it too.
	n := 0
	start := time.Now()
	err := Runner{}.Stream(context.Background(), config.Command{Argv: []string{"yes"}}, countLines(&n, 1000))
	if err != nil || n != 1000 {
		t.Fatalf("got %d lines, %v", n, err)
	}
	if took := time.Since(start); took > cmdTestPromptly {
		t.Errorf("Stream took %s after the consumer stopped", took)
	}
}

func TestRunnerStreamErrors(t *testing.T) {
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// A helper holds stdout open past the deadline.
	err := Runner{}.Stream(ctx, cmdTestSh(`echo a; sleep 30 & wait`), countLines(&n, 1<<30))
	if !errors.Is(err, context.DeadlineExceeded) || n != 1 {
		t.Errorf("deadline: got %v after %d lines", err, n)
	}
	err = Runner{}.Stream(context.Background(), cmdTestSh(`echo a; echo broken >&2; exit 3`), countLines(&n, 1<<30))
	if err == nil || !strings.Contains(err.Error(), "exit status 3: broken") {
		t.Errorf("non-zero exit: got %v", err)
	}
	bad := errors.New("line 2: garbage")
	err = Runner{}.Stream(context.Background(), config.Command{Argv: []string{"yes"}}, func(io.Reader) error { return bad })
	if !errors.Is(err, bad) {
		t.Errorf("consumer error: got %v", err)
	}
}
