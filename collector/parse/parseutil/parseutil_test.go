package parseutil

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestLineError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{Errorf("clpstat", 3, "bad %q", "x"), `clpstat: line 3: bad "x"`},
		{Errorf("mf_replica.def", 0, "empty"), "mf_replica.def: empty"},
		{Errorf("", 2, "no tool"), "line 2: no tool"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
		var le *LineError
		if !errors.As(c.err, &le) {
			t.Errorf("%v is not a *LineError", c.err)
		}
	}
}

func TestScanLines(t *testing.T) {
	var got []string
	err := ScanLines(strings.NewReader("\ufeffa\r\nb\n\nc"), "t", 16, func(n int, s string) error {
		got = append(got, strings.Repeat("+", n)+s)
		return nil
	})
	if want := "+a|++b|+++|++++c"; err != nil || strings.Join(got, "|") != want {
		t.Errorf("got %q, %v; want %q", strings.Join(got, "|"), err, want)
	}

	stop := errors.New("stop")
	calls := 0
	err = ScanLines(strings.NewReader("a\nb\n"), "t", 16, func(int, string) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("fn error: got %v after %d calls", err, calls)
	}

	err = ScanLines(strings.NewReader("ok\n"+strings.Repeat("x", 40)+"\n"), "tool", 16, func(int, string) error { return nil })
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || err.Error() != "tool: line 2: line longer than 16 bytes" {
		t.Errorf("long line: %v", err)
	}

	err = ScanLines(iotest.ErrReader(io.ErrClosedPipe), "tool", 16, func(int, string) error { return nil })
	if !errors.Is(err, io.ErrClosedPipe) || err.Error() != "tool: reading input: io: read/write on closed pipe" {
		t.Errorf("read error: %v", err)
	}
}

func TestReadLines(t *testing.T) {
	got, err := ReadLines(strings.NewReader("\ufeff a \t\r\n\nb"), "t", 16)
	want := []Line{{1, " a"}, {2, ""}, {3, "b"}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %+v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, err := ReadLines(strings.NewReader(strings.Repeat("x", 40)), "t", 16); got != nil || err == nil {
		t.Errorf("long line: got %+v, %v", got, err)
	}
}

func TestPosition(t *testing.T) {
	b := []byte("{\n  \"a\": x\n}")
	for _, c := range []struct {
		off              int64
		line, col, line1 int
	}{
		{0, 1, 1, 1},
		{1, 1, 2, 1},
		{2, 2, 1, 2},
		{9, 2, 8, 2},
		{1000, 3, 2, 3},
		{-1, 1, 1, 1},
	} {
		line, col := Position(b, c.off)
		if line != c.line || col != c.col || LineOf(b, c.off) != c.line1 {
			t.Errorf("offset %d: got %d:%d (LineOf %d), want %d:%d", c.off, line, col, LineOf(b, c.off), c.line, c.col)
		}
	}
}

func TestClip(t *testing.T) {
	if got := Clip("abcdef", 3); got != "abc…" {
		t.Errorf("Clip = %q", got)
	}
	if got := ClipASCII("abcdef", 3); got != "abc..." {
		t.Errorf("ClipASCII = %q", got)
	}
	if got := Clip("abc", 3); got != "abc" {
		t.Errorf("Clip of a short string = %q", got)
	}
}
