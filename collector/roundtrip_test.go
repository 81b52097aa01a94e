package collector

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

type snapCollector struct{ s *Snapshot }

func (c snapCollector) Describe(ch chan<- *prometheus.Desc) { Describe(ch) }
func (c snapCollector) Collect(ch chan<- prometheus.Metric) { c.s.Emit(ch) }

// roundTripCluster is a pair behind a virtual address whose round trip goes
// to a loopback MailCluster.
func roundTripCluster(t *testing.T, mc *testmail.MailCluster) *Cluster {
	t.Helper()
	dir := t.TempDir()
	for name, v := range map[string]string{"user": "probe@test", "pass": "probe-secret"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vhost, vport, _ := net.SplitHostPort(mc.SMTPAddr)
	_, iport, _ := net.SplitHostPort(mc.IMAPAddr["node-a"])
	cfg := loadCluster(t, fmt.Sprintf(`
clusters:
  - name: pair
    kind: active_standby
    virtual_address: %s
    nodes:
      - {name: node-a, address: %s}
      - {name: node-b, address: %s}
    services:
      - {name: smtp, port: %s, tls: none, timeout: 2s}
      - {name: imap, port: %s, tls: none, timeout: 2s}
    roundtrip:
      every_scrapes: 1
      timeout: 3s
      slow_threshold: 2s
      poll_interval: 100ms
      to: probe@test
      submission: {service: smtp}
      imap:
        service: imap
        auth: {username_file: %s, password_file: %s, allow_plaintext_auth: true}
`, vhost, testmail.NodeHost(0), testmail.NodeHost(1), vport, iport, filepath.Join(dir, "user"), filepath.Join(dir, "pass")))
	c, err := New(cfg.Clusters[0], cfg.Global, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestRoundTripMetrics(t *testing.T) {
	mc := testmail.NewMailCluster(t, "probe@test", "probe-secret", 100*time.Millisecond)
	c := roundTripCluster(t, mc)
	collect := func() *Snapshot {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s := c.Collect(ctx)
		c.RoundTrip(s)
		return s
	}
	first := collect()
	const names = "mailcluster_roundtrip_slow_threshold_seconds mailcluster_roundtrip_rounds_total"
	want := `
# HELP mailcluster_roundtrip_rounds_total Round trips started by this exporter.
# TYPE mailcluster_roundtrip_rounds_total counter
mailcluster_roundtrip_rounds_total{cluster="pair"} 1
# HELP mailcluster_roundtrip_slow_threshold_seconds Delivery time above which the submission service counts as slow through the virtual address (roundtrip.slow_threshold); present whenever a round trip is configured.
# TYPE mailcluster_roundtrip_slow_threshold_seconds gauge
mailcluster_roundtrip_slow_threshold_seconds{cluster="pair",service="smtp"} 2
`
	if err := testutil.CollectAndCompare(snapCollector{first}, strings.NewReader(want), strings.Fields(names)...); err != nil {
		t.Errorf("before the first round finished: %v", err)
	}
	if n := testutil.CollectAndCount(snapCollector{first}, "mailcluster_roundtrip_success"); n != 0 {
		t.Errorf("%d success series before any round finished, want none", n)
	}
	c.roundTrip.Wait()
	second := collect()
	c.roundTrip.Wait()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(snapCollector{second})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "mailcluster_roundtrip_") {
			continue
		}
		for _, m := range mf.Metric {
			key := mf.GetName()
			for _, l := range m.Label {
				if l.GetName() == "node" {
					key += "/" + l.GetValue()
				}
			}
			got[key] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	for _, n := range []string{"node-a", "node-b"} {
		if got["mailcluster_roundtrip_success/"+n] != 1 {
			t.Errorf("success %s = %v, want 1 (got %v)", n, got["mailcluster_roundtrip_success/"+n], got)
		}
		if ts := got["mailcluster_roundtrip_last_success_timestamp_seconds/"+n]; time.Since(time.Unix(int64(ts), 0)) > time.Minute {
			t.Errorf("last success %s = %v, want just now", n, ts)
		}
	}
	if b, a := got["mailcluster_roundtrip_replication_seconds/node-b"], got["mailcluster_roundtrip_replication_seconds/node-a"]; b < 0.1 || b < a {
		t.Errorf("replication node-b %v, node-a %v: node-b gets the message 100ms later", b, a)
	}
	if d := got["mailcluster_roundtrip_delivery_seconds"]; d <= 0 || d > 2 {
		t.Errorf("delivery = %v, want a fast delivery", d)
	}
	if _, ok := got["mailcluster_roundtrip_age_seconds"]; !ok {
		t.Error("no age of the last round")
	}
}

func TestRoundTripSkippedWhileServicesStoppedInAWindow(t *testing.T) {
	mc := testmail.NewMailCluster(t, "probe@test", "probe-secret", 0)
	c := roundTripCluster(t, mc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := c.Collect(ctx)
	for i := range s.Virtual {
		s.Virtual[i].Result.Up = false // the submission service stopped for the update
	}
	s.Window = WindowState{Open: true, End: time.Now().Add(time.Hour)}
	c.RoundTrip(s)
	c.roundTrip.Wait()
	if st := c.roundTrip.Status(); st.Rounds != 0 || st.Skips != 1 {
		t.Errorf("window open, submission down: %+v, want no round and one skip", st)
	}
	if n := mc.Count("node-a"); n != 0 {
		t.Errorf("%d messages submitted while the services were stopped on purpose", n)
	}
	s.Window = WindowState{} // down without a window: a real outage, the round runs and fails
	c.RoundTrip(s)
	c.roundTrip.Wait()
	if st := c.roundTrip.Status(); st.Rounds != 1 {
		t.Errorf("no window: %+v, want a round", st)
	}
}
