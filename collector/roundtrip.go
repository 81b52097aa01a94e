package collector

import (
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailcluster/mailcluster_exporter/collector/roundtrip"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// RoundTripState is what a snapshot reports of the cluster's round trip:
// the last finished round (it runs in the background, never in a scrape).
type RoundTripState struct {
	Status        roundtrip.Status
	Age           time.Duration // since the last round finished
	Service       string        // the submission service
	SlowThreshold time.Duration
	MaxLag        time.Duration
}

var (
	rtDeliveryDesc    = desc("roundtrip_delivery_seconds", "Last round trip: from submission through the virtual address until the message was visible on the first node (the time waited when it never was).", "cluster")
	rtReplicationDesc = desc("roundtrip_replication_seconds", "Last round trip: from submission until the message was visible on the node; for a node not reached, how long the oldest message it has not shown has been on its way.", "cluster", "node")
	rtSuccessDesc     = desc("roundtrip_success", "1 if the last round trip's message reached the node before the round's deadline.", "cluster", "node")
	rtLastSuccessDesc = desc("roundtrip_last_success_timestamp_seconds", "Submission time of the last round trip whose message reached the node.", "cluster", "node")
	rtAgeDesc         = desc("roundtrip_age_seconds", "Time since the last round trip finished.", "cluster")
	rtSlowDesc        = desc("roundtrip_slow_threshold_seconds", "Delivery time above which the submission service counts as slow through the virtual address (roundtrip.slow_threshold); present whenever a round trip is configured.", "cluster", "service")
	rtMaxLagDesc      = desc("roundtrip_max_lag_seconds", "Replication time above which a node the round trip did not reach counts as out of sync (roundtrip.max_lag); present whenever a round trip is configured.", "cluster")
	rtRoundsDesc      = desc("roundtrip_rounds_total", "Round trips started by this exporter.", "cluster")
	rtSkipsDesc       = desc("roundtrip_skipped_total", "Round trips due but not started because the gated mail services were stopped in an update window.", "cluster")
)

func describeRoundTrip(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{rtDeliveryDesc, rtReplicationDesc, rtSuccessDesc, rtLastSuccessDesc, rtAgeDesc, rtSlowDesc, rtMaxLagDesc, rtRoundsDesc, rtSkipsDesc} {
		ch <- d
	}
}

// newRoundTrip builds the cluster's round-trip runner (nil when none is
// configured). TLS settings come from the services it names.
func (c *Cluster) newRoundTrip() (*roundtrip.Runner, error) {
	rt := c.cfg.RoundTrip
	if rt == nil {
		return nil, nil
	}
	endpoint := func(host string, e *config.RoundTripEndpoint) (roundtrip.Endpoint, error) {
		t, err := c.target(host, e.ServiceConfig())
		if err != nil {
			return roundtrip.Endpoint{}, err
		}
		return roundtrip.Endpoint{Address: net.JoinHostPort(host, strconv.Itoa(e.EffectivePort())), TLS: e.EffectiveTLS(),
			TLSConfig: t.TLSConfig, Auth: e.Auth, Mailbox: e.Mailbox}, nil
	}
	sub, err := endpoint(c.cfg.VirtualAddress, rt.Submission)
	if err != nil {
		return nil, err
	}
	s := roundtrip.Settings{Cluster: c.cfg.Name, Config: rt, Submission: sub, HeloName: c.global.HeloName,
		Logger: c.opts.Logger, Now: c.opts.Now}
	for _, name := range rt.Nodes {
		ep, err := endpoint(c.cfg.NodeByName(name).Address, rt.IMAP)
		if err != nil {
			return nil, err
		}
		s.Nodes = append(s.Nodes, roundtrip.Node{Name: name, IMAP: ep})
	}
	return roundtrip.New(s), nil
}

// RoundTrip is called after each collection, once the update window is
// known: it lets the round trip start a round when one is due and puts the
// last finished round into the snapshot. No round starts while an update
// window is open and the submission service is down through the virtual
// address: the gated services are stopped on purpose, and a round could
// only fail.
func (c *Cluster) RoundTrip(snap *Snapshot) {
	if c.roundTrip == nil {
		return
	}
	svc := c.cfg.RoundTrip.Submission.Service
	down := false
	for _, o := range snap.Virtual {
		if o.Service.Name == svc && !o.NotRun && !o.Result.Up {
			down = true
		}
	}
	c.roundTrip.Tick(snap.Window.Open && down)
	st := RoundTripState{Status: c.roundTrip.Status(), Service: svc, SlowThreshold: time.Duration(c.cfg.RoundTrip.SlowThreshold),
		MaxLag: time.Duration(c.cfg.RoundTrip.MaxLag)}
	if st.Status.Last != nil {
		st.Age = c.opts.Now().Sub(st.Status.Last.Finished)
	}
	snap.RoundTrip = &st
}

// Close stops the cluster's background work (a running round trip).
func (c *Cluster) Close() {
	if c.roundTrip != nil {
		c.roundTrip.Close()
	}
}

func (s *Snapshot) emitRoundTrip(ch chan<- prometheus.Metric) {
	rt := s.RoundTrip
	if rt == nil {
		return
	}
	cl := s.Cluster.Name
	gauge := func(d *prometheus.Desc, v float64, l ...string) { constMetric(ch, d, prometheus.GaugeValue, v, l...) }
	gauge(rtSlowDesc, rt.SlowThreshold.Seconds(), cl, rt.Service)
	gauge(rtMaxLagDesc, rt.MaxLag.Seconds(), cl)
	constMetric(ch, rtRoundsDesc, prometheus.CounterValue, float64(rt.Status.Rounds), cl)
	constMetric(ch, rtSkipsDesc, prometheus.CounterValue, float64(rt.Status.Skips), cl)
	last := rt.Status.Last
	if last == nil {
		return
	}
	gauge(rtDeliveryDesc, last.Delivery.Seconds(), cl)
	gauge(rtAgeDesc, rt.Age.Seconds(), cl)
	for node, nr := range last.Nodes {
		gauge(rtSuccessDesc, boolValue(nr.Seen), cl, node)
		gauge(rtReplicationDesc, nr.Replication.Seconds(), cl, node)
		if !nr.LastSuccess.IsZero() {
			gauge(rtLastSuccessDesc, float64(nr.LastSuccess.UnixNano())/1e9, cl, node)
		}
	}
}
