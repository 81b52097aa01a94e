package collector

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// snakeoilSMTP is an SMTP server on 127.0.0.1 as Debian ships Postfix:
// STARTTLS offered, with cert. It serves until the test ends.
func snakeoilSMTP(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				var conn net.Conn = c
				r := bufio.NewReader(conn)
				fmt.Fprint(conn, "220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
					case strings.HasPrefix(cmd, "EHLO"):
						fmt.Fprint(conn, "250-mx.example.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
					case cmd == "STARTTLS":
						fmt.Fprint(conn, "220 2.0.0 Ready to start TLS\r\n")
						tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
						if tc.Handshake() != nil {
							return
						}
						conn, r = tc, bufio.NewReader(tc)
					case cmd == "QUIT":
						fmt.Fprint(conn, "221 2.0.0 Bye\r\n")
						return
					default:
						fmt.Fprint(conn, "502 5.5.2 Error: command not recognized\r\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// selfSigned makes a certificate for names, self-signed, and writes it as
// PEM to dir/ca.pem (so that it can also serve as its own CA).
func selfSigned(t *testing.T, dir string, cn string, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: names,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestStockSTARTTLSReadsUp: a bare smtp service against a server that offers
// STARTTLS with a snakeoil certificate, nodes configured by IP address:
// up, tls_verified 0, never down. With tls_server_name and the CA in
// ca_file: verified. A node where nothing listens: down, reason refused.
func TestStockSTARTTLSReadsUp(t *testing.T) {
	dir := t.TempDir()
	addr := snakeoilSMTP(t, selfSigned(t, dir, "mail.example.test", "mail.example.test"))
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		name, extra, service string
		verified             float64
	}{
		{"bare smtp", "", "{name: smtp, port: " + port + "}", 0},
		{"tls_server_name and ca_file", "    tls_server_name: mail.example.test\n",
			"{name: smtp, port: " + port + ", ca_file: " + filepath.Join(dir, "ca.pem") + "}", 1},
		{"wrong tls_server_name", "    tls_server_name: imap.example.test\n",
			"{name: smtp, port: " + port + ", ca_file: " + filepath.Join(dir, "ca.pem") + "}", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadCluster(t, `
clusters:
  - name: c
    kind: active_standby
`+tc.extra+`    nodes:
      - {name: a, address: 127.0.0.1}
      - {name: b, address: 127.0.0.2}
    services:
      - `+tc.service+`
`)
			c, err := New(cfg.Clusters[0], cfg.Global, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			snap := c.Collect(ctx)
			reg := prometheus.NewRegistry()
			reg.MustRegister(snapshotCollector{snap})
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					var ls []string
					for _, l := range m.GetLabel() {
						if l.GetName() != "cluster" {
							ls = append(ls, l.GetName()+"="+l.GetValue())
						}
					}
					got[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = m.GetGauge().GetValue()
				}
			}
			want := map[string]float64{
				"mailcluster_service_up{node=a,service=smtp}":                           1,
				"mailcluster_service_up{node=b,service=smtp}":                           0,
				"mailcluster_service_tls_verified{node=a,service=smtp}":                 tc.verified,
				"mailcluster_service_probe_failure{node=b,reason=refused,service=smtp}": 1,
			}
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			for k := range got {
				if strings.HasPrefix(k, "mailcluster_service_probe_failure{node=a") || strings.HasPrefix(k, "mailcluster_service_tls_verified{node=b") {
					t.Errorf("unexpected %s", k)
				}
			}
		})
	}
}

// snapshotCollector exposes one snapshot.
type snapshotCollector struct{ s *Snapshot }

func (c snapshotCollector) Describe(ch chan<- *prometheus.Desc) { Describe(ch) }
func (c snapshotCollector) Collect(ch chan<- prometheus.Metric) { c.s.Emit(ch) }
