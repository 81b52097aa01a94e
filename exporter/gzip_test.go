package exporter

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0, identity", false},
		{"*", true},
		{"*;q=0", false},
		{"identity", false},
		{"zstd,gzip", true},
		{"gzipx", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/probe", nil)
		if tc.header != "" {
			r.Header.Set("Accept-Encoding", tc.header)
		}
		if got := acceptsGzip(r); got != tc.want {
			t.Errorf("Accept-Encoding %q: acceptsGzip = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// A scrape that accepts gzip gets the same series, compressed.
func TestScrapeCompressedWhenAccepted(t *testing.T) {
	e := newExporter(t, "testdata/golden.yml")
	plain, _ := scrape(t, e.ProbeHandler(), "/probe?cluster=broken", "3")

	req := httptest.NewRequest(http.MethodGet, "/probe?cluster=broken", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "3")
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	e.ProbeHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, Content-Encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	if !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Accept-Encoding") {
		t.Errorf("Vary = %q, want Accept-Encoding in it", rec.Header().Values("Vary"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := normalize(string(b)), normalize(plain); got != want || got == "" {
		t.Errorf("compressed answer differs from the plain one:\n%s", lineDiff(want, got))
	}
}

// An error page written after dropping Content-Encoding (as promhttp does)
// goes out uncompressed; an empty answer is still a valid gzip stream.
func TestGzipResponseFollowsHeader(t *testing.T) {
	var pool gzipPool
	serve := func(h http.HandlerFunc) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Encoding", "gzip")
		g := &gzipResponse{ResponseWriter: rec, pool: &pool}
		h(g, httptest.NewRequest(http.MethodGet, "/", nil))
		g.finish()
		return rec
	}
	rec := serve(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Del("Content-Encoding")
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	if rec.Code != http.StatusInternalServerError || rec.Body.String() != "boom\n" || rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("error page: %d %q, Content-Encoding %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Encoding"))
	}
	rec = serve(func(http.ResponseWriter, *http.Request) {})
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatalf("empty answer: %v", err)
	}
	if b, err := io.ReadAll(zr); err != nil || len(b) != 0 {
		t.Errorf("empty answer decodes to %q, %v", b, err)
	}
}
