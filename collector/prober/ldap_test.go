package prober

import (
	"fmt"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// A minimal LDAP responder for the fake server: just enough BER to answer a
// root DSE search and a StartTLS extended request.

// ldapMessage wraps a protocol op into an LDAPMessage with id.
func ldapMessage(id int64, op *ber.Packet) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAPMessage")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "messageID"))
	p.AppendChild(op)
	return p
}

// ldapResult is an LDAPResult-shaped response (SearchResultDone,
// ExtendedResponse...).
func ldapResult(tag ber.Tag, code int64) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "result")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, "resultCode"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diagnosticMessage"))
	return op
}

// ldapEntry is a SearchResultEntry for dn with single-valued attributes.
func ldapEntry(dn string, attrs map[string]string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 4, nil, "SearchResultEntry")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "objectName"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attributes")
	for name, val := range attrs {
		a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attribute")
		a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, name, "type"))
		vals := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		vals.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, val, "value"))
		a.AppendChild(vals)
		list.AppendChild(a)
	}
	op.AppendChild(list)
	return op
}

// ldapServe reads one request, checks its operation (and, for a search,
// that it is a base-scope search of the root DSE) and sends the responses
// built by reply; a nil op in reply's result sends raw instead.
func ldapServe(wantOp ber.Tag, reply func(id int64) []*ber.Packet) step {
	return func(c *fakeConn) error {
		req, err := ber.ReadPacket(c.br)
		if err != nil {
			return fmt.Errorf("ldap: read request: %w", err)
		}
		if len(req.Children) < 2 {
			return fmt.Errorf("ldap: short request")
		}
		id, _ := req.Children[0].Value.(int64)
		op := req.Children[1]
		if op.Tag != wantOp {
			return fmt.Errorf("ldap: got op %d, want %d", op.Tag, wantOp)
		}
		if wantOp == 3 {
			if len(op.Children) < 7 || op.Children[0].Value != "" || op.Children[1].Value != int64(0) {
				return fmt.Errorf("ldap: not a base-scope root DSE search")
			}
		}
		for _, p := range reply(id) {
			if _, err := c.conn.Write(p.Bytes()); err != nil {
				return err
			}
		}
		return nil
	}
}

func rootDSE(vendorVersion string, code int64) step {
	return ldapServe(3, func(id int64) []*ber.Packet {
		out := []*ber.Packet{}
		if code == 0 {
			attrs := map[string]string{"vendorName": "Example"}
			if vendorVersion != "" {
				attrs["vendorVersion"] = vendorVersion
			}
			out = append(out, ldapMessage(id, ldapEntry("", attrs)))
		}
		return append(out, ldapMessage(id, ldapResult(5, code)))
	})
}

func ldapStartTLS(code int64) step {
	return ldapServe(23, func(id int64) []*ber.Packet {
		return []*ber.Packet{ldapMessage(id, ldapResult(24, code))}
	})
}

func TestLDAPProbe(t *testing.T) {
	huge := ldapServe(3, func(id int64) []*ber.Packet {
		return []*ber.Packet{ldapMessage(id, ldapEntry("", map[string]string{"junk": strings.Repeat("x", 2<<20)}))}
	})
	runProbeCases(t, []probeCase{
		{name: "root DSE", proto: "ldap", script: []step{rootDSE("ExampleDS 1.2.3", 0)}, wantUp: true, wantVersion: "ExampleDS 1.2.3"},
		{name: "root DSE without vendorVersion", proto: "ldap", script: []step{rootDSE("", 0)}, wantUp: true},
		{
			name: "StartTLS", proto: "ldap", script: []step{ldapStartTLS(0), startTLS(), rootDSE("", 0)},
			target: withTLS(TLSStartTLS, false), wantUp: true, wantCert: true,
		},
		{
			name: "StartTLS refused", proto: "ldap", script: []step{ldapStartTLS(2)},
			target: withTLS(TLSStartTLS, false), wantErr: "StartTLS",
		},
		{name: "ldaps", proto: "ldaps", serverTLS: true, script: []step{rootDSE("", 0)}, wantUp: true, wantCert: true},
		{name: "search fails", proto: "ldap", script: []step{rootDSE("", 32)}, wantErr: "search"},
		{
			name: "malformed reply", proto: "ldap",
			script: []step{ldapServe(3, func(int64) []*ber.Packet {
				return []*ber.Packet{ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "hello", "not an LDAPMessage")}
			}), hang()},
			timeout: 500 * time.Millisecond, wantErr: "search",
		},
		{
			name: "garbage reply", proto: "ldap",
			script:  []step{ldapServe(3, func(int64) []*ber.Packet { return nil }), sendRaw([]byte("220 this is SMTP\r\n")), hang()},
			timeout: 500 * time.Millisecond, wantErr: "search",
		},
		{name: "reply over the size cap", proto: "ldap", script: []step{huge}, wantErr: "search"},
		{name: "accepts and never speaks", proto: "ldap", script: []step{hang()}, timeout: 300 * time.Millisecond, wantErr: "search"},
		{name: "closes at once", proto: "ldap", script: []step{hangup()}, wantErr: "search"},
	})
}
