// Package parseutil holds what the line-oriented status parsers under
// collector/parse share: an error that names the tool and the input line
// (LineError), a bounded line scanner that produces it (ScanLines,
// ReadLines), the
// mapping from a byte offset to a line (LineOf, Position), as reported by
// encoding/json, and the clipping of quoted input in messages (Clip).
//
// It knows nothing about any one tool's format; each parser keeps its own
// grammar and passes its tool name ("clpstat", "mf_replica.def", …) for
// the message prefix.
package parseutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// LineError is malformed input found on a line of a tool's output.
// Line <= 0 means the error is about the input as a whole.
type LineError struct {
	Tool string // message prefix, e.g. "clpstat"; may be empty
	Line int    // 1-based
	Msg  string
}

// Error returns "tool: line N: msg", or "tool: msg" without a line.
func (e *LineError) Error() string {
	var b strings.Builder
	if e.Tool != "" {
		b.WriteString(e.Tool + ": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errorf returns a *LineError for tool at line with a formatted message.
func Errorf(tool string, line int, format string, args ...any) error {
	return &LineError{Tool: tool, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// ScanLines calls fn with the 1-based number and the text of each line of
// r (without its LF or CRLF terminator, and without a UTF-8 byte order mark
// on line 1), and returns fn's first error. A line longer than maxBytes is a
// *LineError of tool at that line's number; a read error is returned as
// "tool: reading input: err".
func ScanLines(r io.Reader, tool string, maxBytes int, fn func(n int, text string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(4096, maxBytes)), maxBytes)
	n := 0
	for sc.Scan() {
		n++
		t := sc.Text()
		if n == 1 {
			t = strings.TrimPrefix(t, "\ufeff")
		}
		if err := fn(n, t); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Errorf(tool, n+1, "line longer than %d bytes", maxBytes)
		}
		return fmt.Errorf("%s: reading input: %w", tool, err)
	}
	return nil
}

// Line is one input line with its 1-based number.
type Line struct {
	N    int
	Text string // trailing spaces, tabs and CR removed
}

// ReadLines reads all of r with ScanLines into Lines.
func ReadLines(r io.Reader, tool string, maxBytes int) ([]Line, error) {
	var out []Line
	err := ScanLines(r, tool, maxBytes, func(n int, t string) error {
		out = append(out, Line{N: n, Text: strings.TrimRight(t, " \t\r")})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Position returns the 1-based line and column of byte offset off in b
// (the offset of a json.SyntaxError or json.UnmarshalTypeError). An offset
// past the end is the position after the last byte.
func Position(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := 0; i < len(b) && int64(i) < off; i++ {
		if b[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// LineOf returns the 1-based line of byte offset off in b.
func LineOf(b []byte, off int64) int {
	line, _ := Position(b, off)
	return line
}

// Clip returns s cut to its first n bytes followed by "…" when it is
// longer, for quoting input in messages.
func Clip(s string, n int) string { return clip(s, n, "…") }

// ClipASCII is Clip with "..." as the mark, for messages that stay ASCII.
func ClipASCII(s string, n int) string { return clip(s, n, "...") }

func clip(s string, n int, mark string) string {
	if len(s) > n {
		return s[:n] + mark
	}
	return s
}
