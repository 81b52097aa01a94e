package systems_test

import (
	"testing"

	"github.com/mailcluster/mailcluster_exporter/collector"
	"github.com/mailcluster/mailcluster_exporter/exporter"
)

// The worked examples load and build, on a non-member exporter (local
// sources skipped, as `--config.check` does) and on a cluster node (every
// local source built too).
func TestExamplesBuild(t *testing.T) {
	for file, node := range map[string]string{
		"../examples/clusterpro.yml":      "mail1",
		"../examples/mfilter.yml":         "mf-slave",
		"../examples/solaris-cluster.yml": "mars",
		"../examples/appliance-pair.yml":  "",
	} {
		for _, local := range []string{"", node} {
			if _, _, err := exporter.Build(abs(t, file), collector.Options{LocalNode: local}); err != nil {
				t.Errorf("%s (--cluster.node=%q): %v", file, local, err)
			}
		}
	}
}
