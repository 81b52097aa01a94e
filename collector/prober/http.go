package prober

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Bounds on what an HTTP probe reads.
const (
	maxHTTPHeaderBytes = 64 << 10
	maxHTTPBodyBytes   = 64 << 10
)

// httpDialogue: GET HTTPPath (default "/") on Address, with HTTPHost as Host
// header when set; redirects are not followed (the first response counts).
// Up when the status is in HTTPExpectStatus (default 200-399) and up to
// maxHTTPBodyBytes of the body could be read. Version comes from the Server
// header. With implicit TLS it is https.
func httpDialogue(ctx context.Context, t Target, r *Result) error {
	mode, err := tlsMode(t)
	if err != nil {
		return err
	}
	if mode == TLSStartTLS {
		return fail(ReasonStartTLSUnavailable, errors.New("STARTTLS is not defined for HTTP"))
	}
	scheme := "http"
	if mode == TLSImplicit {
		scheme = "https"
	}
	path := t.HTTPPath
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("HTTP path %q does not start with /", path)
	}
	u, err := url.Parse(scheme + "://" + t.Address + path)
	if err != nil {
		return fmt.Errorf("URL: %w", err)
	}
	sni := t.HTTPHost
	if h, _, err := net.SplitHostPort(sni); err == nil {
		sni = h
	}
	tlsc := newTLSClient(t, sni)

	// One transport per probe, one connection, always the probe's context
	// for the dial (the transport may hand its dialer another one).
	var dl dialOutcome
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			return dl.record(dial(ctx, network, addr))
		},
		DialTLSContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			c, err := dl.record(dial(ctx, network, addr))
			if err != nil {
				return nil, err
			}
			// The certificate is recorded from tlsc once Do returned:
			// this func may still run after that.
			tc, err := tlsc.handshake(ctx, c, &Result{})
			if err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		},
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: maxHTTPHeaderBytes,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if t.HTTPHost != "" {
		req.Host = t.HTTPHost
	}
	req.Header.Set("User-Agent", "mailcluster_exporter")

	resp, err := client.Do(req)
	tlsc.record(r)
	if err != nil {
		return fail(dl.reason(err), fmt.Errorf("GET %s: %w", path, err))
	}
	defer resp.Body.Close()
	r.Version = extractVersion(resp.Header.Get("Server"))
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxHTTPBodyBytes)); err != nil {
		return fail(transportReason(err, ReasonProtocolError), fmt.Errorf("GET %s: reading body: %w", path, err))
	}
	if !statusExpected(resp.StatusCode, t.HTTPExpectStatus) {
		return fail(ReasonRejected, fmt.Errorf("GET %s: unexpected status %d", path, resp.StatusCode))
	}
	return nil
}

// dialOutcome remembers how the transport's dial went: the client reports
// a deadline that struck during the dial as its own, which would hide a
// connect_timeout (or a refusal) behind a plain timeout.
type dialOutcome struct {
	mu        sync.Mutex
	connected bool
	err       error
}

func (d *dialOutcome) record(c net.Conn, err error) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.connected, d.err = err == nil, err
	return c, err
}

// reason classifies the error of a request given how the dial went.
func (d *dialOutcome) reason(err error) Reason {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.err != nil:
		return ReasonOf(d.err)
	case !d.connected && transportReason(err, "") == ReasonTimeout:
		return ReasonConnectTimeout
	}
	return transportReason(err, ReasonProtocolError)
}

// statusExpected: code is in want, or in 200-399 when want is empty.
func statusExpected(code int, want []int) bool {
	if len(want) == 0 {
		return code >= 200 && code <= 399
	}
	return slices.Contains(want, code)
}
