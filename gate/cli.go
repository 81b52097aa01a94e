package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promconfig "github.com/prometheus/common/config"
)

// Exit codes of the gate commands, for scripts.
const (
	ExitOpen     = 0 // wait: the gate is open; status: the gates were read
	ExitClosed   = 1 // wait: the gate is still closed at the timeout
	ExitUsage    = 2 // bad flags or HTTP client configuration
	ExitNoAnswer = 3 // Prometheus gave no trustworthy answer (error, no series, stale)
)

// Commands holds the flags of `gate status` and `gate wait`.
type Commands struct {
	url, httpConfigFile                 *string
	caFile, certFile, keyFile, sName    *string
	insecure                            *bool
	username, passwordFile, bearerToken *string
	staleAfter, queryTimeout            *time.Duration

	statusCluster             *string
	waitCluster, waitGate     *string
	waitTimeout, pollInterval *time.Duration
	statusCmd, waitCmd        *kingpin.CmdClause
}

// AddCommands registers `gate status` and `gate wait` on the application.
func AddCommands(app *kingpin.Application) *Commands {
	c := &Commands{}
	g := app.Command("gate", "Read the update gates (DESIGN §6) from Prometheus: for scripts that must not take a step before its gate opens.")
	c.url = g.Flag("prometheus.url", "Prometheus (or compatible query API) base URL.").Default("http://localhost:9090").String()
	c.httpConfigFile = g.Flag("prometheus.http-config.file", "YAML file with Prometheus' HTTP client settings (basic_auth, authorization, tls_config, proxy_url…, as in a scrape config); excludes the TLS and auth flags below.").String()
	c.caFile = g.Flag("prometheus.tls.ca-file", "CA certificate file to verify Prometheus' certificate.").String()
	c.certFile = g.Flag("prometheus.tls.cert-file", "Client certificate file (mutual TLS).").String()
	c.keyFile = g.Flag("prometheus.tls.key-file", "Client key file (mutual TLS).").String()
	c.sName = g.Flag("prometheus.tls.server-name", "Name to verify in Prometheus' certificate (default: the URL's host).").String()
	c.insecure = g.Flag("prometheus.tls.insecure-skip-verify", "Do not verify Prometheus' certificate (testing only).").Bool()
	c.username = g.Flag("prometheus.basic-auth.username", "Basic auth user name.").String()
	c.passwordFile = g.Flag("prometheus.basic-auth.password-file", "File holding the basic auth password.").String()
	c.bearerToken = g.Flag("prometheus.bearer-token-file", "File holding a bearer token.").String()
	c.staleAfter = g.Flag("gate.stale-after", "Gate samples older than this are not trusted; 0: two evaluation intervals of the rule group recording the gates, from /api/v1/rules (1m assumed when unreadable).").Default("0").Duration()
	c.queryTimeout = g.Flag("prometheus.query-timeout", "Timeout of each query.").Default("30s").Duration()

	c.statusCmd = g.Command("status", "Print the nine gates of a cluster in procedure order, with what holds the closed ones closed.")
	c.statusCluster = c.statusCmd.Flag("cluster", "Cluster name.").Required().String()

	c.waitCmd = g.Command("wait", "Wait until a gate opens: exit 0 when it does, 1 at the timeout (with the reasons it stays closed), 3 when Prometheus gave no trustworthy answer.")
	c.waitCluster = c.waitCmd.Flag("cluster", "Cluster name.").Required().String()
	c.waitGate = c.waitCmd.Flag("gate", "Gate name: "+strings.Join(gateNames(), ", ")+".").Required().String()
	c.waitTimeout = c.waitCmd.Flag("timeout", "Give up after this long.").Default("30m").Duration()
	c.pollInterval = c.waitCmd.Flag("poll-interval", "Time between two reads of the gate.").Default("10s").Duration()
	return c
}

func gateNames() []string {
	var n []string
	for _, g := range Gates() {
		n = append(n, g.Name)
	}
	return n
}

// Run runs the selected gate command; handled is false for other commands.
func (c *Commands) Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (code int, handled bool) {
	if cmd != c.statusCmd.FullCommand() && cmd != c.waitCmd.FullCommand() {
		return 0, false
	}
	checker, err := c.checker()
	if err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter gate: %v\n", err)
		return ExitUsage, true
	}
	if cmd == c.statusCmd.FullCommand() {
		return c.status(ctx, checker, stdout, stderr), true
	}
	return c.wait(ctx, checker, stdout, stderr), true
}

// httpConfig builds the HTTP client settings from the file or the flags.
func (c *Commands) httpConfig() (promconfig.HTTPClientConfig, error) {
	flagsSet := *c.caFile != "" || *c.certFile != "" || *c.keyFile != "" || *c.sName != "" || *c.insecure ||
		*c.username != "" || *c.passwordFile != "" || *c.bearerToken != ""
	if *c.httpConfigFile != "" {
		if flagsSet {
			return promconfig.HTTPClientConfig{}, errors.New("--prometheus.http-config.file excludes the --prometheus.tls.* and auth flags: put them in the file")
		}
		cfg, _, err := promconfig.LoadHTTPConfigFile(*c.httpConfigFile)
		if err != nil {
			return promconfig.HTTPClientConfig{}, fmt.Errorf("%s: %w", *c.httpConfigFile, err)
		}
		return *cfg, nil
	}
	cfg := promconfig.DefaultHTTPClientConfig
	cfg.TLSConfig = promconfig.TLSConfig{
		CAFile: *c.caFile, CertFile: *c.certFile, KeyFile: *c.keyFile, ServerName: *c.sName,
		InsecureSkipVerify: *c.insecure,
	}
	if *c.username != "" || *c.passwordFile != "" {
		if *c.username == "" || *c.passwordFile == "" {
			return cfg, errors.New("basic auth needs both --prometheus.basic-auth.username and --prometheus.basic-auth.password-file")
		}
		cfg.BasicAuth = &promconfig.BasicAuth{Username: *c.username, PasswordFile: *c.passwordFile}
	}
	if *c.bearerToken != "" {
		cfg.Authorization = &promconfig.Authorization{Type: "Bearer", CredentialsFile: *c.bearerToken}
	}
	return cfg, nil
}

func (c *Commands) checker() (*Checker, error) {
	cfg, err := c.httpConfig()
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("HTTP client settings: %w", err)
	}
	hc, err := promconfig.NewClientFromConfig(cfg, "mailcluster_exporter_gate")
	if err != nil {
		return nil, fmt.Errorf("HTTP client settings: %w", err)
	}
	client, err := api.NewClient(api.Config{Address: *c.url, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("--prometheus.url: %w", err)
	}
	if *c.queryTimeout <= 0 {
		return nil, errors.New("--prometheus.query-timeout must be positive")
	}
	return &Checker{API: v1.NewAPI(client), StaleAfter: *c.staleAfter}, nil
}

func (c *Commands) status(ctx context.Context, checker *Checker, stdout, stderr io.Writer) int {
	qctx, cancel := context.WithTimeout(ctx, *c.queryTimeout)
	defer cancel()
	st, err := checker.Status(qctx, *c.statusCluster)
	if err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter gate status: %v\n", err)
		return ExitNoAnswer
	}
	fmt.Fprintf(stdout, "cluster %s, gates read from %s (trusted up to %s old):\n", st.Cluster, *c.url, st.StaleAfter)
	var f *facts
	var factsErr error
	for _, g := range st.Gates {
		if !g.Open && f == nil && factsErr == nil {
			f, factsErr = checker.readFacts(qctx, st.Cluster) // once, for every closed gate
		}
	}
	for _, g := range st.Gates {
		mark := "✘"
		if g.Open {
			mark = "✔"
		}
		fmt.Fprintf(stdout, "%d %s %-19s → %s\n", g.Order, mark, g.Name, g.Unlocks)
		if g.Open {
			continue
		}
		reasons := []string{fmt.Sprintf("cannot read the facts behind the gate: %v", factsErr)}
		if factsErr == nil {
			reasons = f.explain(g.Name)
		}
		for _, r := range reasons {
			fmt.Fprintf(stdout, "      %s\n", r)
		}
	}
	return ExitOpen
}

func (c *Commands) wait(ctx context.Context, checker *Checker, stdout, stderr io.Writer) int {
	g, err := Lookup(*c.waitGate)
	if err != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter gate wait: %v\n", err)
		return ExitUsage
	}
	if *c.pollInterval <= 0 || *c.waitTimeout < 0 {
		fmt.Fprintln(stderr, "mailcluster_exporter gate wait: --poll-interval must be positive and --timeout not negative")
		return ExitUsage
	}
	cluster := *c.waitCluster
	explain := func() []string {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *c.queryTimeout)
		defer cancel()
		return checker.Explain(qctx, cluster, g.Name)
	}
	res := checker.Wait(ctx, cluster, g.Name, WaitOptions{
		Timeout: *c.waitTimeout, PollInterval: *c.pollInterval, QueryTimeout: *c.queryTimeout,
		OnClosed: func(st *State, err error) {
			if err != nil {
				fmt.Fprintf(stderr, "waiting for gate %s of cluster %s (up to %s): %v\n", g.Name, cluster, *c.waitTimeout, err)
				return
			}
			fmt.Fprintf(stderr, "waiting for gate %s of cluster %s (up to %s); closed by:\n", g.Name, cluster, *c.waitTimeout)
			for _, r := range explain() {
				fmt.Fprintf(stderr, "  %s\n", r)
			}
		},
	})
	if res.Open {
		fmt.Fprintf(stdout, "gate %s of cluster %s is open after %s: next step: %s\n", g.Name, cluster, res.Waited.Round(time.Second), g.Unlocks)
		return ExitOpen
	}
	if res.LastErr != nil {
		fmt.Fprintf(stderr, "mailcluster_exporter gate wait: gate %s of cluster %s: not open after %s (%d reads): %v\n",
			g.Name, cluster, res.Waited.Round(time.Second), res.Polls, res.LastErr)
		return ExitNoAnswer
	}
	fmt.Fprintf(stderr, "mailcluster_exporter gate wait: gate %s of cluster %s still closed after %s (%d reads); closed by:\n",
		g.Name, cluster, res.Waited.Round(time.Second), res.Polls)
	for _, r := range explain() {
		fmt.Fprintf(stderr, "  %s\n", r)
	}
	return ExitClosed
}
