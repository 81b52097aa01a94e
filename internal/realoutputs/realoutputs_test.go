package realoutputs

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSources checks the real folder: it skips (saying why) where
// shared/real-outputs is absent, and otherwise needs its SOURCES.md.
func TestSources(t *testing.T) {
	dir := Dir(t)
	if !filepath.IsAbs(dir) || filepath.Base(dir) != "real-outputs" || filepath.Base(filepath.Dir(dir)) != "shared" {
		t.Errorf("Dir = %q, want an absolute path ending in shared/real-outputs", dir)
	}
	if b := Read(t, "SOURCES.md"); len(b) == 0 {
		t.Error("SOURCES.md is empty")
	}
	if p := Path(t, "SOURCES.md"); p != filepath.Join(dir, "SOURCES.md") {
		t.Errorf("Path = %q", p)
	}
}

// recorder stands in for a testing.TB to observe skips and failures; like
// the real ones, Skipf and Fatalf end the calling goroutine.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper()                         {}
func (r *recorder) Logf(format string, args ...any) {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls fn with a recorder in its own goroutine and returns the recorder.
func run(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

// fakeModule lays out <tmp>/mod/go.mod and <tmp>/mod/pkg, optionally with
// <tmp>/shared/real-outputs holding files, and changes into <tmp>/mod/pkg.
// It returns the expected real-outputs path.
func fakeModule(t *testing.T, files ...string) string {
	tmp := t.TempDir()
	pkg := filepath.Join(tmp, "mod", "pkg")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "mod", "go.mod"), []byte("module example.com/mod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "shared", "real-outputs")
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(pkg)
	return dir
}

func TestAbsentSkips(t *testing.T) {
	dir := fakeModule(t)
	for name, fn := range map[string]func(testing.TB){
		"Dir":  func(tb testing.TB) { Dir(tb) },
		"Path": func(tb testing.TB) { Path(tb, "x.txt") },
		"Read": func(tb testing.TB) { Read(tb, "x.txt") },
		"Glob": func(tb testing.TB) { Glob(tb, "*") },
	} {
		r := run(t, fn)
		if !r.skipped || r.failed || !strings.Contains(r.msg, dir) {
			t.Errorf("%s with the folder absent: skipped=%v failed=%v %q; want a skip naming %s", name, r.skipped, r.failed, r.msg, dir)
		}
	}
	r := run(t, func(tb testing.TB) {
		if got, ok := Lookup(tb); ok || got != dir {
			t.Errorf("Lookup = %q, %v; want %q, false", got, ok, dir)
		}
	})
	if r.skipped || r.failed {
		t.Errorf("Lookup must neither skip nor fail: %q", r.msg)
	}
}

func TestPresent(t *testing.T) {
	dir := fakeModule(t, "a/x.txt", "a/y.txt", "a/sub/z.txt", "empty/sub/z.txt")
	r := run(t, func(tb testing.TB) {
		if got := Dir(tb); got != dir {
			t.Errorf("Dir = %q, want %q", got, dir)
		}
		if got := Path(tb, "a", "sub/z.txt"); got != filepath.Join(dir, "a", "sub", "z.txt") {
			t.Errorf("Path = %q", got)
		}
		if got := string(Read(tb, "a/x.txt")); got != "a/x.txt" {
			t.Errorf("Read = %q", got)
		}
		want := []string{filepath.Join(dir, "a", "x.txt"), filepath.Join(dir, "a", "y.txt")}
		if got := Glob(tb, "a/*"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Glob = %q, want %q (files only)", got, want)
		}
	})
	if r.skipped || r.failed {
		t.Fatalf("present folder: skipped=%v failed=%v %q", r.skipped, r.failed, r.msg)
	}
	for name, fn := range map[string]func(testing.TB){
		"Path of a missing file":      func(tb testing.TB) { Path(tb, "a", "renamed.txt") },
		"Read of a missing file":      func(tb testing.TB) { Read(tb, "nosuchdir/x.txt") },
		"Glob matching nothing":       func(tb testing.TB) { Glob(tb, "a/*.xml") },
		"Glob matching only folders":  func(tb testing.TB) { Glob(tb, "empty/*") },
		"Glob with a malformed match": func(tb testing.TB) { Glob(tb, "a/[") },
	} {
		r := run(t, fn)
		if !r.failed || r.skipped {
			t.Errorf("%s: skipped=%v failed=%v %q; want a failure", name, r.skipped, r.failed, r.msg)
		}
	}
}
