package exporter

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const boundConfig = `
clusters:
  - name: one
    kind: active_standby
    nodes:
      - {name: a, address: 127.0.0.1}
      - {name: b, address: 127.0.0.2}
`

func boundExporter(t *testing.T, opts Options) *Exporter {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "bound.yml")
	writeFile(t, cfg, boundConfig)
	opts.ConfigFile, opts.WindowFile, opts.LocalNode = cfg, filepath.Join(t.TempDir(), "windows.json"), "none"
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func get(h http.Handler, target, timeout string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// With every collection slot taken, a new collection waits; it gets 503
// only when no slot frees up within half its deadline.
func TestCollectionBound(t *testing.T) {
	e := boundExporter(t, Options{MaxCollections: 2})
	e.collections <- struct{}{} // two collections running elsewhere
	e.collections <- struct{}{}

	if rec := get(e.ProbeHandler(), "/probe?cluster=one", "1"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("third collection with two slots taken all along: status %d, want 503", rec.Code)
	}

	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- get(e.ProbeHandler(), "/probe?cluster=one", "60") }()
	<-e.collections // one of the others finishes: the waiting scrape proceeds
	select {
	case rec := <-done:
		if rec.Code != http.StatusOK {
			t.Fatalf("waiting collection after a slot freed: status %d: %s", rec.Code, rec.Body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting collection never ran after a slot freed")
	}
	<-e.collections
	body, _ := scrape(t, e.MetricsHandler(), "/metrics", "5")
	if !strings.Contains(body, `mailcluster_exporter_scrapes_rejected_total{reason="max_collections"} 1`) {
		t.Errorf("rejected collection not counted:\n%s", body)
	}
}

// --web.max-requests: beyond the limit, 503 at once, as node_exporter does.
func TestMaxRequests(t *testing.T) {
	e := boundExporter(t, Options{MaxRequests: 1})
	e.requests <- struct{}{} // one scrape being served
	rec := get(e.MetricsHandler(), "/metrics", "5")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("second scrape with --web.max-requests=1: status %d, want 503", rec.Code)
	}
	if rec := get(e.ProbeHandler(), "/probe?cluster=one", "5"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/probe beyond --web.max-requests: status %d, want 503", rec.Code)
	}
	<-e.requests
	if rec := get(e.MetricsHandler(), "/metrics", "5"); rec.Code != http.StatusOK {
		t.Fatalf("scrape after the other finished: status %d", rec.Code)
	}
}

// Scrapes whose timeouts differ a little (an HA pair whose headers differ
// by rounding, a client varying the header) get the same deadline, hence
// share a collection; no header value makes more than a dozen distinct
// collections of one target.
func TestQuantisedDeadlinesShare(t *testing.T) {
	e := boundExporter(t, Options{TimeoutOffset: 500 * time.Millisecond})
	deadline := func(h string) time.Duration {
		req := httptest.NewRequest(http.MethodGet, "/probe?cluster=one", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", h)
		return e.timeout(req)
	}
	if a, b := deadline("10"), deadline("10.000001"); a != b {
		t.Errorf("timeouts 10 and 10.000001 give deadlines %s and %s: an HA pair would not share", a, b)
	}
	if a, b := deadline("14"), deadline("11.5"); a != b {
		t.Errorf("timeouts 14 and 11.5 give deadlines %s and %s, want one step", a, b)
	}
	if got := deadline("10"); got != 9500*time.Millisecond {
		t.Errorf("timeout 10s with a 500ms offset: deadline %s, want 9.5s", got)
	}
	distinct := map[time.Duration]bool{}
	for ms := 1; ms <= 120000; ms += 7 {
		distinct[deadline(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64))] = true
	}
	if len(distinct) > len(timeoutSteps) {
		t.Errorf("%d distinct deadlines over every header value, want at most %d", len(distinct), len(timeoutSteps))
	}
}
