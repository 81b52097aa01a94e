package exporter

import (
	"bufio"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newExporter(t *testing.T, configFile string) *Exporter {
	t.Helper()
	e, err := New(Options{ConfigFile: configFile, WindowFile: filepath.Join(t.TempDir(), "windows.json"), LocalNode: "none"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func scrape(t *testing.T, h http.Handler, target string, timeoutHeader string) (string, time.Duration) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if timeoutHeader != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(start)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", target, rec.Code, rec.Body.String())
	}
	return rec.Body.String(), took
}

// normalize keeps the mailcluster_ series and replaces values that change
// from run to run (durations, timestamps, build details) by placeholders.
func normalize(body string) string {
	var out []string
	volatile := regexp.MustCompile(`_(duration_seconds|timestamp_seconds)(\{| )`)
	for _, line := range strings.Split(body, "\n") {
		if !strings.Contains(line, "mailcluster_") || strings.Contains(line, "mailcluster_exporter_build_info") {
			continue
		}
		if !strings.HasPrefix(line, "#") && volatile.MatchString(line) {
			line = line[:strings.LastIndexByte(line, ' ')] + " <volatile>"
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n"
}

func TestGoldenMetrics(t *testing.T) {
	listen(t, "127.0.0.21:12525", fakeSMTP) // node-a serves
	listen(t, "127.0.0.23:12525", fakeSMTP) // the virtual address answers
	e := newExporter(t, "testdata/golden.yml")
	body, _ := scrape(t, e.MetricsHandler(), "/metrics", "5")
	got := normalize(body)
	golden := "testdata/metrics.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./exporter -run TestGoldenMetrics -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("metrics differ from %s (rerun with -update after checking the diff):\n%s", golden, lineDiff(string(want), got))
	}
	promtoolCheckMetrics(t, body)
}

// promtoolCheckMetrics runs Debian's promtool over an exposition.
func promtoolCheckMetrics(t *testing.T, body string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run `make deps` (installs Debian's prometheus)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func lineDiff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

const blackHoleConfig = `
global:
  probe_timeout: 30s
clusters:
  - name: silent
    kind: active_standby
    virtual_address: 127.0.0.33
    nodes:
      - name: a
        address: 127.0.0.31
      - name: b
        address: 127.0.0.32
    services:
      - name: smtp
        port: 12526
      - name: imap
        port: 12527
      - name: pop3
        port: 12528
    liveness:
      - protocol: tcp
        port: 12529
    sources:
      - type: service
      - type: command
        command:
          argv: ["sleep", "30"]
`

// Every node black-holed (accepting, silent): the scrape still answers
// completely within Prometheus' timeout, and nothing is left running.
func TestDeadlineWithBlackHoledNodes(t *testing.T) {
	for _, ip := range []string{"127.0.0.31", "127.0.0.32", "127.0.0.33"} {
		for _, port := range []string{"12526", "12527", "12528"} {
			listen(t, ip+":"+port, blackHole)
		}
	}
	cfg := filepath.Join(t.TempDir(), "silent.yml")
	if err := os.WriteFile(cfg, []byte(blackHoleConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newExporter(t, cfg)
	e.opts.TimeoutOffset = 500 * time.Millisecond
	body, took := scrape(t, e.MetricsHandler(), "/metrics", "2")
	if took >= 2*time.Second {
		t.Errorf("scrape took %s, Prometheus would have given up at 2s", took)
	}
	for _, want := range []string{
		`mailcluster_service_up{cluster="silent",node="a",service="smtp"} 0`,
		`mailcluster_service_up{cluster="silent",node="b",service="pop3"} 0`,
		`mailcluster_virtual_service_up{cluster="silent",service="imap"} 0`,
		// accepted, never greeted: the host answered, so it is alive
		`mailcluster_node_observed{cluster="silent",node="a",state="alive"} 1`,
		// the command source failed: the roles it is responsible for are unknown
		`mailcluster_node_role{cluster="silent",node="a",role="unknown"} 1`,
		`mailcluster_source_up{cluster="silent",node="a",source="command"} 0`,
		`mailcluster_update_window_open{cluster="silent"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	promtoolCheckMetrics(t, body)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const reloadConfigA = `
clusters:
  - name: first
    kind: active_standby
    nodes:
      - {name: a, address: 127.0.0.41}
      - {name: b, address: 127.0.0.42}
`

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yml")
	writeFile(t, cfg, reloadConfigA)
	e := newExporter(t, cfg)
	body, _ := scrape(t, e.MetricsHandler(), "/metrics", "")
	if !strings.Contains(body, `mailcluster_exporter_config_last_reload_successful 1`) {
		t.Fatalf("initial load not reported as successful:\n%s", body)
	}

	writeFile(t, cfg, strings.Replace(reloadConfigA, "kind: active_standby", "kind: activ_standby", 1))
	rec := httptest.NewRecorder()
	e.ReloadHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "c.yml:4: clusters[0].kind") {
		t.Errorf("bad reload answered %d %q; want 500 naming file, line and field", rec.Code, rec.Body.String())
	}
	body, _ = scrape(t, e.MetricsHandler(), "/metrics", "")
	if !strings.Contains(body, `mailcluster_exporter_config_last_reload_successful 0`) {
		t.Error("failed reload not reported")
	}
	if !strings.Contains(body, `mailcluster_node_info{address="127.0.0.41",cluster="first"`) {
		t.Error("the old configuration stopped being served after a failed reload")
	}

	writeFile(t, cfg, strings.Replace(reloadConfigA, "first", "second", 1))
	rec = httptest.NewRecorder()
	e.ReloadHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("good reload answered %d: %s", rec.Code, rec.Body.String())
	}
	body, _ = scrape(t, e.MetricsHandler(), "/metrics", "")
	if !strings.Contains(body, `mailcluster_exporter_config_last_reload_successful 1`) || !strings.Contains(body, `cluster="second"`) {
		t.Error("the new configuration is not served after a good reload")
	}

	rec = httptest.NewRecorder()
	e.ReloadHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/-/reload", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload answered %d, want 405", rec.Code)
	}
}

func TestProbeHandlerSelectsOneCluster(t *testing.T) {
	e := newExporter(t, "testdata/golden.yml")
	body, _ := scrape(t, e.ProbeHandler(), "/probe?cluster=broken", "3")
	if strings.Contains(body, `cluster="golden"`) || !strings.Contains(body, `cluster="broken"`) {
		t.Errorf("/probe?cluster=broken returned other clusters or none:\n%s", body)
	}
	if strings.Contains(body, "mailcluster_exporter_config_last_reload_successful") {
		t.Error("/probe must not repeat the exporter's own metrics")
	}
	for _, target := range []string{"/probe", "/probe?cluster=nope"} {
		rec := httptest.NewRecorder()
		e.ProbeHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("GET %s answered %d, want 400", target, rec.Code)
		}
	}
}

const slowConfig = `
clusters:
  - name: slow
    kind: active_standby
    nodes:
      - {name: a, address: 127.0.0.51}
      - {name: b, address: 127.0.0.52}
    sources:
      - type: command
        command:
          argv: ["sleep", "0.5"]
`

// Concurrent scrapes of one target share one collection.
func TestConcurrentScrapesShareOneCollection(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "slow.yml")
	writeFile(t, cfg, slowConfig)
	e := newExporter(t, cfg)
	const scrapes = 6
	done := make(chan struct{}, scrapes)
	for range scrapes {
		go func() {
			rec := httptest.NewRecorder()
			e.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			done <- struct{}{}
		}()
	}
	for range scrapes {
		<-done
	}
	body, _ := scrape(t, e.MetricsHandler(), "/metrics", "")
	m := regexp.MustCompile(`mailcluster_exporter_scrape_collections_total\{target="all"\} (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no collections counter")
	}
	// 6 overlapping scrapes + the one above: without sharing it would be 7.
	if m[1] != "2" && m[1] != "3" {
		t.Errorf("collections = %s after %d overlapping scrapes and 1 more; want them shared (2)", m[1], scrapes)
	}
}

// docMetrics reads the metric names listed in docs/metrics.md.
func docMetrics(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	re := regexp.MustCompile("^\\| `(mailcluster_[a-z_]+)`")
	s := bufio.NewScanner(f)
	for s.Scan() {
		if m := re.FindStringSubmatch(s.Text()); m != nil {
			names[m[1]] = true
		}
	}
	return names
}

func sorted(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

const sleepyConfig = `
clusters:
  - name: sleepy
    kind: active_standby
    nodes:
      - {name: a, address: 127.0.0.53}
      - {name: b, address: 127.0.0.54}
    sources:
      - type: command
        command:
          argv: ["sleep", "3"]
`

// A scrape with a short timeout does not wait for a collection started by
// a scrape with a longer one: it runs its own and answers in time.
func TestShortScrapeDoesNotWaitForALongerOne(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "sleepy.yml")
	writeFile(t, cfg, sleepyConfig)
	e := newExporter(t, cfg)
	long := make(chan struct{})
	go func() {
		defer close(long)
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		e.MetricsHandler().ServeHTTP(httptest.NewRecorder(), req)
	}()
	time.Sleep(200 * time.Millisecond) // the long collection is under way
	body, took := scrape(t, e.MetricsHandler(), "/metrics", "1")
	if took >= 2*time.Second {
		t.Errorf("a 1s scrape took %s: it waited for the 10s scrape's collection", took)
	}
	if !strings.Contains(body, `mailcluster_source_up{cluster="sleepy",node="a",source="command"} 0`) {
		t.Error("the short scrape did not report its own (timed-out) collection")
	}
	<-long
}
