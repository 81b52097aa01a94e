package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mailcluster/mailcluster_exporter/config"
)

// errOutputTooLarge is returned when a command or HTTP body exceeds the cap.
var errOutputTooLarge = errors.New("output exceeds the size cap")

// cappedBuffer keeps at most max bytes and fails the write beyond that, so
// a runaway command is stopped instead of filling memory. With truncate set
// it keeps the first max bytes and silently drops the rest instead.
type cappedBuffer struct {
	buf        bytes.Buffer
	max        int64
	truncate   bool
	overflow   bool
	onOverflow func()
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.truncate {
		if room := c.max - int64(c.buf.Len()); room > 0 {
			c.buf.Write(p[:min(int64(len(p)), room)])
		}
		return len(p), nil
	}
	if int64(c.buf.Len()+len(p)) > c.max {
		if !c.overflow && c.onOverflow != nil {
			c.onOverflow()
		}
		c.overflow = true
		return 0, errOutputTooLarge
	}
	return c.buf.Write(p)
}

// Runner runs commands as argv (never through a shell), with a deadline,
// an output cap and a minimal environment.
type Runner struct {
	MaxOutput int64
}

// Run executes c and returns its standard output. A non-zero exit, a
// timeout or too much output is an error that includes the start of stderr.
func (r Runner) Run(ctx context.Context, c config.Command) ([]byte, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("no command configured")
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.Timeout))
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The program is looked up in the same minimal PATH the child gets, so
	// a command behaves the same whatever the exporter's environment
	// (systemd, SMF, a shell); write an absolute path for anything else.
	prog, err := lookPath(c.Argv[0])
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, prog, c.Argv[1:]...)
	cmd.Env = append([]string{"PATH=" + minimalPath, "LANG=C", "LC_ALL=C"}, c.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole process group, so helpers a script started die too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	max := r.MaxOutput
	if max <= 0 {
		max = config.DefaultMaxOutputBytes
	}
	stdout := &cappedBuffer{max: max, onOverflow: cancel}
	stderr := &cappedBuffer{max: 4096, truncate: true} // only its start is reported
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The command exited but left a helper holding its output open: that
		// helper is still in the process group, which is killed as on a timeout.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		name := c.Argv[0]
		switch {
		case stdout.overflow:
			return nil, fmt.Errorf("%s: %w (%d bytes)", name, errOutputTooLarge, max)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s: %w", name, context.DeadlineExceeded)
		}
		if msg := strings.TrimSpace(stderr.buf.String()); msg != "" {
			return nil, fmt.Errorf("%s: %w: %s", name, err, firstLine(msg))
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return stdout.buf.Bytes(), nil
}

// minimalPath is the PATH commands are found in and run with.
const minimalPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(minimalPath) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in %s (give an absolute path)", name, minimalPath)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// withDefault returns c, or argv as the command when c has none.
func withDefault(c config.Command, argv ...string) config.Command {
	if len(c.Argv) == 0 {
		c.Argv = argv
	}
	return c
}
