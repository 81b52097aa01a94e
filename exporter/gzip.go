package exporter

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipPool recycles the compressors of scrape answers. They compress at
// gzip.BestSpeed: an answer is a few kilobytes to a few megabytes of
// repetitive text, and the default level costs several times the CPU (a
// 512 KiB table cleared per answer) to save a few percent of bytes.
type gzipPool struct{ p sync.Pool }

func (g *gzipPool) get(w http.ResponseWriter) *gzip.Writer {
	if z, ok := g.p.Get().(*gzip.Writer); ok {
		z.Reset(w)
		return z
	}
	z, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // a valid level: no error
	return z
}

func (g *gzipPool) put(z *gzip.Writer) {
	z.Reset(nil)
	g.p.Put(z)
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (gzip or *, with a non-zero q).
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for _, spec := range strings.Split(h, ",") {
			name, params, _ := strings.Cut(spec, ";")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "gzip") && name != "*" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			if q > 0 {
				return true
			}
		}
	}
	return false
}

// gzipResponse compresses what the handler writes, as long as the
// Content-Encoding header still says gzip when the answer starts: an
// error page written after deleting it (promhttp does) goes out as is.
type gzipResponse struct {
	http.ResponseWriter
	pool    *gzipPool
	z       *gzip.Writer
	started bool
}

func (g *gzipResponse) start() {
	if g.started {
		return
	}
	g.started = true
	if g.Header().Get("Content-Encoding") == "gzip" {
		g.Header().Del("Content-Length")
		g.z = g.pool.get(g.ResponseWriter)
	}
}

func (g *gzipResponse) WriteHeader(code int) {
	g.start()
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipResponse) Write(b []byte) (int, error) {
	g.start()
	if g.z != nil {
		return g.z.Write(b)
	}
	return g.ResponseWriter.Write(b)
}

// finish ends the compressed stream (an empty answer too) and recycles the
// compressor.
func (g *gzipResponse) finish() {
	g.start()
	if g.z != nil {
		_ = g.z.Close()
		g.pool.put(g.z)
		g.z = nil
	}
}
