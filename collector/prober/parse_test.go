package prober

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Real-looking greetings and banners, shared by the table tests and the fuzz
// seed corpora.
var versionCases = []struct{ text, want string }{
	{"mx.example.com ESMTP Postfix (Debian/GNU)", ""},
	{"mx.example.com ESMTP Postfix", ""},
	{"host ESMTP Sendmail 8.15.2/8.15.2; Mon, 1 Jan 2024 10:00:00 +0100", "Sendmail 8.15.2"},
	{"mail.example.com ESMTP Exim 4.96 Mon, 01 Jan 2024 10:00:00 +0000", "Exim 4.96"},
	{"mx.contoso.com Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024 10:00:00 +0000", ""},
	{"[CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.", ""},
	{"Dovecot ready.", ""},
	{"Dovecot (Ubuntu) ready.", ""},
	{"mail.example.com Cyrus IMAP v3.4.3 server ready", "Cyrus IMAP v3.4.3"},
	{"Qpopper 4.1.0 at mail.example.com starting. <1896.697170952@mail.example.com>", "Qpopper 4.1.0"},
	{"Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc.  See COPYING for distribution information.", ""},
	{"Apache/2.4.57 (Debian)", "Apache 2.4.57"},
	{"nginx/1.25.3", "nginx 1.25.3"},
	{"nginx", ""},
	{"HTTP/1.1 ready", ""},
	{"ESMTP 4.2 ready", ""},
	{"relay Server 192.168.1.1 ready", ""},
	{"Mail ready at 01.01.2024", ""},
	{"Zimbra 10.0.5_GA_4574.RHEL8_64 ready", "Zimbra 10.0.5_GA_4574.RHEL8_64"},
	{"", ""},
}

func TestExtractVersion(t *testing.T) {
	for _, tc := range versionCases {
		if got := extractVersion(tc.text); got != tc.want {
			t.Errorf("extractVersion(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func FuzzExtractVersion(f *testing.F) {
	for _, tc := range versionCases {
		f.Add(tc.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v := extractVersion(text)
		if v == "" {
			return
		}
		if len(v) > 64 {
			t.Fatalf("version %q longer than 64 bytes", v)
		}
		// Every word of the version comes from the text: nothing invented.
		for _, w := range strings.Fields(v) {
			if !strings.Contains(text, w) {
				t.Fatalf("version %q: %q not in %q", v, w, text)
			}
		}
	})
}

func TestParseSMTPLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		code int
		more bool
		text string
		ok   bool
	}{
		{"220 mx ESMTP", 220, false, "mx ESMTP", true},
		{"250-PIPELINING", 250, true, "PIPELINING", true},
		{"250", 250, false, "", true},
		{"250 ", 250, false, "", true},
		{"554 5.3.2 no", 554, false, "5.3.2 no", true},
		{"25", 0, false, "", false},
		{"2500 x", 0, false, "", false},
		{"650 x", 0, false, "", false},
		{"abc def", 0, false, "", false},
		{"", 0, false, "", false},
	} {
		code, more, text, err := parseSMTPLine(tc.line)
		if (err == nil) != tc.ok || code != tc.code || more != tc.more || text != tc.text {
			t.Errorf("parseSMTPLine(%q) = %d %v %q %v", tc.line, code, more, text, err)
		}
	}
}

var smtpReplySeeds = []string{
	"220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n",
	"220-mx.example.com ESMTP Sendmail 8.15.2/8.15.2;\r\n220-No UCE\r\n220 ready\r\n",
	"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
	"554 5.3.2 no service\r\n",
	"250-a\r\n220 b\r\n",
	"250-unterminated",
	"\x16\x03\x01\x00",
}

func FuzzReadSMTPReply(f *testing.F) {
	for _, s := range smtpReplySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		code, lines, err := readSMTPReply(newLineReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if code < 100 || code > 599 || len(lines) == 0 || len(lines) > maxReplyLines {
			t.Fatalf("code %d, %d lines", code, len(lines))
		}
		for _, l := range lines {
			if len(l) > maxLineBytes || strings.ContainsAny(l, "\n") {
				t.Fatalf("bad line %q", l)
			}
		}
	})
}

func TestParseEHLO(t *testing.T) {
	got := parseEHLO([]string{"mx.example.com Hello", "PIPELINING", "size 10240000", "STARTTLS", "AUTH PLAIN LOGIN", "-bad", "X_BAD y", ""})
	want := map[string]string{"PIPELINING": "", "SIZE": "10240000", "STARTTLS": "", "AUTH": "PLAIN LOGIN"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseEHLO = %v, want %v", got, want)
	}
}

func FuzzParseEHLO(f *testing.F) {
	for _, s := range smtpReplySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		for kw := range parseEHLO(strings.Split(data, "\n")) {
			if !isKeyword(kw) || kw != strings.ToUpper(kw) {
				t.Fatalf("bad keyword %q", kw)
			}
		}
	})
}

func TestParsePOP3Status(t *testing.T) {
	for _, tc := range []struct {
		line, text string
		ok, valid  bool
	}{
		{"+OK Dovecot ready.", "Dovecot ready.", true, true},
		{"+OK", "", true, true},
		{"-ERR [SYS/TEMP] busy", "[SYS/TEMP] busy", false, true},
		{"-ERR", "", false, true},
		{"+OKAY", "", false, false},
		{"OK", "", false, false},
		{"", "", false, false},
	} {
		ok, text, err := parsePOP3Status(tc.line)
		if ok != tc.ok || text != tc.text || (err == nil) != tc.valid {
			t.Errorf("parsePOP3Status(%q) = %v %q %v", tc.line, ok, text, err)
		}
	}
}

var pop3Seeds = []string{
	"+OK Dovecot (Debian) ready.\r\n",
	"+OK Qpopper 4.1.0 at mail.example.com starting. <1896.697170952@mail.example.com>\r\n",
	"-ERR [SYS/TEMP] too many connections\r\n",
	"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\nSASL PLAIN LOGIN\r\n..dotted\r\n.\r\n",
	"+OK\r\nTOP\r\n",
}

func FuzzParsePOP3Status(f *testing.F) {
	for _, s := range pop3Seeds {
		f.Add(strings.SplitN(s, "\r\n", 2)[0])
	}
	f.Fuzz(func(t *testing.T, line string) {
		ok, text, err := parsePOP3Status(line)
		if err != nil {
			if ok || text != "" {
				t.Fatalf("error with ok=%v text=%q", ok, text)
			}
			return
		}
		if ok != strings.HasPrefix(line, "+OK") || !strings.HasSuffix(line, text) {
			t.Fatalf("parsePOP3Status(%q) = %v %q", line, ok, text)
		}
	})
}

func FuzzPOP3Capa(f *testing.F) {
	for _, s := range pop3Seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lr := newLineReader(bytes.NewReader(data))
		if _, err := lr.readLine(); err != nil {
			return
		}
		lines, err := readPOP3Multi(lr)
		if err != nil {
			return
		}
		if len(lines) > maxReplyLines {
			t.Fatalf("%d lines", len(lines))
		}
		for name := range parsePOP3Capa(lines) {
			if name == "" || strings.ContainsAny(name, " \r\n") || name != strings.ToUpper(name) {
				t.Fatalf("bad capability %q", name)
			}
		}
	})
}

func TestParseIMAPLine(t *testing.T) {
	for _, tc := range []struct {
		line, tag, kind, text string
		ok                    bool
	}{
		{"* OK [CAPABILITY IMAP4rev1] Dovecot ready.", "*", "OK", "[CAPABILITY IMAP4rev1] Dovecot ready.", true},
		{"* PREAUTH hi", "*", "PREAUTH", "hi", true},
		{"* BYE", "*", "BYE", "", true},
		{"a1 ok done", "a1", "OK", "done", true},
		{"+ go ahead", "+", "", "go ahead", true},
		{"* 23 EXISTS", "*", "23", "EXISTS", true},
		{"*", "", "", "", false},
		{" OK", "", "", "", false},
		{"* OK \x07", "", "", "", false},
	} {
		tag, kind, text, err := parseIMAPLine(tc.line)
		if tag != tc.tag || kind != tc.kind || text != tc.text || (err == nil) != tc.ok {
			t.Errorf("parseIMAPLine(%q) = %q %q %q %v", tc.line, tag, kind, text, err)
		}
	}
	code, rest := imapResponseCode("[CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.")
	if code != "CAPABILITY IMAP4rev1 STARTTLS" || rest != "Dovecot ready." {
		t.Errorf("imapResponseCode = %q %q", code, rest)
	}
	caps := map[string]bool{}
	addIMAPCodeCapabilities(caps, "capability imap4rev1 starttls")
	addIMAPCodeCapabilities(caps, "ALERT nope")
	if !reflect.DeepEqual(caps, map[string]bool{"IMAP4REV1": true, "STARTTLS": true}) {
		t.Errorf("capabilities = %v", caps)
	}
}

var imapSeeds = []string{
	"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.",
	"* OK mail.example.com Cyrus IMAP v3.4.3 server ready",
	"* PREAUTH [CAPABILITY IMAP4rev1] logged in",
	"* BYE Too many connections",
	"* CAPABILITY IMAP4rev1 IDLE STARTTLS LOGINDISABLED",
	"a1 OK [CAPABILITY IMAP4rev1 STARTTLS] done",
	"a2 NO [UNAVAILABLE] TLS unavailable",
	"+ ready",
	"* OK [ALERT unterminated",
}

func FuzzParseIMAPLine(f *testing.F) {
	for _, s := range imapSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		tag, kind, text, err := parseIMAPLine(line)
		if err != nil {
			return
		}
		if tag == "" || strings.Contains(tag, " ") || !strings.HasPrefix(line, tag) || !strings.HasSuffix(line, text) {
			t.Fatalf("parseIMAPLine(%q) = %q %q %q", line, tag, kind, text)
		}
		if utf8.ValidString(kind) && kind != strings.ToUpper(kind) {
			t.Fatalf("kind %q not upper-cased", kind)
		}
		code, rest := imapResponseCode(text)
		if len(code)+len(rest) > len(text) {
			t.Fatalf("imapResponseCode(%q) = %q %q", text, code, rest)
		}
		caps := map[string]bool{}
		addIMAPCodeCapabilities(caps, code)
		for c := range caps {
			if c == "" || strings.ContainsAny(c, " \t") {
				t.Fatalf("bad capability %q", c)
			}
		}
	})
}
