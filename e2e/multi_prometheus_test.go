//go:build e2e

package e2e

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Sharding (docs/performance.md): two Prometheus servers split the
// clusters by hashmod of the cluster parameter of /probe?cluster=, so every
// exporter of one cluster lands on the same shard and the bundled rules
// work per shard. The testbed's three exporters serve cluster e2e; a
// second agentless exporter serves two more cluster names of the same
// pair: e2e-east (the pair as it is: green) and e2e-red (its SMTP on a
// port nothing listens on: no node serves, red).
const (
	shardExporter = "10.213.47.1:19026"
	shardModulus  = 2
)

var shardPorts = [shardModulus]int{19091, 19092}

// shardClusters maps each cluster to the colour its shard must show and
// the exporters that serve /probe?cluster= for it.
var shardClusters = map[string]struct {
	colour    float64
	exporters []string
}{
	"e2e":      {1, []string{"10.213.47.11:19025", "10.213.47.12:19025", "10.213.47.1:19025"}},
	"e2e-east": {1, []string{shardExporter}},
	"e2e-red":  {3, []string{shardExporter}},
}

// hashmod is Prometheus' relabel action: the last 8 bytes of the MD5 of
// the value, big endian, modulo the modulus.
func hashmod(v string, mod uint64) uint64 {
	h := md5.Sum([]byte(v))
	return binary.BigEndian.Uint64(h[8:]) % mod
}

func TestSharding(t *testing.T) {
	ensureSteady(t)
	dir := t.TempDir()
	expCfg := filepath.Join(dir, "exporter.yml")
	writeFile(t, expCfg, shardExporterConfig())
	startClient(t, dir, "exporter", exporterBin, "--config.file="+expCfg, "--web.listen-address="+shardExporter,
		"--windows.file="+filepath.Join(dir, "windows.json"), "--cluster.node=none")

	rules, err := filepath.Glob(filepath.Join(mustAbs(".."), "rules", "mailcluster.*.yml"))
	if err != nil || len(rules) == 0 {
		t.Fatalf("no bundled rules found: %v", err)
	}
	want := map[int]map[string]float64{}
	for shard := range shardPorts {
		cfg := filepath.Join(dir, fmt.Sprintf("prometheus-%d.yml", shard))
		writeFile(t, cfg, shardPrometheusConfig(shard, rules))
		startClient(t, dir, fmt.Sprintf("prometheus-%d", shard), "/usr/bin/prometheus", "--config.file="+cfg,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("tsdb-%d", shard)),
			fmt.Sprintf("--web.listen-address=10.213.47.1:%d", shardPorts[shard]))
		want[shard] = map[string]float64{}
	}
	for name, c := range shardClusters {
		want[int(hashmod(name, shardModulus))][name] = c.colour
	}
	for shard, clusters := range want {
		if len(clusters) == 0 {
			t.Fatalf("shard %d gets no cluster: pick cluster names that split (%v)", shard, want)
		}
	}

	for shard, clusters := range want {
		base := fmt.Sprintf("http://10.213.47.1:%d", shardPorts[shard])
		targets := 0
		for name := range clusters {
			targets += len(shardClusters[name].exporters)
		}
		// Every exporter of each of its clusters, and nothing else, is scraped here.
		waitShard(t, base, fmt.Sprintf("shard %d scrapes its %d targets", shard, targets), 60*time.Second,
			`up{job="mailcluster"} == 1`, func(v []shardSample) bool {
				if len(v) != targets {
					return false
				}
				for _, s := range v {
					inst := s.Metric["instance"]
					if _, mine := clusters[inst[strings.LastIndexByte(inst, '/')+1:]]; !mine {
						return false
					}
				}
				return true
			})
		// The rules, unchanged, give each of its clusters its colour, and no other cluster.
		got := waitShard(t, base, fmt.Sprintf("shard %d colours %v", shard, clusters), 90*time.Second,
			`mailcluster:status:code`, func(v []shardSample) bool {
				if len(v) != len(clusters) {
					return false
				}
				for _, s := range v {
					if w, ok := clusters[s.Metric["cluster"]]; !ok || w != s.Value {
						return false
					}
				}
				return true
			})
		t.Logf("shard %d: %v", shard, got)
	}
}

func shardExporterConfig() string {
	var b strings.Builder
	b.WriteString("global:\n  probe_timeout: 2s\nclusters:\n")
	for _, name := range []string{"e2e-east", "e2e-red"} {
		smtpPort := 25
		if name == "e2e-red" {
			smtpPort = 2599 // nothing listens: no node serves
		}
		fmt.Fprintf(&b, `  - name: %s
    kind: active_standby
    virtual_address: %s
    preferred_active: node-a
    nodes:
      - {name: node-a, address: 10.213.47.11}
      - {name: node-b, address: 10.213.47.12}
    services:
      - {name: smtp, protocol: smtp, port: %d, tls: none}
      - {name: imap, protocol: imap, port: 143, tls: none}
      - {name: pop3, protocol: pop3, port: 110, tls: none}
    liveness:
      - {protocol: tcp, port: 12345}
    sources:
      - type: service
        service: {primary_service: smtp}
`, name, vip, smtpPort)
	}
	return b.String()
}

// shardPrometheusConfig is the documented sharding configuration: every
// (exporter, cluster) pair is a target, the cluster is the parameter, and
// hashmod on the parameter keeps this shard's clusters.
func shardPrometheusConfig(shard int, rules []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: 3s\n  scrape_timeout: 3s\n  evaluation_interval: 3s\n  external_labels: {shard: \"%d\"}\nrule_files:\n", shard)
	for _, r := range rules {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	b.WriteString("scrape_configs:\n  - job_name: mailcluster\n    metrics_path: /probe\n    static_configs:\n")
	for name, c := range shardClusters {
		for _, e := range c.exporters {
			fmt.Fprintf(&b, "      - targets: ['%s']\n        labels: {__param_cluster: %s}\n", e, name)
		}
	}
	fmt.Fprintf(&b, `    relabel_configs:
      - source_labels: [__param_cluster]
        modulus: %d
        target_label: __tmp_shard
        action: hashmod
      - source_labels: [__tmp_shard]
        regex: "%d"
        action: keep
      - source_labels: [__address__, __param_cluster]
        separator: /
        target_label: instance
`, shardModulus, shard)
	return b.String()
}

// startClient starts a process in the client namespace for the length of
// the test, and stops it by pid.
func startClient(t *testing.T, dir, name string, argv ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", clientNS}, argv...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // its process group: ip netns exec execs the program
		done := make(chan struct{})
		go func() { _, _ = cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log (last 2000 bytes):\n%s", name, tail(b, 2000))
		}
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type shardSample struct {
	Metric map[string]string
	Value  float64
}

func (s shardSample) String() string {
	if c, ok := s.Metric["cluster"]; ok {
		return fmt.Sprintf("%s=%g", c, s.Value)
	}
	return fmt.Sprintf("%s=%g", s.Metric["instance"], s.Value)
}

// queryShard runs an instant query against one shard's Prometheus.
func queryShard(base, expr string) ([]shardSample, error) {
	b, err := clientGet(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" {
		return nil, fmt.Errorf("query %q: %v (body %.200q)", expr, err, b)
	}
	var out []shardSample
	for _, s := range r.Data.Result {
		var v float64
		str, _ := s.Value[1].(string)
		if _, err := fmt.Sscan(str, &v); err != nil {
			return nil, fmt.Errorf("query %q: value %v", expr, s.Value[1])
		}
		out = append(out, shardSample{Metric: s.Metric, Value: v})
	}
	return out, nil
}

// waitShard polls a query (once a second, bounded by max) until cond holds.
func waitShard(t *testing.T, base, what string, max time.Duration, expr string, cond func([]shardSample) bool) []shardSample {
	t.Helper()
	var last []shardSample
	var lastErr error
	for deadline := time.Now().Add(max); time.Now().Before(deadline); time.Sleep(time.Second) {
		last, lastErr = queryShard(base, expr)
		if lastErr == nil && cond(last) {
			return last
		}
	}
	t.Fatalf("%s: not within %s; last %s = %v (err %v)", what, max, expr, last, lastErr)
	return nil
}
