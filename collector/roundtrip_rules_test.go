package collector

import (
	"context"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// The promtool tests of the round-trip rules feed series by hand; this
// checks that every mailcluster_roundtrip_* series they use has exactly the
// labels the exporter writes (plus Prometheus' instance and job), so the
// rules are tested on what the exporter really emits.
func TestRoundTripRuleInputsMatchTheExporter(t *testing.T) {
	mc := testmail.NewMailCluster(t, "probe@test", "probe-secret", 0)
	c := roundTripCluster(t, mc)
	var snap *Snapshot
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		snap = c.Collect(ctx)
		cancel()
		c.RoundTrip(snap)
		c.roundTrip.Wait()
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(snapCollector{snap})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	emitted := map[string]string{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "mailcluster_roundtrip_") {
			continue
		}
		names := []string{"instance", "job"}
		for _, l := range mf.Metric[0].Label {
			names = append(names, l.GetName())
		}
		sort.Strings(names)
		emitted[mf.GetName()] = strings.Join(names, ",")
	}
	data, err := os.ReadFile("../rules/tests/roundtrip.yml")
	if err != nil {
		t.Fatal(err)
	}
	series := regexp.MustCompile(`series: '(mailcluster_roundtrip_[a-z_]+)\{([^}]*)\}'`)
	labelName := regexp.MustCompile(`([a-z_]+)="`)
	used := 0
	for _, m := range series.FindAllStringSubmatch(string(data), -1) {
		used++
		var names []string
		for _, l := range labelName.FindAllStringSubmatch(m[2], -1) {
			names = append(names, l[1])
		}
		sort.Strings(names)
		want, ok := emitted[m[1]]
		switch {
		case !ok:
			t.Errorf("rules/tests/roundtrip.yml feeds %s, which the exporter does not write", m[1])
		case strings.Join(names, ",") != want:
			t.Errorf("rules/tests/roundtrip.yml: %s has labels %v, the exporter writes %s", m[1], names, want)
		}
	}
	if used < 10 {
		t.Errorf("only %d round-trip series found in rules/tests/roundtrip.yml; the format changed?", used)
	}
}
