package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsDialogue: query DNSQueryName (type DNSQueryType, default A) over
// DNSTransport (udp, default, or tcp) with github.com/miekg/dns. A truncated
// UDP answer is retried over TCP.
//
// Up requires Rcode NOERROR *and* at least one answer record: the probe asks
// for a name the operator expects to resolve (the mail host's own name, an
// MX), so an empty NOERROR (NODATA) means the server is not serving that
// zone correctly, which is what on-call needs to see. NXDOMAIN, SERVFAIL,
// REFUSED and timeouts are down too.
func dnsDialogue(ctx context.Context, t Target, r *Result) error {
	mode, err := tlsMode(t)
	if err != nil {
		return err
	}
	if mode != TLSNone {
		return errors.New("TLS is not supported for dns")
	}
	if t.DNSQueryName == "" {
		return errors.New("no query name")
	}
	qtypeName := strings.ToUpper(t.DNSQueryType)
	if qtypeName == "" {
		qtypeName = "A"
	}
	qtype, ok := dns.StringToType[qtypeName]
	if !ok {
		return fmt.Errorf("unknown query type %q", t.DNSQueryType)
	}
	network := strings.ToLower(t.DNSTransport)
	switch network {
	case "":
		network = "udp"
	case "udp", "tcp":
	default:
		return fmt.Errorf("unknown transport %q", t.DNSTransport)
	}

	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(t.DNSQueryName), qtype)
	m.SetEdns0(1232, false)
	resp, err := dnsExchange(ctx, network, t.Address, m)
	if err == nil && resp.Truncated && network == "udp" {
		resp, err = dnsExchange(ctx, "tcp", t.Address, m)
	}
	if err != nil {
		return fail(transportReason(err, ReasonProtocolError), fmt.Errorf("query %s %s: %w", t.DNSQueryName, qtypeName, err))
	}
	if resp.Rcode != dns.RcodeSuccess {
		return fail(ReasonRejected, fmt.Errorf("query %s %s: rcode %s", t.DNSQueryName, qtypeName, dns.RcodeToString[resp.Rcode]))
	}
	if len(resp.Answer) == 0 {
		return fail(ReasonRejected, fmt.Errorf("query %s %s: no answer records", t.DNSQueryName, qtypeName))
	}
	return nil
}

// dnsExchange sends m over one connection dialled with the shared dialer.
func dnsExchange(ctx context.Context, network, address string, m *dns.Msg) (*dns.Msg, error) {
	c, err := dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// miekg/dns tells UDP from TCP by the connection's type, so it gets
	// the unwrapped connection; c still owns closing it.
	inner := c
	if g, ok := c.(*guardedConn); ok {
		inner = g.Conn
	}
	client := &dns.Client{Net: network}
	if dl, ok := ctx.Deadline(); ok {
		client.Timeout = time.Until(dl)
	}
	resp, _, err := client.ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: inner})
	if err != nil {
		return nil, err
	}
	markAnswered(ctx) // a reply arrived, whatever its rcode
	return resp, nil
}
