// Command mailcluster_exporter exports the role, peer, sync and service
// facts of HA mail clusters to Prometheus, and manages update windows.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"
	kitlog "github.com/go-kit/log"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/mailcluster/mailcluster_exporter/collector"
	"github.com/mailcluster/mailcluster_exporter/exporter"
	"github.com/mailcluster/mailcluster_exporter/gate"
)

// DefaultListenAddress: the Prometheus exporter port range 9100-9999 is
// fully allocated, so the default lies outside it (see README).
const DefaultListenAddress = ":19025"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code and stops serving
// when ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("mailcluster_exporter", "Prometheus exporter for HA mail clusters: roles, peers, sync and service health.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.Version(version.Print("mailcluster_exporter"))
	app.HelpFlag.Short('h')
	app.UsageTemplate(usageTemplate)
	configFile := app.Flag("config.file", "Configuration file.").Default("mailcluster.yml").String()
	windowFile := app.Flag("windows.file", "State file of operator-declared update windows (written by `window open`).").
		Default("/var/lib/mailcluster_exporter/windows.json").String()
	logLevel := app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").Default("info").String()
	logFormat := app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt").String()

	serve := app.Command("serve", "Run the exporter (default).").Default()
	configCheck := serve.Flag("config.check", "Validate the configuration, print the result and exit (non-zero when invalid).").Bool()
	localNode := serve.Flag("cluster.node", "The node this exporter runs on, for local sources (default: the host name when it names a configured node).").String()
	telemetryPath := serve.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	timeoutOffset := serve.Flag("scrape.timeout-offset", "Taken off Prometheus' scrape timeout so the answer arrives in time.").Default("500ms").Duration()
	defaultTimeout := serve.Flag("scrape.default-timeout", "Collection deadline when the scrape sends no X-Prometheus-Scrape-Timeout-Seconds.").Default("10s").Duration()
	maxTimeout := serve.Flag("scrape.max-timeout", "Upper bound for the collection deadline.").Default("60s").Duration()
	maxCollections := serve.Flag("scrape.max-collections", "Collections running at once (scrapes of one target with the same timeout share one); a scrape that finds none free waits up to half its timeout, then gets 503.").
		Default(strconv.Itoa(exporter.DefaultMaxCollections)).Int()
	maxRequests := serve.Flag("web.max-requests", "Maximum number of parallel scrape requests; more get 503 at once. Use 0 to disable.").Default("200").Int()
	enableLifecycle := serve.Flag("web.enable-lifecycle", "Allow POST /-/reload. Protect it with --web.config.file (basic auth); SIGHUP always reloads.").Bool()
	toolkitFlags := kingpinflag.AddFlags(serve, DefaultListenAddress)

	win := app.Command("window", "Manage update windows (while open, availability alerts are held back for the cluster).")
	winOpen := win.Command("open", "Open an update window for a cluster.")
	winCluster := winOpen.Flag("cluster", "Cluster name.").Required().String()
	winFor := winOpen.Flag("for", "How long the window stays open.").Required().Duration()
	winReason := winOpen.Flag("reason", "Why (shown to on-call engineers).").Required().String()
	winClose := win.Command("close", "Close the update window of a cluster.")
	winCloseCluster := winClose.Flag("cluster", "Cluster name.").Required().String()
	win.Command("list", "List open update windows.")
	gates := gate.AddCommands(app)

	// --help and --version end the program through kingpin's terminate
	// function: here run returns instead, so that tests can call it.
	terminated := false
	app.Terminate(func(int) { terminated = true })
	cmd, err := app.Parse(args)
	if terminated {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter: %v\n", err)
		return 2
	}
	if err := oneOf("log.level", *logLevel, "debug", "info", "warn", "error"); err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter: %v\n", err)
		return 2
	}
	if err := oneOf("log.format", *logFormat, "logfmt", "json"); err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter: %v\n", err)
		return 2
	}
	logger := newLogger(stderr, *logLevel, *logFormat)

	if code, ok := gates.Run(ctx, cmd, stdout, stderr); ok {
		return code
	}
	switch cmd {
	case "window open":
		return windowOpen(stdout, stderr, *configFile, *windowFile, *winCluster, *winFor, *winReason)
	case "window close":
		if err := (exporter.WindowStore{Path: *windowFile}).Close(*winCloseCluster, time.Now()); err != nil {
			fmt.Fprintf(stderr, "mailcluster_exporter: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "update window of cluster %s closed\n", *winCloseCluster)
		return 0
	case "window list":
		return windowList(stdout, stderr, *windowFile)
	}

	node, guessed := *localNode, false
	if node == "" {
		node, _ = os.Hostname()
		guessed = true
	}
	if *configCheck {
		cfg, _, err := exporter.Build(*configFile, collector.Options{LocalNode: node})
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK (%d clusters)\n", *configFile, len(cfg.Clusters))
		return 0
	}

	logger.Info("starting mailcluster_exporter", "version", version.Info(), "build_context", version.BuildContext())
	exp, err := exporter.New(exporter.Options{
		ConfigFile: *configFile, LocalNode: node, LocalNodeGuessed: guessed, TimeoutOffset: *timeoutOffset,
		DefaultTimeout: *defaultTimeout, MaxTimeout: *maxTimeout, WindowFile: *windowFile, Logger: logger,
		MaxCollections: *maxCollections, MaxRequests: *maxRequests,
	})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}

	mux := http.NewServeMux()
	mux.Handle(*telemetryPath, exp.MetricsHandler())
	mux.Handle("/probe", exp.ProbeHandler())
	if *enableLifecycle {
		if *toolkitFlags.WebConfigFile == "" {
			logger.Warn("POST /-/reload is enabled without --web.config.file: anyone who reaches the port can reload")
		}
		mux.Handle("/-/reload", exp.ReloadHandler())
	} else {
		mux.HandleFunc("/-/reload", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "reloading over HTTP is disabled: start with --web.enable-lifecycle (protected by --web.config.file), or send SIGHUP", http.StatusForbidden)
		})
	}
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	if *telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name: "Mail cluster exporter", Description: "Prometheus exporter for HA mail clusters", Version: version.Info(),
			Links: []web.LandingLinks{{Address: *telemetryPath, Text: "Metrics"}, {Address: "/-/healthy", Text: "Health"}},
		})
		if err != nil {
			logger.Error("landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				_ = exp.Reload() // logged; the running configuration stays on error
			case <-ctx.Done():
				return
			}
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, toolkitFlags, logger) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error("HTTP server failed", "err", err)
			return 1
		}
	case <-ctx.Done():
		logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}
	return 0
}

// usageTemplate is kingpin's default with the flags of the default command
// (serve) listed in the top-level help: `mailcluster_exporter --help` must
// show --web.listen-address, --cluster.node and the rest, which are given
// without the word "serve".
var usageTemplate = strings.Replace(kingpin.DefaultUsageTemplate, "{{else if .App.Commands -}}\nCommands:\n", `{{else if .App.Commands -}}
{{range .App.Commands}}{{if .Default -}}
Flags of {{.FullCommand}}, the default command (also without the word {{.FullCommand}}):
{{.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{end}}{{end -}}
Commands:
`, 1)

// newLogger builds the project's go-kit logger and bridges it to the slog
// API that exporter-toolkit and the packages use; output is go-kit's.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var kl kitlog.Logger
	if format == "json" {
		kl = kitlog.NewJSONLogger(kitlog.NewSyncWriter(w))
	} else {
		kl = kitlog.NewLogfmtLogger(kitlog.NewSyncWriter(w))
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	return slog.New(sloggokit.NewGoKitHandler(kl, lvl))
}

func windowOpen(stdout, stderr io.Writer, configFile, windowFile, cluster string, d time.Duration, reason string) int {
	if d <= 0 {
		fmt.Fprintln(stderr, "mailcluster_exporter: --for must be positive")
		return 2
	}
	// Refuse a cluster the configuration does not know: a typo would
	// otherwise open a window that silences nothing.
	if cfg, _, err := exporter.Build(configFile, collector.Options{}); err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter: cannot check the cluster name: %v\n", err)
		return 1
	} else if cfg.ClusterByName(cluster) == nil {
		fmt.Fprintf(stderr, "mailcluster_exporter: cluster %q is not in %s\n", cluster, configFile)
		return 1
	}
	by := ""
	if u, err := user.Current(); err == nil {
		by = u.Username
	}
	now := time.Now()
	w := exporter.Window{Cluster: cluster, OpenedAt: now, Ends: now.Add(d), Reason: reason, OpenedBy: by}
	if err := (exporter.WindowStore{Path: windowFile}).Open(w); err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "update window of cluster %s open until %s\n", cluster, w.Ends.Format(time.RFC3339))
	return 0
}

func windowList(stdout, stderr io.Writer, windowFile string) int {
	ws, err := (exporter.WindowStore{Path: windowFile}).List(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tOPENED\tENDS\tBY\tREASON")
	for _, w := range ws {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", w.Cluster, w.OpenedAt.Format(time.RFC3339), w.Ends.Format(time.RFC3339), w.OpenedBy, w.Reason)
	}
	return tabwriterFlush(tw, stderr)
}

func tabwriterFlush(tw *tabwriter.Writer, stderr io.Writer) int {
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter: %v\n", err)
		return 1
	}
	return 0
}

// oneOf checks a flag value against its allowed values, naming the flag.
func oneOf(flag, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return fmt.Errorf("--%s: must be one of %s, got %q", flag, strings.Join(allowed, ", "), value)
}
