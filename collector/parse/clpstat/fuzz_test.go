package clpstat

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/internal/realoutputs"
	"github.com/mailcluster/mailcluster_exporter/internal/transcript"
)

func seedCorpus(f *testing.F, prefixes ...string) {
	// Real outputs, read in place; without shared/ only these seeds are lost.
	for _, p := range realoutputs.SeedGlob(f, "expresscluster/*") {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, p := range prefixes {
		m, _ := filepath.Glob(filepath.Join("testdata", p+"*.txt"))
		for _, name := range m {
			if b, err := os.ReadFile(name); err == nil {
				f.Add([]byte(transcript.StripHeader(string(b))))
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	seedCorpus(f, "clpstat-")
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Parse(bytes.NewReader(b))
		if err != nil {
			if st != nil {
				t.Fatal("status returned with an error")
			}
			return
		}
		_, groups := st.effective()
		var prio []string
		for _, s := range st.Servers {
			prio = append(prio, s.Name)
		}
		for _, g := range groups {
			for _, p := range [][]string{nil, prio, {"nosuchserver"}} {
				fs, err := st.NodeFacts(g.Name, p)
				if err != nil {
					// Only ambiguity (truncated duplicate names) may fail
					// for a group that exists.
					if !strings.Contains(err.Error(), "ambiguous") {
						t.Fatalf("NodeFacts(%q): %v", g.Name, err)
					}
					continue
				}
				for n, nf := range fs {
					if nf.Role == "" {
						t.Fatalf("node %s without a role", n)
					}
				}
				_, _ = st.Placement(g.Name, p)
			}
		}
		_ = st.Unhealthy()
	})
}

func FuzzParseMirror(f *testing.F) {
	seedCorpus(f, "clpmdstat-")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMirror(bytes.NewReader(b))
		if err != nil {
			return
		}
		for n, nf := range m.NodeFacts() {
			if nf.SyncState == "" {
				t.Fatalf("node %s without a sync state", n)
			}
			if p := nf.SyncProgress; p != nil && (*p < 0 || *p > 1) {
				t.Fatalf("progress %v out of range", *p)
			}
		}
	})
}
