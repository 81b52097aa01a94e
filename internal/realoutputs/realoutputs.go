// Package realoutputs locates the real tool outputs that the parser and
// system tests replay. They live in shared/real-outputs beside the
// repository root (the folder that holds go.mod), are described in its
// SOURCES.md, and are read in place: never copied into the project.
//
// Where that folder is absent (a checkout outside CI), Dir and the helpers
// built on it (Path, Read, Glob) skip the calling test with a message naming
// the path that was expected. Where it is present, a file or a listing that
// is missing fails the test instead, so that a renamed or removed capture
// cannot hide behind a skip. Lookup and SeedGlob never skip: they serve
// tests that mix real outputs with their own inputs, and fuzz seed corpora.
//
// It is only for tests; nothing outside _test.go files imports it.
package realoutputs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// rel is the location of the real outputs relative to the module root.
const rel = "../shared/real-outputs"

// moduleRoot returns the directory holding go.mod, found by walking up from
// the working directory (a test's working directory is its package's).
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod in %s or any of its parents", wd)
		}
		dir = parent
	}
}

// Lookup returns the absolute path of shared/real-outputs and whether that
// folder exists, without skipping. It fails the test only when the module
// root cannot be found or the folder cannot be examined.
func Lookup(t testing.TB) (dir string, ok bool) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("locating the real outputs: %v", err)
	}
	dir = filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return dir, false
	case err != nil:
		t.Fatalf("locating the real outputs: %v", err)
	case !fi.IsDir():
		t.Fatalf("%s is not a directory", dir)
	}
	return dir, true
}

// Dir returns the absolute path of shared/real-outputs. Where the folder is
// absent it skips the test, naming the path it expected.
func Dir(t testing.TB) string {
	t.Helper()
	dir, ok := Lookup(t)
	if !ok {
		t.Skipf("real outputs not available: %s is absent (shared/real-outputs is expected beside the repository root, read in place); skipping this test, which replays them", dir)
	}
	return dir
}

// Path returns the absolute path of a file or folder in shared/real-outputs,
// given by slash-separated elements such as ("drbd", "proc-drbd-8.x/x.txt").
// It skips the test where the folder is absent (see Dir) and fails it where
// the folder is present but the file is not.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	dir := Dir(t)
	p := dir
	for _, e := range elem {
		p = filepath.Join(p, filepath.FromSlash(e))
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("real output missing although %s exists (renamed or removed? see its SOURCES.md): %v", dir, err)
	}
	return p
}

// Read returns the content of a file in shared/real-outputs; it skips and
// fails like Path.
func Read(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(Path(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Glob returns the absolute paths of the files (not folders) in
// shared/real-outputs that match a slash-separated pattern such as
// "pacemaker/*.xml", in lexical order. It skips the test where the folder is
// absent (see Dir) and fails it where nothing matches.
func Glob(t testing.TB, pattern string) []string {
	t.Helper()
	return glob(t, Dir(t), pattern)
}

// SeedGlob is Glob for fuzz seed corpora: where the folder is absent it
// logs that and returns nil, since losing those seeds must not skip the
// target's other seeds; where the folder is present it fails like Glob.
func SeedGlob(f *testing.F, pattern string) []string {
	f.Helper()
	dir, ok := Lookup(f)
	if !ok {
		f.Logf("%s is absent: no real-output seeds for %s", dir, pattern)
		return nil
	}
	return glob(f, dir, pattern)
}

func glob(t testing.TB, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(pattern)))
	if err != nil {
		t.Fatalf("real outputs %q: %v", pattern, err)
	}
	var files []string
	for _, p := range m {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no real output matches %s although %s exists (renamed or removed? see its SOURCES.md)", pattern, dir)
	}
	return files
}
