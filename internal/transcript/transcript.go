// Package transcript reads the project's own transcriptions of documented
// tool output (testdata files that open with '#' lines saying what they
// transcribe and from which document). Only tests import it.
package transcript

import (
	"os"
	"strings"
	"testing"
)

// Read returns the file without its leading '#' header lines.
func Read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return StripHeader(string(b))
}

// StripHeader drops the leading lines that start with '#'.
func StripHeader(s string) string {
	lines := strings.SplitAfter(s, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], "#") {
		i++
	}
	return strings.Join(lines[i:], "")
}
