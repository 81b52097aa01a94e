package clpstat

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/internal/realoutputs"
	"github.com/mailcluster/mailcluster_exporter/internal/transcript"
)

// realFiles returns the real outputs in shared/real-outputs/<sub> by file
// name. It skips the test where shared/real-outputs is absent and fails it
// where the folder holds no file.
func realFiles(t testing.TB, sub string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range realoutputs.Glob(t, sub+"/*") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// testdata reads a transcribed file of testdata/ without its '#' header.
func testdata(t testing.TB, name string) string {
	t.Helper()
	return transcript.Read(t, filepath.Join("testdata", name))
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
