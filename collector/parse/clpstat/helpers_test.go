package clpstat

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// realOutputs is shared/real-outputs beside the repository root, read in
// place (never copied into the project).
const realOutputs = "../../../../shared/real-outputs"

func realDir(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join(realOutputs, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real outputs not available at %s (expected beside the repository root): %v", dir, err)
	}
	return dir
}

func realFiles(t testing.TB, sub string) map[string][]byte {
	t.Helper()
	dir := realDir(t, sub)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// testdata reads a transcribed file and strips its leading '#' header.
func testdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return stripHeader(string(b))
}

func stripHeader(s string) string {
	lines := strings.SplitAfter(s, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], "#") {
		i++
	}
	return strings.Join(lines[i:], "")
}

func testdataFiles(t testing.TB, prefix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join("testdata", prefix+"*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}
