package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	max := r.MaxOutput
	if max <= 0 {
		max = config.DefaultMaxOutputBytes
	}
	var out *cappedBuffer
	e, err := r.start(ctx, c, func(cancel context.CancelFunc) io.Writer {
		out = &cappedBuffer{max: max, onOverflow: cancel}
		return out
	})
	if err != nil {
		return nil, err
	}
	defer e.cancel()
	err = <-e.done
	switch {
	case out.overflow:
		return nil, fmt.Errorf("%s: %w (%d bytes)", e.name, errOutputTooLarge, max)
	case err != nil:
		return nil, e.explain(err)
	}
	return out.buf.Bytes(), nil
}

// errStreamStopped is what a Stream consumer returns (wrapped or not) when
// it has read all it wants: the command is then stopped, and that is not a
// failure.
var errStreamStopped = errors.New("stopped reading")

// Stream executes c and hands its standard output to consume while the
// command runs, so that output of any size costs no memory: consume bounds
// what it reads (by records, returning errStreamStopped), the deadline
// bounds the time. A non-zero exit, a timeout or another consume error is
// an error.
func (r Runner) Stream(ctx context.Context, c config.Command, consume func(io.Reader) error) error {
	pr, pw := io.Pipe()
	e, err := r.start(ctx, c, func(context.CancelFunc) io.Writer { return pw })
	if err != nil {
		return err
	}
	defer e.cancel()
	waited := make(chan error, 1)
	go func() {
		err := <-e.done
		pw.Close() // the consumer sees EOF once the command and its output are done
		waited <- err
	}()
	// A deadline unblocks the consumer even if a helper of the command
	// still holds its output open.
	stop := context.AfterFunc(e.ctx, func() { pr.CloseWithError(context.DeadlineExceeded) })
	defer stop()

	cerr := consume(pr)
	deadline := e.ctx.Err() != nil
	stopped := errors.Is(cerr, errStreamStopped)
	if cerr != nil {
		// The command must not block on a pipe nobody reads.
		e.cancel()
		pr.Close()
	}
	werr := <-waited
	switch {
	case deadline:
		return fmt.Errorf("%s: %w", e.name, context.DeadlineExceeded)
	case stopped:
		return nil
	case cerr != nil:
		return fmt.Errorf("%s: %w", e.name, cerr)
	case werr != nil:
		return e.explain(werr)
	}
	return nil
}

// execution is one started command.
type execution struct {
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	stderr *cappedBuffer
	done   chan error // the result of Wait
}

// start starts c with its standard output going to the writer stdout
// makes (given the function that stops the command).
func (r Runner) start(ctx context.Context, c config.Command, stdout func(context.CancelFunc) io.Writer) (*execution, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("no command configured")
	}
	// The program is looked up in the same minimal PATH the child gets, so
	// a command behaves the same whatever the exporter's environment
	// (systemd, SMF, a shell); write an absolute path for anything else.
	prog, err := lookPath(c.Argv[0])
	if err != nil {
		return nil, err
	}
	e := &execution{name: c.Argv[0], stderr: &cappedBuffer{max: 4096, truncate: true}, done: make(chan error, 1)}
	if c.Timeout > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, time.Duration(c.Timeout))
		e.ctx, e.cancel = context.WithCancel(ctx)
		cancel := e.cancel
		e.cancel = func() { cancel(); cancelTimeout() }
	} else {
		e.ctx, e.cancel = context.WithCancel(ctx)
	}
	cmd := exec.CommandContext(e.ctx, prog, c.Argv[1:]...)
	cmd.Env = append([]string{"PATH=" + minimalPath, "LANG=C", "LC_ALL=C"}, c.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole process group, so helpers a script started die too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	cmd.Stdout, cmd.Stderr = stdout(e.cancel), e.stderr // only the start of stderr is reported
	if err := cmd.Start(); err != nil {
		e.cancel()
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	go func() {
		err := cmd.Wait()
		if errors.Is(err, exec.ErrWaitDelay) {
			// The command exited but left a helper holding its output
			// open: that helper is still in the process group, which is
			// killed as on a timeout.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		e.done <- err
	}()
	return e, nil
}

// explain turns the error of a failed command into the one reported: a
// timeout, or the exit status with the first line of stderr.
func (e *execution) explain(err error) error {
	if e.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", e.name, context.DeadlineExceeded)
	}
	if msg := strings.TrimSpace(e.stderr.buf.String()); msg != "" {
		return fmt.Errorf("%s: %w: %s", e.name, err, firstLine(msg))
	}
	return fmt.Errorf("%s: %w", e.name, err)
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
