package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: no input makes the loader panic, and whatever it accepts is
// valid by its own rules (names set, ports in range, priorities positive).
func FuzzLoad(f *testing.F) {
	examples, _ := filepath.Glob("../examples/*.yml")
	for _, e := range examples {
		if b, err := os.ReadFile(e); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("clusters:\n  - name: a\n    kind: active_standby\n    nodes: [{name: x, address: 1.2.3.4}, {name: y, address: h}]\n    services: [smtp, {name: s, port: 2}]\n"))
	f.Add([]byte("clusters: [{<<: {name: a}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Load(data, "fuzz.yml")
		if err != nil {
			return
		}
		for _, cl := range cfg.Clusters {
			if cl.Name == "" || len(cl.Nodes) == 0 {
				t.Fatalf("accepted a cluster without name or nodes: %+v", cl)
			}
			for _, n := range cl.Nodes {
				if n.Priority < 1 || n.Address == "" {
					t.Fatalf("accepted node %+v", n)
				}
			}
			for _, s := range cl.Services {
				if s.Port < 1 || s.Port > 65535 || s.Timeout <= 0 {
					t.Fatalf("accepted service %+v", s)
				}
			}
			for _, s := range cl.Sources {
				if s.Name == "" {
					t.Fatalf("accepted a source without name: %+v", s)
				}
			}
		}
	})
}
