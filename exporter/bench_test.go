package exporter

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkScrapeTwoNodesSixServices measures one full /metrics scrape of
// a 2-node cluster with 6 services, each probed on both nodes and on the
// virtual address (18 SMTP dialogues against in-process servers).
func BenchmarkScrapeTwoNodesSixServices(b *testing.B) {
	ips := []string{"127.0.0.71", "127.0.0.72", "127.0.0.73"}
	services := benchSMTPServices(b, ips, 12600)
	cfg := fmt.Sprintf(`
clusters:
  - name: bench
    kind: active_standby
    virtual_address: %s
    nodes:
      - {name: a, address: %s}
      - {name: b, address: %s}
    services:
%s    sources:
      - type: service
`, ips[2], ips[0], ips[1], services)
	h := benchHandler(b, cfg)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `service="svc5"} 1`) {
			b.Fatalf("bad scrape: %d", rec.Code)
		}
	}
}

// BenchmarkScrapeManyClusters measures one full /metrics scrape of 200
// clusters of 2 nodes × 6 services (3,600 SMTP dialogues against
// in-process servers, all clusters on the same three loopback addresses).
// With -memprofile it shows where a large exporter's memory goes
// (docs/performance.md).
func BenchmarkScrapeManyClusters(b *testing.B) {
	const clusters = 200
	ips := []string{"127.0.0.74", "127.0.0.75", "127.0.0.76"}
	services := benchSMTPServices(b, ips, 12610)
	var cfg strings.Builder
	cfg.WriteString("clusters:\n")
	for i := range clusters {
		fmt.Fprintf(&cfg, `  - name: c%03d
    kind: active_standby
    virtual_address: %s
    nodes:
      - {name: a, address: %s}
      - {name: b, address: %s}
    services:
%s    sources:
      - type: service
`, i, ips[2], ips[0], ips[1], services)
	}
	h := benchHandler(b, cfg.String())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "30")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `cluster="c199",node="a",service="svc5"} 1`) {
			b.Fatalf("bad scrape: %d", rec.Code)
		}
	}
}

// benchSMTPServices starts fake SMTP servers for 6 services on ports
// basePort… on each of ips, and returns the services' configuration lines.
func benchSMTPServices(b *testing.B, ips []string, basePort int) string {
	b.Helper()
	var services strings.Builder
	for i := range 6 {
		port := basePort + i
		fmt.Fprintf(&services, "      - {name: svc%d, protocol: smtp, port: %d}\n", i, port)
		for _, ip := range ips {
			ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go fakeSMTP(c)
				}
			}()
		}
	}
	return services.String()
}

// benchHandler is the /metrics handler of an exporter running cfg.
func benchHandler(b *testing.B, cfg string) http.Handler {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	e, err := New(Options{ConfigFile: path, WindowFile: filepath.Join(b.TempDir(), "w.json")})
	if err != nil {
		b.Fatal(err)
	}
	return e.MetricsHandler()
}
