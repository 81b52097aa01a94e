// Package rulebench measures the cost of the bundled rule files with
// Prometheus's own engine and rule manager in process, against a storage
// filled with series shaped like the exporters' output for many clusters.
package rulebench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// The services of every simulated cluster, as in the 1,000-cluster scale
// run: six protocol endpoints, the SMTP family gated.
var services = []struct {
	name, protocol, port, tls string
	gated                     bool
}{
	{"smtp", "smtp", "25", "opportunistic", true},
	{"submission", "smtp", "587", "starttls", true},
	{"smtps", "smtp", "465", "implicit", true},
	{"imap", "imap", "143", "starttls", false},
	{"imaps", "imap", "993", "implicit", false},
	{"pop3s", "pop3", "995", "implicit", false},
}

var (
	nodeNames  = []string{"node-a", "node-b"}
	roleStates = []string{"active", "master", "offline", "slave", "standby", "unknown"}
	syncStates = []string{"disabled", "out_of_sync", "synced", "syncing", "unknown"}
	observed   = []string{"alive", "serving", "silent"}
)

// Scrape is the interval of the simulated scrapes.
const Scrape = 30 * time.Second

// scenario says what is wrong with one cluster. Most clusters are healthy;
// the rest cover every branch the expensive rules take, so that a rewrite
// that changes a result shows up in a dump comparison.
type scenario struct {
	kind            string // active_standby, master_slave, failover_group
	exporterBDown   bool   // node-b's exporter is not scraped
	slowService     bool   // imap on node-a slower than its threshold
	windowOpen      bool   // update window open, gated services down
	syncing         bool
	certExpiring    bool // smtps certificate on node-a expires in 3 days
	unverified      bool // imaps certificate on node-a does not verify
	restartVanished bool // node-b's restart flag disappears half-way
	sourceDown      bool // node-a's exporter cannot read its source
	virtualDown     bool // pop3s down through the virtual address
	standbyServing  bool // node-b's services answer although it is standby
	failedOver      bool // node-b active, node-a standby
	agentlessOnly   bool // only the agentless exporter sees the cluster
}

func scenarioFor(i int) scenario {
	s := scenario{kind: "active_standby"}
	switch i % 10 {
	case 3:
		s.kind = "master_slave"
	case 7:
		s.kind = "failover_group"
	}
	s.exporterBDown = i%7 == 3
	s.slowService = i%11 == 4
	s.windowOpen = i%13 == 5
	s.syncing = i%17 == 6
	s.certExpiring = i%19 == 7
	s.unverified = i%23 == 8
	s.restartVanished = i%29 == 9
	s.sourceDown = i%31 == 10
	s.virtualDown = i%37 == 11
	s.standbyServing = i%41 == 12
	s.failedOver = i%43 == 13
	s.agentlessOnly = i%47 == 14
	return s
}

// ClusterName is the cluster label of the i-th simulated cluster.
func ClusterName(i int) string { return fmt.Sprintf("mc%04d", i) }

type sample struct {
	ls    labels.Labels
	value func(t time.Duration) float64 // NaN: no sample at t
}

func constant(v float64) func(time.Duration) float64 {
	return func(time.Duration) float64 { return v }
}

// seriesOf returns the series one exporter exposes for cluster i, with the
// job and instance labels a scrape adds. self is the node the exporter runs
// on ("" for the agentless exporter, which has no local source).
func seriesOf(i int, self string, instance string, span time.Duration) []sample {
	sc := scenarioFor(i)
	cluster := ClusterName(i)
	var out []sample
	add := func(v func(time.Duration) float64, name string, kv ...string) {
		b := labels.NewScratchBuilder(len(kv)/2 + 3)
		b.Add("__name__", name)
		b.Add("job", "mailcluster")
		b.Add("instance", instance)
		b.Add("cluster", cluster)
		for j := 0; j+1 < len(kv); j += 2 {
			b.Add(kv[j], kv[j+1])
		}
		b.Sort()
		out = append(out, sample{ls: b.Labels(), value: v})
	}
	c := constant
	bool01 := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	active := "node-a"
	if sc.failedOver {
		active = "node-b"
	}
	activeRole, standbyRole := "active", "standby"
	if sc.kind == "master_slave" {
		activeRole, standbyRole = "master", "slave"
	}

	add(c(1), "mailcluster_exporter_build_info", "version", "0.9.0")
	add(c(1), "mailcluster_exporter_config_last_reload_successful")
	add(c(bool01(sc.windowOpen)), "mailcluster_update_window_open")
	if sc.windowOpen {
		add(c(7200), "mailcluster_update_window_end_timestamp_seconds")
	}
	for _, s := range services {
		add(c(1), "mailcluster_service_info", "gated", fmt.Sprint(s.gated), "port", s.port, "protocol", s.protocol, "service", s.name, "tls", s.tls)
		add(c(1), "mailcluster_service_slow_threshold_seconds", "service", s.name)
	}
	for ni, node := range nodeNames {
		isActive := node == active
		preferred := fmt.Sprint(ni == 0)
		add(c(1), "mailcluster_node_info", "address", fmt.Sprintf("10.%d.%d.%d", i/250, i%250, ni+1), "kind", sc.kind, "node", node, "preferred", preferred, "priority", fmt.Sprint(ni+1))
		serving := isActive || sc.standbyServing
		if sc.windowOpen {
			serving = false
		}
		add(c(bool01(!serving)), "mailcluster_node_observed", "node", node, "state", "alive")
		add(c(bool01(serving)), "mailcluster_node_observed", "node", node, "state", "serving")
		add(c(0), "mailcluster_node_observed", "node", node, "state", "silent")
		for _, s := range services {
			up := serving
			if sc.kind == "master_slave" && !sc.windowOpen {
				up = true
			}
			if sc.windowOpen && !s.gated {
				up = isActive
			}
			add(c(bool01(up)), "mailcluster_service_up", "node", node, "service", s.name)
			if !up {
				add(c(1), "mailcluster_service_probe_failure", "node", node, "reason", "refused", "service", s.name)
			}
			d := 0.004 + 0.0001*float64(ni)
			if sc.slowService && node == "node-a" && s.name == "imap" {
				d = 2.5
			}
			add(jitter(d, i), "mailcluster_service_probe_duration_seconds", "node", node, "service", s.name)
			if up && s.tls != "opportunistic" {
				expiry := 86400.0 * 90
				if sc.certExpiring && node == "node-a" && s.name == "smtps" {
					expiry = 86400 * 3
				}
				add(c(expiry), "mailcluster_service_tls_cert_expiry_timestamp_seconds", "node", node, "service", s.name)
				add(c(expiry), "mailcluster_service_tls_chain_expiry_timestamp_seconds", "node", node, "service", s.name)
				add(c(bool01(!(sc.unverified && node == "node-a" && s.name == "imaps"))), "mailcluster_service_tls_verified", "node", node, "service", s.name)
			}
		}
	}
	for _, s := range services {
		up := !(sc.virtualDown && s.name == "pop3s") && !(sc.windowOpen && s.gated)
		add(c(bool01(up)), "mailcluster_virtual_service_up", "service", s.name)
		add(jitter(0.005, i), "mailcluster_virtual_service_probe_duration_seconds", "service", s.name)
		if up && s.tls != "opportunistic" {
			add(c(86400*90), "mailcluster_virtual_service_tls_cert_expiry_timestamp_seconds", "service", s.name)
			add(c(1), "mailcluster_virtual_service_tls_verified", "service", s.name)
		}
		if !up {
			add(c(1), "mailcluster_virtual_service_probe_failure", "reason", "refused", "service", s.name)
		}
	}
	if self == "" {
		// The agentless exporter knows no role: its stateset says unknown.
		for _, node := range nodeNames {
			for _, r := range roleStates {
				add(c(bool01(r == "unknown")), "mailcluster_node_role", "node", node, "role", r)
			}
		}
		return out
	}
	// A node's exporter reads its cluster software, which reports both
	// nodes' roles, the sync state, the peer and the local facts.
	for _, node := range nodeNames {
		role := standbyRole
		if node == active {
			role = activeRole
		}
		if sc.windowOpen && sc.kind != "master_slave" {
			role = "offline"
			if node == active {
				role = activeRole
			}
		}
		known := !(sc.sourceDown && self == "node-a")
		for _, r := range roleStates {
			v := bool01(known && r == role || !known && r == "unknown")
			add(c(v), "mailcluster_node_role", "node", node, "role", r)
		}
		if sc.kind != "failover_group" {
			state := "synced"
			if sc.syncing {
				state = "syncing"
			}
			if !known {
				state = "unknown"
			}
			for _, st := range syncStates {
				add(c(bool01(st == state)), "mailcluster_sync_state", "node", node, "state", st)
			}
		}
	}
	peer := "node-b"
	if self == "node-b" {
		peer = "node-a"
	}
	add(c(1), "mailcluster_peer_up", "node", self, "peer", peer)
	if sc.kind != "failover_group" {
		add(c(1), "mailcluster_sync_port_up", "node", self, "peer", peer, "port", "7001")
	}
	if sc.syncing {
		add(c(0.42), "mailcluster_sync_progress_ratio", "node", self)
		add(c(1<<20), "mailcluster_sync_pending", "node", self, "unit", "bytes")
	}
	add(c(1), "mailcluster_redundancy_enabled", "node", self)
	restart := constant(0)
	if sc.restartVanished && self == "node-b" {
		half := span / 2
		restart = func(t time.Duration) float64 {
			if t > half {
				return math.NaN()
			}
			return 1
		}
	}
	add(restart, "mailcluster_restart_required", "node", self)
	add(c(3), "mailcluster_role_changes_total", "node", self)
	add(c(1000), "mailcluster_last_role_change_timestamp_seconds", "node", self)
	add(c(1), "mailcluster_software_info", "node", self, "version", "2.0.7")
	add(func(t time.Duration) float64 { return t.Seconds() - 60 }, "mailcluster_software_version_timestamp_seconds", "node", self)
	source := "appliance"
	add(c(bool01(!(sc.sourceDown && self == "node-a"))), "mailcluster_source_up", "node", self, "source", source)
	add(jitter(0.02, i), "mailcluster_source_duration_seconds", "node", self, "source", source)
	for _, q := range []string{"active", "deferred", "hold", "incoming"} {
		add(c(3), "mailcluster_queue_messages", "node", self, "queue", q)
		add(c(4096), "mailcluster_queue_bytes", "node", self, "queue", q)
		add(c(120), "mailcluster_queue_oldest_age_seconds", "node", self, "queue", q)
	}
	return out
}

// jitter returns a value that varies a little from scrape to scrape, like
// a measured duration.
func jitter(base float64, seed int) func(time.Duration) float64 {
	return func(t time.Duration) float64 {
		k := int64(t/Scrape) + int64(seed)
		return base * (1 + 0.1*float64(k%7)/7)
	}
}

// Exporters lists the scrape targets of cluster i: the exporter on each
// node and an agentless one that probes from outside.
func Exporters(i int) []struct{ Self, Instance string } {
	sc := scenarioFor(i)
	var out []struct{ Self, Instance string }
	if !sc.agentlessOnly {
		out = append(out, struct{ Self, Instance string }{"node-a", fmt.Sprintf("%s-a:9879", ClusterName(i))})
		if !sc.exporterBDown {
			out = append(out, struct{ Self, Instance string }{"node-b", fmt.Sprintf("%s-b:9879", ClusterName(i))})
		}
	}
	out = append(out, struct{ Self, Instance string }{"", fmt.Sprintf("agentless-%d:9879", i%10)})
	return out
}

// Fill appends samples every Scrape from 0 to span for n clusters and
// returns the number of series. Time is the outer loop: the head block
// accepts samples only near its newest one.
func Fill(st storage.Appendable, n int, span time.Duration) (int, error) {
	var all []sample
	for i := range n {
		for _, e := range Exporters(i) {
			all = append(all, seriesOf(i, e.Self, e.Instance, span)...)
		}
	}
	refs := make([]storage.SeriesRef, len(all))
	ctx := context.Background()
	for t := time.Duration(0); t <= span; t += Scrape {
		app := st.Appender(ctx)
		for j, s := range all {
			v := s.value(t)
			if math.IsNaN(v) {
				continue
			}
			ref, err := app.Append(refs[j], s.ls, t.Milliseconds(), v)
			if err != nil {
				_ = app.Rollback()
				return 0, fmt.Errorf("append %s: %w", s.ls, err)
			}
			refs[j] = ref
		}
		if err := app.Commit(); err != nil {
			return 0, fmt.Errorf("commit: %w", err)
		}
	}
	return len(all), nil
}
