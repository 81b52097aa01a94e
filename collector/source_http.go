package collector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/contract"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// httpSource fetches the JSON contract (DESIGN.md §4) from a URL.
type httpSource struct {
	env    Env
	cfg    *config.HTTPSource
	client *http.Client
}

func newHTTPSource(env Env, src *config.Source) (Source, error) {
	cfg := src.HTTP
	tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // operator's choice
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.PasswordFile != "" {
		if _, err := os.Stat(cfg.PasswordFile); err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
	}
	transport := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true, Proxy: nil}
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return &httpSource{env: env, cfg: cfg, client: client}, nil
}

func (s *httpSource) Collect(ctx context.Context) (facts.Set, error) {
	if s.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s.cfg.Timeout))
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact(s.cfg.URL), withoutURL(err))
	}
	req.Header.Set("Accept", "application/json")
	if s.cfg.Username != "" || s.cfg.PasswordFile != "" {
		pw := ""
		if s.cfg.PasswordFile != "" {
			b, err := os.ReadFile(s.cfg.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("password_file: %w", err)
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		req.SetBasicAuth(s.cfg.Username, pw)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact(s.cfg.URL), withoutURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %s", redact(s.cfg.URL), resp.Status)
	}
	max := s.env.Global.MaxOutputBytes
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", redact(s.cfg.URL), err)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("GET %s: %w (%d bytes)", redact(s.cfg.URL), errOutputTooLarge, max)
	}
	set, err := contract.Parse(body, nodeNames(s.env.Cluster))
	if err != nil {
		return nil, fmt.Errorf("GET %s: body: %w", redact(s.cfg.URL), err)
	}
	return set, nil
}

// redact drops what may carry secrets from a URL that is logged or put in
// an error: the userinfo (user:password@), the query string and the
// fragment (tokens).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User = nil
	tail := ""
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		tail = "?…"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String() + tail
}

// withoutURL strips the *url.Error layer of an HTTP client error: its
// message repeats the full URL, query string and userinfo included.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
