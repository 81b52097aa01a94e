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
}

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

	windowsMu   sync.Mutex
	lastWindows []Window // the windows last read successfully

	self            *prometheus.Registry
	reloadOK        prometheus.Gauge
	reloadTimestamp prometheus.Gauge
	collections     *prometheus.CounterVec
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
	e := &Exporter{
		opts:    opts,
		log:     opts.Logger,
		roles:   collector.NewRoleTracker(),
		windows: WindowStore{Path: opts.WindowFile},
		self:    prometheus.NewRegistry(),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailcluster_exporter_config_last_reload_successful",
			Help: "1 if the last configuration load succeeded, 0 if an older configuration is running.",
		}),
		reloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailcluster_exporter_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully.",
		}),
		collections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailcluster_exporter_scrape_collections_total",
			Help: "Collections run; concurrent scrapes of one target share one collection.",
		}, []string{"target"}),
	}
	e.self.MustRegister(e.reloadOK, e.reloadTimestamp, e.collections,
		versioncollector.NewCollector("mailcluster_exporter"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e.collections.WithLabelValues("all")
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
	cfg, cls, err := Build(e.opts.ConfigFile, collector.Options{LocalNode: e.opts.LocalNode, Logger: e.log, Roles: e.roles, Now: e.opts.Now})
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

// timeout computes the collection deadline of a scrape.
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
	t -= e.opts.TimeoutOffset
	if t < 100*time.Millisecond {
		t = 100 * time.Millisecond
	}
	return t
}

// collect runs (or joins) the collection of the given clusters.
//
// Only scrapes with the same deadline (to the second) share a collection,
// so a scrape never waits past its own deadline for someone else's: an HA
// pair of Prometheus servers with one configuration shares, a second
// Prometheus with a shorter timeout or an operator's curl does not.
func (e *Exporter) collect(key string, cls []*collector.Cluster, cfg *config.Config, timeout time.Duration) []*collector.Snapshot {
	flightKey := key + "/" + strconv.FormatInt(int64(timeout/time.Second), 10)
	v, _, _ := e.flight.Do(flightKey, func() (any, error) {
		e.collections.WithLabelValues(key).Inc()
		// Detached from the first request: a client that goes away must
		// not spoil the result for the others sharing this collection.
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
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
		open := e.openWindows(now)
		for i, s := range snaps {
			s.Window = windowState(cfg.ClusterByName(s.Cluster.Name), open, now)
			cls[i].RoundTrip(s) // starts a background round when due; reports the last finished one
		}
		return snaps, nil
	})
	return v.([]*collector.Snapshot)
}

// openWindows reads the window file. When it cannot be read (a partial
// write by hand, a permission change), the windows last read stay in force
// rather than every window silently closing — which would page on-call for
// planned work.
func (e *Exporter) openWindows(now time.Time) []Window {
	open, err := e.windows.List(now)
	e.windowsMu.Lock()
	defer e.windowsMu.Unlock()
	if err != nil {
		e.log.Error("reading update windows; keeping the ones last read", "err", err)
		var still []Window
		for _, w := range e.lastWindows {
			if now.Before(w.Ends) {
				still = append(still, w)
			}
		}
		return still
	}
	e.lastWindows = open
	return open
}

// windowState merges operator windows and configured schedules: the window
// is open if either is, and ends at the later end.
func windowState(cl *config.Cluster, open []Window, now time.Time) collector.WindowState {
	var ws collector.WindowState
	for _, w := range open {
		if w.Cluster == cl.Name && w.Ends.After(ws.End) {
			ws = collector.WindowState{Open: true, End: w.Ends}
		}
	}
	for _, s := range cl.UpdateWindows {
		if ok, end := s.OpenAt(now); ok && end.After(ws.End) {
			ws = collector.WindowState{Open: true, End: end}
		}
	}
	return ws
}

// snapshots implements prometheus.Collector over finished snapshots.
type snapshots []*collector.Snapshot

func (s snapshots) Describe(ch chan<- *prometheus.Desc) { collector.Describe(ch) }
func (s snapshots) Collect(ch chan<- prometheus.Metric) {
	for _, snap := range s {
		snap.Emit(ch)
	}
}

func (e *Exporter) serve(w http.ResponseWriter, r *http.Request, key string, cls []*collector.Cluster, cfg *config.Config, withSelf bool) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(snapshots(e.collect(key, cls, cfg, e.timeout(r))))
	var g prometheus.Gatherer = reg
	if withSelf {
		g = prometheus.Gatherers{e.self, reg}
	}
	promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: slogErrorLog{e.log}}).ServeHTTP(w, r)
}

// MetricsHandler serves every cluster plus the exporter's own metrics.
func (e *Exporter) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := e.state.Load()
		e.serve(w, r, "all", st.clusters, st.cfg, true)
	})
}

// ProbeHandler serves one cluster: /probe?cluster=NAME.
func (e *Exporter) ProbeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})
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
