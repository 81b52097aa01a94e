package collector

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// A fingerprinter returns what identifies the box answering on addr
// (host:port): the same value through the common address and on the own
// address of the box that holds it.
type fingerprinter func(ctx context.Context, addr string) (string, error)

// errHostKeySeen ends the SSH handshake once the host key is known: no
// authentication is ever attempted.
var errHostKeySeen = errors.New("host key seen")

// sshHostKey returns the SHA-256 fingerprint of the SSH host key.
func sshHostKey(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var fp string
	cfg := &ssh.ClientConfig{
		User: "mailcluster-exporter",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			fp = ssh.FingerprintSHA256(key)
			return errHostKeySeen
		},
	}
	_, _, _, err = ssh.NewClientConn(conn, addr, cfg)
	if fp != "" {
		return fp, nil
	}
	if err == nil {
		err = errors.New("no host key offered")
	}
	return "", fmt.Errorf("ssh handshake: %w", err)
}

// tlsCertificate returns the SHA-256 of the leaf certificate. Trust is not
// checked: the certificate only identifies the box (appliances present
// self-signed ones).
func tlsCertificate(ctx context.Context, addr string) (string, error) {
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // identification only, no data is exchanged
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", errors.New("no certificate presented")
	}
	sum := sha256.Sum256(certs[0].Raw)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// httpHeader returns a response header's value for GET path.
func httpHeader(header, path string) fingerprinter {
	if path == "" {
		path = "/"
	}
	client := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, addr string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
		v := strings.TrimSpace(resp.Header.Get(header))
		if v == "" {
			return "", fmt.Errorf("no %s header in the response", header)
		}
		return v, nil
	}
}

// fingerprintTimeout is the per-address budget when none is configured.
const fingerprintTimeout = 5 * time.Second
