package collector

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailcluster/mailcluster_exporter/collector/prober"
	"github.com/mailcluster/mailcluster_exporter/collector/sched"
)

// waitFor fails a test that deadlocks instead of hanging the suite; it is
// no timing assertion (everything here takes microseconds when it works).
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never happened", what)
	}
}

const schedYAML = `
global:
  max_concurrency: 1
clusters:
  - name: pair
    kind: active_standby
    virtual_address: 127.0.0.3
    nodes:
      - {name: a, address: 127.0.0.1}
      - {name: b, address: 127.0.0.2}
    services: [smtp, imap, pop3]
`

// fakeNet answers probes without a network: live addresses answer at
// once, dead ones hang until the probe's context ends (a black hole).
type fakeNet struct {
	dead    map[string]bool // host -> black-holed
	calls   atomic.Int64    // probes of live hosts answered
	onDead  chan struct{}   // receives when a dead host's probe starts
	mu      sync.Mutex
	started []string // hosts in start order
}

func (f *fakeNet) install(c *Cluster) {
	for _, p := range c.probes {
		host, _, _ := net.SplitHostPort(p.target.Address)
		p.prober = func(ctx context.Context, _ prober.Target) prober.Result {
			f.mu.Lock()
			f.started = append(f.started, host)
			f.mu.Unlock()
			if f.dead[host] {
				if f.onDead != nil {
					f.onDead <- struct{}{}
				}
				<-ctx.Done()
				return prober.Result{Err: ctx.Err()}
			}
			f.calls.Add(1)
			return prober.Result{Up: true}
		}
	}
}

func newScheduled(t *testing.T, yml string, s *sched.Scheduler) *Cluster {
	t.Helper()
	cfg := loadCluster(t, yml)
	c, err := New(cfg.Clusters[0], cfg.Global, Options{Scheduler: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// With one slot and a dead node b, the probes of a and of the virtual
// address still all run once b is known to answer nothing: b's probes go
// last, and only b loses its facts when the deadline comes.
func TestDeadNodeDoesNotStarveWithOneSlot(t *testing.T) {
	c := newScheduled(t, schedYAML, nil)
	fn := &fakeNet{dead: map[string]bool{"127.0.0.2": true}, onDead: make(chan struct{}, 100)}
	fn.install(c)

	// First collection: nothing is known yet; it ends when b's first probe
	// hangs, so b is "answered nothing".
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-fn.onDead; cancel() }()
	c.Collect(ctx)
	if !c.silent.get()["b"] {
		t.Fatalf("after a collection where b answered nothing, silent = %v", c.silent.get())
	}

	// Second collection: it ends as soon as every probe of a and of the
	// virtual address has answered, which can only happen when b's hanging
	// probes do not hold the one slot.
	fn.calls.Store(0)
	want := int64(len(c.cfg.Services) * 2) // node a + virtual address
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	allAnswered := make(chan struct{})
	go func() {
		for fn.calls.Load() < want {
			time.Sleep(time.Millisecond)
		}
		close(allAnswered)
	}()
	go func() { waitFor(t, allAnswered, "every probe of the answering node"); cancel() }()
	snap := c.Collect(ctx)
	for _, o := range snap.Services["a"] {
		if o.NotRun || !o.Result.Up {
			t.Errorf("node a %s: %+v, want up", o.Service.Name, o)
		}
	}
	for _, o := range snap.Virtual {
		if o.NotRun || !o.Result.Up {
			t.Errorf("virtual %s: %+v, want up", o.Service.Name, o)
		}
	}
	for _, o := range snap.Services["b"] {
		if !o.NotRun {
			t.Errorf("node b %s was reported (%+v), but its probe was cut by the deadline or never started", o.Service.Name, o.Result)
		}
	}
}

// A probe that got no slot before the deadline, or that the deadline cut
// short, emits no service_up at all: "down" would be a fact about the
// exporter's budget, not about the server.
func TestNoSlotNoFact(t *testing.T) {
	c := newScheduled(t, schedYAML, nil)
	fn := &fakeNet{dead: map[string]bool{"127.0.0.1": true, "127.0.0.2": true, "127.0.0.3": true}, onDead: make(chan struct{}, 100)}
	fn.install(c)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-fn.onDead; cancel() }() // one probe starts, the deadline comes
	snap := c.Collect(ctx)
	if n := len(fn.started); n != 1 {
		t.Fatalf("%d probes started with one slot and a deadline during the first, want 1", n)
	}
	series := emitted(t, snap)
	for _, name := range []string{"mailcluster_service_up", "mailcluster_virtual_service_up", "mailcluster_service_probe_duration_seconds", "mailcluster_virtual_service_probe_duration_seconds"} {
		if got := series[name]; got != 0 {
			t.Errorf("%d %s series for probes that never finished on their own, want none", got, name)
		}
	}
	var listed int
	for _, outs := range snap.Services {
		listed += len(outs)
	}
	if listed+len(snap.Virtual) != len(c.probes) {
		t.Errorf("snapshot lists %d probes, want every configured probe (%d) marked not run", listed+len(snap.Virtual), len(c.probes))
	}
}

// A probe that fails by its own timeout, with scrape time left, is down.
func TestOwnTimeoutIsDown(t *testing.T) {
	c := newScheduled(t, `
clusters:
  - name: pair
    kind: active_standby
    nodes:
      - {name: a, address: 127.0.0.1}
      - {name: b, address: 127.0.0.2}
    services:
      - {name: smtp, timeout: 1ms}
`, nil)
	fn := &fakeNet{dead: map[string]bool{"127.0.0.1": true}}
	fn.install(c)
	snap := c.Collect(context.Background())
	o := snap.Services["a"][0]
	if o.NotRun || o.Result.Up {
		t.Fatalf("a probe that hit its own timeout: %+v, want reported down", o)
	}
}

// Clusters sharing one scheduler never run more probes at once than the
// global limit, however many clusters and collections run side by side.
func TestGlobalBoundAcrossClusters(t *testing.T) {
	const limit = 4
	s := sched.New(limit)
	var now, peak atomic.Int64
	var clusters []*Cluster
	for i := 0; i < 10; i++ {
		c := newScheduled(t, schedYAML, s)
		for _, p := range c.probes {
			p.prober = func(context.Context, prober.Target) prober.Result {
				n := now.Add(1)
				defer now.Add(-1)
				for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
				}
				time.Sleep(100 * time.Microsecond) // let the others pile up
				return prober.Result{Up: true}
			}
		}
		clusters = append(clusters, c)
	}
	var wg sync.WaitGroup
	for _, c := range clusters {
		for range 2 { // two scrapes of each cluster at once
			wg.Add(1)
			go func() { defer wg.Done(); c.Collect(context.Background()) }()
		}
	}
	wg.Wait()
	if p := peak.Load(); p > limit {
		t.Fatalf("%d probes in flight at once, global limit %d", p, limit)
	}
}

// A cluster's own max_concurrency bounds it under the global limit.
func TestClusterLimit(t *testing.T) {
	yml := `
global:
  max_concurrency: 50
clusters:
  - name: pair
    kind: active_standby
    max_concurrency: 2
    virtual_address: 127.0.0.3
    nodes:
      - {name: a, address: 127.0.0.1}
      - {name: b, address: 127.0.0.2}
    services: [smtp, imap, pop3, submission]
`
	c := newScheduled(t, yml, nil)
	var now, peak atomic.Int64
	for _, p := range c.probes {
		p.prober = func(context.Context, prober.Target) prober.Result {
			n := now.Add(1)
			defer now.Add(-1)
			for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
			}
			time.Sleep(100 * time.Microsecond)
			return prober.Result{Up: true}
		}
	}
	c.Collect(context.Background())
	if p := peak.Load(); p > 2 {
		t.Fatalf("%d probes of one cluster in flight, its max_concurrency is 2", p)
	}
}

// emitted counts the series of each metric name a snapshot emits.
func emitted(t *testing.T, snap *Snapshot) map[string]int {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(snapCollector{snap})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		out[mf.GetName()] = len(mf.GetMetric())
	}
	return out
}

// One cluster whose nodes are all dead cannot starve another cluster of
// the same exporter: once its nodes are known to answer nothing, their
// probes hold at most half of the slots, and the healthy cluster's probes
// all run while the dead ones hang.
func TestDeadClusterDoesNotStarveAnother(t *testing.T) {
	s := sched.New(2)
	dead := newScheduled(t, schedYAML, s)
	deadNet := &fakeNet{dead: map[string]bool{"127.0.0.1": true, "127.0.0.2": true, "127.0.0.3": true}, onDead: make(chan struct{}, 100)}
	deadNet.install(dead)
	healthy := newScheduled(t, schedYAML, s)
	healthyNet := &fakeNet{dead: map[string]bool{}}
	healthyNet.install(healthy)

	// Learn that the dead cluster's addresses answer nothing: a
	// collection with room for all its probes, ending once all hang.
	s.SetLimit(len(dead.probes))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for range dead.probes {
			<-deadNet.onDead
		}
		cancel()
	}()
	dead.Collect(ctx)
	if sil := dead.silent.get(); !sil["a"] || !sil["b"] || !sil[""] {
		t.Fatalf("the dead cluster's nodes and virtual address are not all marked silent: %v", sil)
	}
	s.SetLimit(2)

	// Both clusters collect at once; the dead one's probes hang until the
	// collection ends, which happens only when every healthy probe has run.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	want := int64(len(healthy.probes))
	go func() {
		for healthyNet.calls.Load() < want && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	go func() {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Second):
			t.Error("the healthy cluster's probes never all ran while the dead cluster's hung")
			cancel()
		}
	}()
	var wg sync.WaitGroup
	var snap *Snapshot
	wg.Add(2)
	// The dead cluster queues first and takes every slot it may (slots
	// are handed out as tasks are queued); then the healthy one queues.
	go func() { defer wg.Done(); dead.Collect(ctx) }()
	<-deadNet.onDead
	go func() { defer wg.Done(); snap = healthy.Collect(ctx) }()
	wg.Wait()
	for node, outs := range snap.Services {
		for _, o := range outs {
			if o.NotRun || !o.Result.Up {
				t.Errorf("healthy cluster, node %s %s: %+v, want up", node, o.Service.Name, o)
			}
		}
	}
}
