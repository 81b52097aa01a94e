package prober

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// probeOnce runs protocol proto against t with a deadline and checks the
// invariants every Result must hold.
func probeOnce(tb testing.TB, proto string, t Target, timeout time.Duration) Result {
	tb.Helper()
	probe, ok := Lookup(proto)
	if !ok {
		tb.Fatalf("no prober %q", proto)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res := probe(ctx, t)
	if d := time.Since(start); d > timeout+2*time.Second {
		tb.Errorf("probe took %v with a %v deadline", d, timeout)
	}
	if res.Up != (res.Err == nil) || res.Up != (res.Reason == "") {
		tb.Errorf("Up = %v but Err = %v, Reason = %q", res.Up, res.Err, res.Reason)
	}
	return res
}

func checkErr(t *testing.T, res Result, want string) {
	t.Helper()
	if res.Up || res.Err == nil || !strings.Contains(res.Err.Error(), want) {
		t.Errorf("want down with %q, got Up=%v Err=%v", want, res.Up, res.Err)
	}
}

// checkTimeout: down because the deadline struck (context or connection).
func checkTimeout(t *testing.T, res Result) {
	t.Helper()
	var ne net.Error
	if res.Up || !(errors.Is(res.Err, context.DeadlineExceeded) || errors.As(res.Err, &ne) && ne.Timeout()) {
		t.Errorf("want down by timeout, got Up=%v Err=%v", res.Up, res.Err)
	}
}

func TestHTTPProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Apache/2.4.57 (Debian)")
		w.Write([]byte(strings.Repeat("body ", 100000))) // more than the body cap
	})
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "webmail.example.com" {
			w.WriteHeader(http.StatusMisdirectedRequest)
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/missing", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	quiet := log.New(io.Discard, "", 0) // expected handshake errors
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = quiet
	srv.Start()
	defer srv.Close()
	tsrv := httptest.NewUnstartedServer(mux)
	tsrv.Config.ErrorLog = quiet
	tsrv.StartTLS()
	defer tsrv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	taddr := strings.TrimPrefix(tsrv.URL, "https://")
	pool := x509.NewCertPool()
	pool.AddCert(tsrv.Certificate())

	t.Run("ok with version", func(t *testing.T) {
		res := probeOnce(t, "http", Target{Address: addr, HTTPPath: "/ok"}, 3*time.Second)
		if !res.Up || res.Version != "Apache 2.4.57" || !leafNotAfter(res).IsZero() {
			t.Errorf("got %+v", res)
		}
	})
	t.Run("status mismatch", func(t *testing.T) {
		checkErr(t, probeOnce(t, "http", Target{Address: addr, HTTPPath: "/nope"}, 3*time.Second), "unexpected status 404")
	})
	t.Run("expected status list", func(t *testing.T) {
		res := probeOnce(t, "http", Target{Address: addr, HTTPPath: "/nope", HTTPExpectStatus: []int{404}}, 3*time.Second)
		if !res.Up {
			t.Errorf("404 expected but down: %v", res.Err)
		}
	})
	t.Run("redirect not followed", func(t *testing.T) {
		if res := probeOnce(t, "http", Target{Address: addr, HTTPPath: "/redirect"}, 3*time.Second); !res.Up {
			t.Errorf("302 is in 200-399 but down: %v", res.Err)
		}
		checkErr(t, probeOnce(t, "http", Target{Address: addr, HTTPPath: "/redirect", HTTPExpectStatus: []int{200}}, 3*time.Second),
			"unexpected status 302")
	})
	t.Run("host header", func(t *testing.T) {
		if res := probeOnce(t, "http", Target{Address: addr, HTTPPath: "/host", HTTPHost: "webmail.example.com"}, 3*time.Second); !res.Up {
			t.Errorf("down: %v", res.Err)
		}
		checkErr(t, probeOnce(t, "http", Target{Address: addr, HTTPPath: "/host"}, 3*time.Second), "unexpected status 421")
	})
	t.Run("slow server vs deadline", func(t *testing.T) {
		checkTimeout(t, probeOnce(t, "http", Target{Address: addr, HTTPPath: "/slow"}, 300*time.Millisecond))
	})
	t.Run("bad path", func(t *testing.T) {
		checkErr(t, probeOnce(t, "http", Target{Address: addr, HTTPPath: "ok"}, time.Second), "does not start with /")
	})
	t.Run("https cert expiry", func(t *testing.T) {
		res := probeOnce(t, "https", Target{Address: taddr, HTTPPath: "/ok", TLSConfig: &tls.Config{RootCAs: pool}}, 3*time.Second)
		if !res.Up || !leafNotAfter(res).Equal(tsrv.Certificate().NotAfter) {
			t.Errorf("got %+v, want cert NotAfter %v", res, tsrv.Certificate().NotAfter)
		}
	})
	t.Run("https untrusted is up, unverified", func(t *testing.T) {
		res := probeOnce(t, "https", Target{Address: taddr, HTTPPath: "/ok", ServerName: "example.com"}, 3*time.Second)
		if !res.Up || res.TLS == nil || res.TLS.Verified {
			t.Fatalf("want up and unverified, got Up=%v TLS=%+v Err=%v", res.Up, res.TLS, res.Err)
		}
		if !leafNotAfter(res).Equal(tsrv.Certificate().NotAfter) {
			t.Errorf("leaf NotAfter = %v, want the unverified certificate's", leafNotAfter(res))
		}
	})
	t.Run("https trusted and named", func(t *testing.T) {
		res := probeOnce(t, "https", Target{Address: taddr, HTTPPath: "/ok", ServerName: "example.com", TLSConfig: &tls.Config{RootCAs: pool}}, 3*time.Second)
		if !res.Up || res.TLS == nil || !res.TLS.Verified {
			t.Fatalf("want up and verified, got Up=%v TLS=%+v Err=%v", res.Up, res.TLS, res.Err)
		}
	})
	t.Run("http to a TLS port", func(t *testing.T) {
		checkErr(t, probeOnce(t, "http", Target{Address: taddr}, 3*time.Second), "unexpected status 400")
	})
}

// dnsHandler answers mail.example.test A, NODATA for nodata.example.test,
// truncates big.example.test over UDP and says NXDOMAIN to the rest.
func dnsHandler(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	q := req.Question[0]
	switch q.Name {
	case "mail.example.test.":
		rr, _ := dns.NewRR("mail.example.test. 300 IN A 192.0.2.25")
		m.Answer = append(m.Answer, rr)
	case "big.example.test.":
		if w.LocalAddr().Network() == "udp" {
			m.Truncated = true
		} else {
			rr, _ := dns.NewRR("big.example.test. 300 IN A 192.0.2.26")
			m.Answer = append(m.Answer, rr)
		}
	case "nodata.example.test.":
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

// startDNS serves dnsHandler over UDP and TCP on one 127.0.0.1 port.
func startDNS(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		ln.Close()
		t.Skipf("UDP port %s taken: %v", ln.Addr(), err)
	}
	for _, srv := range []*dns.Server{
		{Listener: ln, Handler: dns.HandlerFunc(dnsHandler)},
		{PacketConn: pc, Handler: dns.HandlerFunc(dnsHandler)},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		go func() { errc <- srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() {
			srv.Shutdown()
			<-errc
		})
	}
	return ln.Addr().String()
}

func TestDNSProbe(t *testing.T) {
	addr := startDNS(t)
	for _, tc := range []struct {
		name    string
		target  Target
		wantErr string
	}{
		{"udp answer", Target{DNSQueryName: "mail.example.test"}, ""},
		{"tcp answer", Target{DNSQueryName: "mail.example.test.", DNSTransport: "tcp", DNSQueryType: "a"}, ""},
		{"truncated udp retried over tcp", Target{DNSQueryName: "big.example.test"}, ""},
		{"NXDOMAIN", Target{DNSQueryName: "nope.example.test"}, "rcode NXDOMAIN"},
		{"NOERROR without answer", Target{DNSQueryName: "nodata.example.test", DNSQueryType: "MX"}, "no answer records"},
		{"no query name", Target{}, "no query name"},
		{"bad type", Target{DNSQueryName: "x", DNSQueryType: "BOGUS"}, "unknown query type"},
		{"bad transport", Target{DNSQueryName: "x", DNSTransport: "quic"}, "unknown transport"},
		{"TLS", Target{DNSQueryName: "x", TLS: TLSImplicit}, "TLS is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.target.Address = addr
			res := probeOnce(t, "dns", tc.target, 3*time.Second)
			if tc.wantErr == "" {
				if !res.Up {
					t.Errorf("down: %v", res.Err)
				}
				return
			}
			checkErr(t, res, tc.wantErr)
		})
	}
	t.Run("silent server vs deadline", func(t *testing.T) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0") // never read
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		res := probeOnce(t, "dns", Target{Address: pc.LocalAddr().String(), DNSQueryName: "mail.example.test"}, 300*time.Millisecond)
		checkTimeout(t, res)
	})
}

func TestTCPProbe(t *testing.T) {
	t.Run("open port", func(t *testing.T) {
		srv := startFake(t, false, hang())
		if res := probeOnce(t, "tcp", Target{Address: srv.addr}, 3*time.Second); !res.Up || !leafNotAfter(res).IsZero() {
			t.Errorf("got %+v", res)
		}
	})
	t.Run("closed port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		checkErr(t, probeOnce(t, "tcp", Target{Address: addr}, 3*time.Second), "dial")
	})
	t.Run("implicit TLS reports expiry", func(t *testing.T) {
		srv := startFake(t, true, hang())
		res := probeOnce(t, "tcp", Target{Address: srv.addr, TLS: TLSImplicit, TLSConfig: trustingTLS()}, 3*time.Second)
		if !res.Up || !leafNotAfter(res).Equal(testPKI().notAfter) {
			t.Errorf("got %+v", res)
		}
	})
	t.Run("implicit TLS against plain text", func(t *testing.T) {
		srv := startFake(t, false, send("SSH-2.0-OpenSSH_9.2p1"), hang())
		checkErr(t, probeOnce(t, "tcp", Target{Address: srv.addr, TLS: TLSImplicit, TLSConfig: trustingTLS()}, 3*time.Second), "TLS handshake")
	})
	t.Run("IPv6 loopback", func(t *testing.T) {
		ln, err := net.Listen("tcp", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		defer ln.Close()
		if res := probeOnce(t, "tcp", Target{Address: ln.Addr().String()}, 3*time.Second); !res.Up {
			t.Errorf("down: %v", res.Err)
		}
	})
}

func TestProtocolsRegistry(t *testing.T) {
	for name, p := range Protocols {
		if p.Probe == nil {
			t.Errorf("%s: no prober", name)
		}
		if p.ImplicitTLS && !p.TLS {
			t.Errorf("%s: implicit TLS but TLS unsupported", name)
		}
	}
	if _, ok := Lookup("gopher"); ok {
		t.Error("Lookup found an unknown protocol")
	}
	// Probing without a deadline uses DefaultTimeout rather than hanging;
	// a closed port answers at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	probe, _ := Lookup("smtp")
	if res := probe(context.Background(), Target{Address: addr}); res.Up {
		t.Error("up on a closed port")
	}
}
