//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The testbed's fixed addresses (e2e/testbed/lib.sh). Every client request is
// made from inside the client namespace: nothing here talks to the network of
// the machine the test runs on.
const (
	clientNS = "mce2e-c"
	promURL  = "http://10.213.47.1:9090"
	amURL    = "http://10.213.47.1:9093"
	cluster  = "e2e"
	nodeA    = "node-a"
	nodeB    = "node-b"
	vip      = "10.213.47.10"
)

var (
	testbedDir = mustAbs("testbed")
	stateDir   = envOr("MC_E2E_STATE", "/run/mc-e2e")
	// the exporter binary, for the `window` CLI (the same --windows.file as the exporters)
	exporterBin = envOr("EXPORTER_BIN", mustAbs("../mailcluster_exporter"))
	windowsFile = filepath.Join(stateDir, "windows.json")
	clientCfg   = filepath.Join(stateDir, "client", "exporter.yml")
)

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// ---------------------------------------------------------------- commands

// run runs argv with a hard timeout and returns its stdout; stderr goes into
// the error.
func run(timeout time.Duration, stdin string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 2 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", timeout)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// ops runs e2e/testbed/ops.sh (bounded: every operation of ops.sh is bounded
// itself; 90 s is the backstop) and fails the test on error.
func ops(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(90*time.Second, "", append([]string{filepath.Join(testbedDir, "ops.sh")}, args...)...)
	if err != nil {
		t.Fatalf("ops.sh %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(out)
}

// opsTry is ops without failing (for best-effort restoration).
func opsTry(args ...string) error {
	_, err := run(90*time.Second, "", append([]string{filepath.Join(testbedDir, "ops.sh")}, args...)...)
	return err
}

// clientGet fetches rawURL from inside the client namespace (curl, 5 s).
func clientGet(rawURL string) ([]byte, error) {
	out, err := run(10*time.Second, "", "ip", "netns", "exec", clientNS,
		"curl", "-sS", "--fail-with-body", "--max-time", "5", rawURL)
	return []byte(out), err
}

// window runs the exporter's `window` CLI on the testbed's one windows file.
func window(t *testing.T, args ...string) string {
	t.Helper()
	argv := append([]string{exporterBin, "window"}, args...)
	argv = append(argv, "--config.file="+clientCfg, "--windows.file="+windowsFile)
	out, err := run(20*time.Second, "", argv...)
	if err != nil {
		t.Fatalf("window %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// ---------------------------------------------------------------- Prometheus

// Sample is one element of an instant vector.
type Sample struct {
	Metric map[string]string
	Value  float64
}

func (s Sample) String() string {
	var keys []string
	for k := range s.Metric {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(s.Metric["__name__"] + "{")
	for i, k := range keys {
		if k == "__name__" {
			continue
		}
		if i > 0 && b.Len() > len(s.Metric["__name__"])+1 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", k, s.Metric[k])
	}
	fmt.Fprintf(&b, "} %g", s.Value)
	return b.String()
}

// Vector is a query result.
type Vector []Sample

func (v Vector) String() string {
	if len(v) == 0 {
		return "(empty)"
	}
	parts := make([]string, len(v))
	for i, s := range v {
		parts[i] = s.String()
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// By returns label value -> sample value for one label (e.g. "node").
func (v Vector) By(label string) map[string]float64 {
	m := map[string]float64{}
	for _, s := range v {
		m[s.Metric[label]] = s.Value
	}
	return m
}

// query runs an instant query against Prometheus (from the client namespace).
// Errors from Prometheus (bad PromQL, execution errors) are returned as errors.
func query(expr string) (Vector, error) { return queryAt(expr, time.Time{}) }

// queryAt is query evaluated at a past time (zero: now).
func queryAt(expr string, at time.Time) (Vector, error) {
	u := promURL + "/api/v1/query?query=" + url.QueryEscape(expr)
	if !at.IsZero() {
		u += "&time=" + strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
	}
	b, err := clientGet(u)
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if jerr := json.Unmarshal(b, &r); jerr != nil {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("query %q: %v (body %.200q)", expr, jerr, b)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", expr, r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		var raw []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &raw); err != nil {
			return nil, err
		}
		out := make(Vector, 0, len(raw))
		for _, s := range raw {
			f, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
			out = append(out, Sample{Metric: s.Metric, Value: f})
		}
		return out, nil
	case "scalar":
		var raw [2]any
		if err := json.Unmarshal(r.Data.Result, &raw); err != nil {
			return nil, err
		}
		f, _ := strconv.ParseFloat(fmt.Sprint(raw[1]), 64)
		return Vector{{Metric: map[string]string{}, Value: f}}, nil
	default:
		return nil, fmt.Errorf("query %q: result type %q", expr, r.Data.ResultType)
	}
}

// mustQuery is query that fails the test on error.
func mustQuery(t *testing.T, expr string) Vector {
	t.Helper()
	v, err := query(expr)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitFor polls expr every second, at most max, until cond holds; on timeout
// the test fails with what and the last value seen. It returns the vector that
// satisfied cond and how long it took.
func waitFor(t *testing.T, what string, max time.Duration, expr string, cond func(Vector) bool) (Vector, time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(max)
	var last Vector
	var lastErr error
	for {
		v, err := query(expr)
		if err == nil {
			last, lastErr = v, nil
			if cond(v) {
				return v, time.Since(start)
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\n  query: %s\n  last value: %s\n  last error: %v", what, max, expr, last, lastErr)
		}
		time.Sleep(time.Second)
	}
}

// one is a condition: exactly one sample, with value want.
func one(want float64) func(Vector) bool {
	return func(v Vector) bool { return len(v) == 1 && v[0].Value == want }
}

// nonEmpty / empty are conditions on the number of samples.
func nonEmpty(v Vector) bool { return len(v) > 0 }
func empty(v Vector) bool    { return len(v) == 0 }

// labelsAre is a condition: the samples, keyed by label, are exactly want.
func labelsAre(label string, want map[string]float64) func(Vector) bool {
	return func(v Vector) bool {
		got := v.By(label)
		if len(got) != len(want) || len(v) != len(want) {
			return false
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				return false
			}
		}
		return true
	}
}

// waitValue waits until expr is exactly one sample with value want.
func waitValue(t *testing.T, what string, max time.Duration, expr string, want float64) time.Duration {
	t.Helper()
	_, d := waitFor(t, what, max, expr, one(want))
	return d
}

// ---------------------------------------------------------------- the cluster's state, in PromQL

const (
	statusCode     = `mailcluster:status:code{cluster="e2e"}`
	redundancyCode = `mailcluster:redundancy_status:code{cluster="e2e"}`
	reasons        = `mailcluster:redundancy_status:reason{cluster="e2e"}`
	gates          = `mailcluster:update_gate:ok{cluster="e2e"}`
	windowOpen     = `max by(cluster)(mailcluster_update_window_open{cluster="e2e"})`
	criticalFiring = `ALERTS{severity="critical",cluster="e2e",alertstate="firing"}`
)

func serviceStatus(node, service string) string {
	return fmt.Sprintf(`mailcluster:service_status:code{cluster="e2e",node=%q,service=%q}`, node, service)
}

func virtualStatus(service string) string {
	return fmt.Sprintf(`mailcluster:virtual_service_status:code{cluster="e2e",service=%q}`, service)
}

// alert selects ALERTS of the cluster by name and state (+ extra matchers, e.g. `node="node-a"`).
func alert(name, state string, extra ...string) string {
	sel := fmt.Sprintf(`alertname=%q,cluster="e2e",alertstate=%q`, name, state)
	for _, e := range extra {
		sel += "," + e
	}
	return "ALERTS{" + sel + "}"
}

// rolesAre waits until the given node is the only one with role active and the
// other is standby, by the rules' resolved role (mailcluster:node_role:resolved).
func rolesAre(t *testing.T, max time.Duration, active, standby string) time.Duration {
	t.Helper()
	_, d := waitFor(t, fmt.Sprintf("roles %s active / %s standby", active, standby), max,
		`mailcluster:node_role:resolved{cluster="e2e"} == 1`,
		func(v Vector) bool {
			got := map[string][]string{}
			for _, s := range v {
				got[s.Metric["node"]] = append(got[s.Metric["node"]], s.Metric["role"])
			}
			return len(got) == 2 &&
				len(got[active]) == 1 && got[active][0] == "active" &&
				len(got[standby]) == 1 && got[standby][0] == "standby"
		})
	return d
}

// reasonsAre returns a condition: the set of redundancy reasons holding is
// exactly want (want empty: none).
func reasonsAre(want ...string) func(Vector) bool {
	m := map[string]float64{}
	for _, r := range want {
		m[r] = 1
	}
	return labelsAre("reason", m)
}

// reasonsInclude returns a condition: every reason of want holds (others may too).
func reasonsInclude(want ...string) func(Vector) bool {
	return func(v Vector) bool {
		got := v.By("reason")
		for _, r := range want {
			if got[r] != 1 {
				return false
			}
		}
		return true
	}
}

// gatesAre waits until all nine update gates have exactly the given values.
func gatesAre(t *testing.T, step string, max time.Duration, want map[string]float64) {
	t.Helper()
	if len(want) != 9 {
		t.Fatalf("gatesAre(%s): %d gates given, want all 9", step, len(want))
	}
	_, d := waitFor(t, "gates after step "+step, max, gates, labelsAre("gate", want))
	t.Logf("step %-32s gates as expected after %s", step, d.Round(100*time.Millisecond))
}

// noCriticalFiring fails if a critical alert of the cluster fires now.
func noCriticalFiring(t *testing.T, step string) {
	t.Helper()
	if v := mustQuery(t, criticalFiring); len(v) > 0 {
		t.Fatalf("step %s: critical alert firing while the update window is open: %s", step, v)
	}
}

// ---------------------------------------------------------------- Alertmanager

// amAlert reports whether Alertmanager holds an active alert with that name
// for the cluster, and the alerts it holds (for messages).
func amAlert(name string) (bool, string, error) {
	b, err := clientGet(amURL + "/api/v2/alerts?active=true&filter=" + url.QueryEscape(`cluster="e2e"`))
	if err != nil {
		return false, "", err
	}
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &alerts); err != nil {
		return false, "", fmt.Errorf("alertmanager: %v", err)
	}
	var names []string
	found := false
	for _, a := range alerts {
		names = append(names, a.Labels["alertname"]+"("+a.Status.State+")")
		if a.Labels["alertname"] == name {
			found = true
		}
	}
	sort.Strings(names)
	return found, strings.Join(names, ", "), nil
}

// waitAM waits (polling every second, at most max) until Alertmanager holds the alert.
func waitAM(t *testing.T, name string, max time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	var lastErr error
	for time.Since(start) < max {
		ok, all, err := amAlert(name)
		if ok {
			return time.Since(start)
		}
		last, lastErr = all, err
		time.Sleep(time.Second)
	}
	t.Fatalf("Alertmanager: no %s within %s; it holds: [%s] (last error %v)", name, max, last, lastErr)
	return 0
}

// ---------------------------------------------------------------- steady state

// ensureSteady undoes whatever a scenario may have left behind (every step is
// idempotent and bounded) and waits until the cluster is green with node-a
// active: each scenario starts from the same state.
func ensureSteady(t *testing.T) {
	t.Helper()
	start := time.Now()
	// window closed (an error only means none was open), versions equal, no fault injection
	_, _ = run(20*time.Second, "", exporterBin, "window", "close", "--cluster=e2e",
		"--config.file="+clientCfg, "--windows.file="+windowsFile)
	for _, n := range []string{nodeA, nodeB} {
		ops(t, "maint", "off", n)
		ops(t, "version", n, "1.0.0")
		ops(t, "repl", "unblock", n)
	}
	ops(t, "vrrp", "restore")
	ops(t, "partition", "restore", nodeA)
	for _, who := range []string{nodeA, nodeB, "client"} {
		if !running("exporter-" + who) {
			ops(t, "exporter", "start", who)
		}
	}
	for _, n := range []string{nodeA, nodeB} {
		if !running("dovecot-" + n) {
			ops(t, "dovecot", "start", n)
			ops(t, "repl-heal", n)
		}
		ops(t, "keepalived", "start", n)
	}
	ops(t, "wait-vip", nodeA, "15")
	for _, n := range []string{nodeA, nodeB} {
		ops(t, "converge", n)
	}
	// every exporter scraped, green, node-a active
	waitFor(t, "steady: all exporters up", 30*time.Second, `up{job=~"mailcluster|mailcluster-probe"}`, func(v Vector) bool {
		if len(v) != 3 {
			return false
		}
		for _, s := range v {
			if s.Value != 1 {
				return false
			}
		}
		return true
	})
	rolesAre(t, 30*time.Second, nodeA, nodeB)
	waitValue(t, "steady: cluster green", 60*time.Second, statusCode, 1)
	if d := time.Since(start); d > 2*time.Second {
		t.Logf("steady state restored in %s", d.Round(100*time.Millisecond))
	}
}

// running reports whether the testbed recorded NAME's pid and it is alive.
func running(name string) bool {
	b, err := os.ReadFile(filepath.Join(stateDir, "pids", name+".pid"))
	if err != nil {
		return false
	}
	pid := strings.TrimSpace(string(b))
	st, err := os.ReadFile("/proc/" + pid + "/status")
	return err == nil && !strings.Contains(string(st), "State:\tZ")
}

// scenario runs a scenario as a subtest, after ensureSteady, and records its duration.
var durations []struct {
	name string
	d    time.Duration
	ok   bool
}

func scenario(t *testing.T, name string, f func(t *testing.T)) {
	start := time.Now()
	ran := false
	ok := t.Run(name, func(t *testing.T) {
		ran = true
		ensureSteady(t)
		f(t)
	})
	if !ran { // filtered out by -run
		return
	}
	d := time.Since(start)
	durations = append(durations, struct {
		name string
		d    time.Duration
		ok   bool
	}{name, d, ok})
	t.Logf("scenario %-22s %-4s %s", name, map[bool]string{true: "PASS", false: "FAIL"}[ok], d.Round(100*time.Millisecond))
}
