package exporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailcluster/mailcluster_exporter/collector"
	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/prober"
	"github.com/mailcluster/mailcluster_exporter/collector/roundtrip"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// fullSnapshot sets every fact, so that every metric the code can write
// is written.
func fullSnapshot(t *testing.T) *collector.Snapshot {
	t.Helper()
	cfg, err := config.Load([]byte(`
clusters:
  - name: full
    kind: active_standby
    virtual_address: 127.0.0.60
    nodes:
      - {name: a, address: 127.0.0.61}
      - {name: b, address: 127.0.0.62}
    services: [smtps]
`), "full.yml")
	if err != nil {
		t.Fatal(err)
	}
	cl := cfg.Clusters[0]
	svc := cl.Services[0]
	tlsState := &prober.TLSState{Verified: true, LeafNotAfter: time.Unix(2e9, 0), ChainNotAfter: time.Unix(1.9e9, 0)}
	res := prober.Result{Up: true, Duration: time.Millisecond, TLS: tlsState}
	down := prober.Result{Duration: time.Millisecond, TLS: tlsState, Reason: prober.ReasonTimeout, Err: context.DeadlineExceeded}
	set := facts.Set{}
	n := set.Node("a")
	n.Role, n.RedundancyEnabled, n.PeerUp = facts.RoleActive, facts.Bool(true), map[string]bool{"b": true}
	n.SyncState, n.SyncProgress, n.SyncLagSeconds = facts.SyncSyncing, facts.Float(0.5), facts.Float(3)
	n.SyncPending = map[string]float64{"bytes": 10}
	n.Version, n.RestartRequired = "1.0", facts.Bool(false)
	n.VersionTimestamp, n.SyncDataEnabled, n.VirtualHolder = 1.7e9, facts.Bool(true), facts.Bool(true)
	n.SyncPorts = []facts.SyncPort{{Peer: "b", Port: 14083, Up: true}}
	n.Queues = map[string]facts.Queue{"deferred": {Messages: 1, Bytes: 2, OldestAgeSeconds: facts.Float(4)}}
	return &collector.Snapshot{
		Cluster:  cl,
		Facts:    set,
		Services: map[string][]collector.ProbeOutcome{"a": {{Service: svc, Result: res}}, "b": {{Service: svc, Result: down}}},
		Virtual:  []collector.ProbeOutcome{{Service: svc, Result: down}},
		Observed: map[string]facts.Observation{"a": facts.ObservedServing},
		Sources:  []collector.SourceStatus{{Name: "command", Node: "a", Up: true, Duration: time.Millisecond}},
		Roles:    map[string]collector.RoleHistory{"a": {Role: facts.RoleActive, Changes: 1, LastChange: 1.7e9}},
		Window:   collector.WindowState{Open: true, End: time.Unix(2e9, 0)},
		RoundTrip: &collector.RoundTripState{Service: "smtps", SlowThreshold: time.Minute, MaxLag: time.Minute, Age: time.Second,
			Status: roundtrip.Status{Rounds: 1, Last: &roundtrip.Result{Delivered: true, Delivery: time.Second,
				Nodes: map[string]roundtrip.NodeResult{"a": {Seen: true, Replication: time.Second, LastSuccess: time.Unix(1.7e9, 0)}}}}},
	}
}

// Every metric the exporter can expose is in docs/metrics.md, and every
// metric documented there is exposed.
func TestMetricsDocumented(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(snapshots{fullSnapshot(t)})
	exposed := map[string]bool{}
	for _, g := range []prometheus.Gatherer{reg, newExporter(t, "testdata/golden.yml").self} {
		mfs, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "mailcluster_") {
				exposed[mf.GetName()] = true
			}
		}
	}
	documented := docMetrics(t)
	if len(documented) < 20 {
		t.Fatalf("docs/metrics.md lists only %d metrics; the table format changed?", len(documented))
	}
	for _, name := range sorted(exposed) {
		if !documented[name] {
			t.Errorf("%s is exposed but not documented in docs/metrics.md", name)
		}
	}
	for _, name := range sorted(documented) {
		if !exposed[name] {
			t.Errorf("%s is documented in docs/metrics.md but never exposed", name)
		}
	}
}

// A label value that is not valid UTF-8 (a version printed by a tool in a
// legacy encoding) is repaired; it must not end the exposition and take
// the other clusters' facts with it.
func TestInvalidUTF8DoesNotDropClusters(t *testing.T) {
	bad, good := fullSnapshot(t), fullSnapshot(t)
	bad.Facts["a"].Version = "V\xe9rsion-2.0"
	good.Cluster = &config.Cluster{Name: "zz", Kind: config.KindActiveStandby, Nodes: bad.Cluster.Nodes}
	reg := prometheus.NewRegistry()
	reg.MustRegister(snapshots{bad, good})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	clusters, version := map[string]bool{}, ""
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "mailcluster_update_window_open":
				clusters[labels["cluster"]] = true
			case "mailcluster_software_info":
				if labels["cluster"] == "full" {
					version = labels["version"]
				}
			}
		}
	}
	if !clusters["full"] || !clusters["zz"] {
		t.Errorf("clusters exposed: %v; want both", clusters)
	}
	if version != "V\uFFFDrsion-2.0" {
		t.Errorf("version label %q; want the invalid byte replaced", version)
	}
}
