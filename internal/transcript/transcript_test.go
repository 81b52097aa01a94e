package transcript

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(p, []byte("# transcription of …\n# from the guide\nline 1\n# not a header\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Read(t, p); got != "line 1\n# not a header\n" {
		t.Errorf("Read = %q", got)
	}
	if got := StripHeader("no header\n"); got != "no header\n" {
		t.Errorf("StripHeader = %q", got)
	}
}
