// Package exporter serves the collected facts over HTTP: /metrics (every
// cluster), /probe?cluster= (one cluster, for sharding), /-/reload and
// /-/healthy. It owns the configuration lifecycle: an invalid new
// configuration is refused and the old one keeps running.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/singleflight"

	"github.com/mailcluster/mailcluster_exporter/collector"
	"github.com/mailcluster/mailcluster_exporter/collector/sched"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// Options configure an Exporter.
type Options struct {
	ConfigFile string
	LocalNode  string // --cluster.node
	// LocalNodeGuessed: LocalNode is the host name, not --cluster.node, so
	// not naming a configured node is normal (an agentless exporter).
	LocalNodeGuessed bool
	// TimeoutOffset is taken off Prometheus' scrape timeout so the answer
	// arrives before Prometheus gives up.
	TimeoutOffset time.Duration
	// DefaultTimeout applies when the scrape sends no timeout header;
	// MaxTimeout caps what the header may ask for.
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration
	WindowFile     string
	Logger         *slog.Logger
	Now            func() time.Time
	// MaxCollections bounds the collections running at once (each runs
	// real commands and dialogues against production servers); a scrape
	// that finds them all busy waits for up to half its deadline, then
	// gets 503. 0 means DefaultMaxCollections.
	MaxCollections int
	// MaxRequests bounds the scrape requests being served at once; more
	// get 503 at once (node_exporter's --web.max-requests). 0: no limit.
	MaxRequests int
}

// DefaultMaxCollections: collections side by side. Their probes share
// the global.max_concurrency slots anyway; the bound keeps what waiting
// collections hold (goroutines, snapshots) small. 1,000 clusters scraped
// through /probe by an HA pair run about 10 at once.
const DefaultMaxCollections = 32

type state struct {
	cfg      *config.Config
	clusters []*collector.Cluster
}

// Exporter is the running exporter.
type Exporter struct {
	opts     Options
	log      *slog.Logger
	state    atomic.Pointer[state]
	roles    *collector.RoleTracker
	windows  WindowStore
	flight   singleflight.Group
	reloadMu sync.Mutex
	// sched bounds every probe and command of every collection at once
	// (global.max_concurrency); it outlives reloads.
	sched       *sched.Scheduler
	collections chan struct{} // one token per collection running
	requests    chan struct{} // one token per scrape being served; nil: no limit

	windowsMu   sync.Mutex
	lastWindows []Window // the windows last read successfully

	self            *prometheus.Registry
	reloadOK        prometheus.Gauge
	reloadTimestamp prometheus.Gauge
	collectionsRun  *prometheus.CounterVec
	rejected        *prometheus.CounterVec
}

// New loads the configuration and builds the exporter. A bad initial
// configuration is an error: there is nothing older to fall back to.
func New(opts Options) (*Exporter, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DefaultTimeout <= 0 {
		opts.DefaultTimeout = 10 * time.Second
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = 60 * time.Second
	}
	if opts.MaxCollections <= 0 {
		opts.MaxCollections = DefaultMaxCollections
	}
	e := &Exporter{
		opts:        opts,
		log:         opts.Logger,
		roles:       collector.NewRoleTracker(),
		windows:     WindowStore{Path: opts.WindowFile},
		self:        prometheus.NewRegistry(),
		sched:       sched.New(config.DefaultMaxConcurrency),
		collections: make(chan struct{}, opts.MaxCollections),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailcluster_exporter_config_last_reload_successful",
			Help: "1 if the last configuration load succeeded, 0 if an older configuration is running.",
		}),
		reloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailcluster_exporter_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully.",
		}),
		collectionsRun: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailcluster_exporter_scrape_collections_total",
			Help: "Collections run; concurrent scrapes of one target share one collection.",
		}, []string{"target"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailcluster_exporter_scrapes_rejected_total",
			Help: "Scrapes answered 503: too many requests at once (--web.max-requests), or no collection slot within half the deadline (--scrape.max-collections).",
		}, []string{"reason"}),
	}
	if opts.MaxRequests > 0 {
		e.requests = make(chan struct{}, opts.MaxRequests)
	}
	e.self.MustRegister(e.reloadOK, e.reloadTimestamp, e.collectionsRun, e.rejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mailcluster_exporter_tasks_in_flight",
			Help: "Probes and commands running now, across every cluster and collection (at most global.max_concurrency).",
		}, func() float64 { return float64(e.sched.InFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mailcluster_exporter_collections_in_flight",
			Help: "Collections running now (at most --scrape.max-collections).",
		}, func() float64 { return float64(len(e.collections)) }),
		versioncollector.NewCollector("mailcluster_exporter"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e.collectionsRun.WithLabelValues("all")
	e.rejected.WithLabelValues("max_requests")
	e.rejected.WithLabelValues("max_collections")
	if err := e.Reload(); err != nil {
		return nil, err
	}
	return e, nil
}

// Build validates a configuration file and builds its collectors, without
// touching a running exporter (also used by --config.check).
func Build(file string, opts collector.Options) (*config.Config, []*collector.Cluster, error) {
	cfg, err := config.LoadFile(file)
	if err != nil {
		return nil, nil, err
	}
	var cls []*collector.Cluster
	for _, c := range cfg.Clusters {
		cl, err := collector.New(c, cfg.Global, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		cls = append(cls, cl)
	}
	return cfg, cls, nil
}

// Reload loads the configuration file again. On error the running
// configuration stays and mailcluster_exporter_config_last_reload_successful
// becomes 0.
func (e *Exporter) Reload() error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	cfg, cls, err := Build(e.opts.ConfigFile, collector.Options{LocalNode: e.opts.LocalNode, Logger: e.log, Roles: e.roles, Now: e.opts.Now, Scheduler: e.sched})
	if err != nil {
		e.reloadOK.Set(0)
		e.log.Error("configuration not loaded; keeping the running one", "err", err)
		return err
	}
	if e.opts.LocalNode != "" {
		member := false
		for _, c := range cfg.Clusters {
			member = member || c.NodeByName(e.opts.LocalNode) != nil
		}
		if !member && !e.opts.LocalNodeGuessed {
			e.log.Warn("--cluster.node names no node of any cluster; local sources are skipped", "node", e.opts.LocalNode)
		}
	}
	e.sched.SetLimit(cfg.Global.MaxConcurrency)
	if old := e.state.Swap(&state{cfg: cfg, clusters: cls}); old != nil {
		go func() { // a round trip still running ends; scrapes already use the new clusters
			for _, c := range old.clusters {
				c.Close()
			}
		}()
	}
	e.reloadOK.Set(1)
	e.reloadTimestamp.Set(float64(e.opts.Now().Unix()))
	e.log.Info("configuration loaded", "file", e.opts.ConfigFile, "clusters", len(cls))
	return nil
}

// timeoutSteps are the scrape timeouts a collection deadline is rounded
// down to, so that scrapes asking for nearly the same timeout share one
// collection and a client cannot start a new one per distinct header
// value. Prometheus' usual scrape timeouts are steps.
var timeoutSteps = []time.Duration{
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second, 7 * time.Second,
	10 * time.Second, 15 * time.Second, 20 * time.Second, 30 * time.Second, 45 * time.Second,
	time.Minute, 90 * time.Second, 2 * time.Minute,
}

// quantise rounds a scrape timeout down to a step (the smallest step
// under it).
func quantise(t time.Duration) time.Duration {
	q := timeoutSteps[0]
	for _, s := range timeoutSteps {
		if s <= t {
			q = s
		}
	}
	return q
}

// timeout computes the collection deadline of a scrape: the scrape's
// timeout (header, or the default), capped, rounded down to a step, minus
// the offset.
func (e *Exporter) timeout(r *http.Request) time.Duration {
	t := e.opts.DefaultTimeout
	if h := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); h != "" {
		if s, err := strconv.ParseFloat(h, 64); err == nil && s > 0 {
			if s > e.opts.MaxTimeout.Seconds() { // before converting: huge values overflow
				s = e.opts.MaxTimeout.Seconds()
			}
			t = time.Duration(s * float64(time.Second))
		}
	}
	if t > e.opts.MaxTimeout {
		t = e.opts.MaxTimeout
	}
	t = quantise(t) - e.opts.TimeoutOffset
	if t < 100*time.Millisecond {
		t = 100 * time.Millisecond
	}
	return t
}

// errBusy: every collection slot stayed taken for half the deadline.
var errBusy = errors.New("too many collections running; try again later")

// collect runs (or joins) the collection of the given clusters.
//
// Only scrapes with the same (quantised) deadline share a collection, so
// a scrape never waits past its own deadline for someone else's: an HA
// pair of Prometheus servers with one configuration shares, a second
// Prometheus with a shorter timeout or an operator's curl does not. At
// most MaxCollections run at once; a new one waits for a slot for at
// most half its deadline, so that it still has time to collect.
func (e *Exporter) collect(key string, cls []*collector.Cluster, cfg *config.Config, timeout time.Duration) ([]*collector.Snapshot, error) {
	flightKey := key + "/" + timeout.String()
	v, err, _ := e.flight.Do(flightKey, func() (any, error) {
		// Detached from the first request: a client that goes away must
		// not spoil the result for the others sharing this collection.
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		wait := time.NewTimer(timeout / 2)
		defer wait.Stop()
		select {
		case e.collections <- struct{}{}:
			defer func() { <-e.collections }()
		case <-wait.C:
			e.rejected.WithLabelValues("max_collections").Inc()
			return nil, errBusy
		}
		e.collectionsRun.WithLabelValues(key).Inc()
		snaps := make([]*collector.Snapshot, len(cls))
		var wg sync.WaitGroup
		for i, c := range cls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				snaps[i] = c.Collect(ctx)
			}()
		}
		wg.Wait()
		now := e.opts.Now()
		recent := e.recentWindows(now)
		for i, s := range snaps {
			s.Window = windowState(cfg.ClusterByName(s.Cluster.Name), recent, now)
			cls[i].RoundTrip(s) // starts a background round when due; reports the last finished one
		}
		return snaps, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]*collector.Snapshot), nil
}

// recentWindows reads the window file: open windows and those that ended
// within EndedRetention. When it cannot be read (a partial write by hand,
// a permission change), the windows last read stay in force rather than
// every window silently closing — which would page on-call for planned
// work.
func (e *Exporter) recentWindows(now time.Time) []Window {
	recent, err := e.windows.Recent(now)
	e.windowsMu.Lock()
	defer e.windowsMu.Unlock()
	if err != nil {
		e.log.Error("reading update windows; keeping the ones last read", "err", err)
		var still []Window
		for _, w := range e.lastWindows {
			if remembered(w, now) {
				still = append(still, w)
			}
		}
		return still
	}
	e.lastWindows = recent
	return recent
}

// windowState merges operator windows and configured schedules: the window
// is open if either is, and ends at the later end. With none open, End is
// the end of the last window that ended within EndedRetention (zero if
// none), so that the end stays exported after the window is over.
func windowState(cl *config.Cluster, recent []Window, now time.Time) collector.WindowState {
	var open, ended collector.WindowState
	for _, w := range recent {
		if w.Cluster != cl.Name {
			continue
		}
		if now.Before(w.Ends) {
			if w.Ends.After(open.End) {
				open = collector.WindowState{Open: true, End: w.Ends}
			}
		} else if w.Ends.After(ended.End) {
			ended.End = w.Ends
		}
	}
	for _, s := range cl.UpdateWindows {
		if ok, end := s.OpenAt(now); ok {
			if end.After(open.End) {
				open = collector.WindowState{Open: true, End: end}
			}
		} else if end := s.LastEnd(now); !end.IsZero() && now.Sub(end) < EndedRetention && end.After(ended.End) {
			ended.End = end
		}
	}
	if open.Open {
		return open
	}
	return ended
}

// snapshots implements prometheus.Collector over finished snapshots. It
// is an unchecked collector (it describes nothing): a registry is built
// per scrape, and registering the descriptors cost each scrape more than
// encoding its series. The collector package's tests gather snapshots
// through checked collectors (collector.Describe).
type snapshots []*collector.Snapshot

func (s snapshots) Describe(chan<- *prometheus.Desc) {}
func (s snapshots) Collect(ch chan<- prometheus.Metric) {
	for _, snap := range s {
		snap.Emit(ch)
	}
}

func (e *Exporter) serve(w http.ResponseWriter, r *http.Request, key string, cls []*collector.Cluster, cfg *config.Config, withSelf bool) {
	snaps, err := e.collect(key, cls, cfg, e.timeout(r))
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(snapshots(snaps))
	var g prometheus.Gatherer = reg
	if withSelf {
		g = prometheus.Gatherers{e.self, reg}
	}
	promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: slogErrorLog{e.log}}).ServeHTTP(w, r)
}

// limitRequests answers 503 at once when MaxRequests scrapes are already
// being served, the way promhttp's MaxRequestsInFlight does.
func (e *Exporter) limitRequests(h http.Handler) http.Handler {
	if e.requests == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case e.requests <- struct{}{}:
			defer func() { <-e.requests }()
			h.ServeHTTP(w, r)
		default:
			e.rejected.WithLabelValues("max_requests").Inc()
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", cap(e.requests)), http.StatusServiceUnavailable)
		}
	})
}

// MetricsHandler serves every cluster plus the exporter's own metrics.
func (e *Exporter) MetricsHandler() http.Handler {
	return e.limitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := e.state.Load()
		e.serve(w, r, "all", st.clusters, st.cfg, true)
	}))
}

// ProbeHandler serves one cluster: /probe?cluster=NAME.
func (e *Exporter) ProbeHandler() http.Handler {
	return e.limitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("cluster")
		st := e.state.Load()
		for _, c := range st.clusters {
			if c.Name() == name {
				e.serve(w, r, "cluster:"+name, []*collector.Cluster{c}, st.cfg, false)
				return
			}
		}
		if name == "" {
			http.Error(w, "the cluster parameter is missing", http.StatusBadRequest)
			return
		}
		http.Error(w, fmt.Sprintf("unknown cluster %q", name), http.StatusBadRequest)
	}))
}

// ReloadHandler reloads the configuration on POST.
func (e *Exporter) ReloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		if err := e.Reload(); err != nil {
			var cerrs config.Errors
			msg := err.Error()
			if errors.As(err, &cerrs) {
				msg = cerrs.Error()
			}
			http.Error(w, "configuration not loaded, the running one stays:\n"+msg, http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "configuration reloaded")
	})
}

// slogErrorLog adapts the logger for promhttp.
type slogErrorLog struct{ l *slog.Logger }

func (s slogErrorLog) Println(v ...any) { s.l.Error(fmt.Sprint(v...)) }
