package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// imapDialogue: "* OK" (or "* PREAUTH") greeting, tagged CAPABILITY,
// STARTTLS (required, or opportunistic when advertised) followed by a second
// CAPABILITY over TLS, LOGOUT. "* BYE" as greeting means the server refuses
// service: down. With implicit TLS it is imaps (993).
//
// STARTTLS is only valid in the not-authenticated state (RFC 9051 6.2.1), so
// after a PREAUTH greeting it is never attempted, and a required STARTTLS
// fails the probe.
func imapDialogue(ctx context.Context, t Target, r *Result) error {
	s, err := openText(ctx, t, r)
	if err != nil {
		return err
	}
	defer s.close()

	line, err := s.readLine()
	if err != nil {
		return greetingFailure(fmt.Errorf("greeting: %w", err))
	}
	tag, kind, text, err := parseIMAPLine(line)
	if err != nil {
		return fail(ReasonBadGreeting, fmt.Errorf("greeting: %w", err))
	}
	if tag != "*" {
		return fail(ReasonBadGreeting, fmt.Errorf("greeting: not an untagged response: %s", quote(line)))
	}
	switch kind {
	case "OK", "PREAUTH":
	case "BYE":
		return fail(ReasonBadGreeting, fmt.Errorf("greeting: server refused: %s", quote(line)))
	default:
		return fail(ReasonBadGreeting, fmt.Errorf("greeting: unexpected response %s", quote(line)))
	}
	_, rest := imapResponseCode(text)
	r.Version = extractVersion(rest)

	caps, err := imapCommand(s, "a1", "CAPABILITY")
	if err != nil {
		return err
	}
	preauth := kind == "PREAUTH"
	err = s.upgrade(ctx, t, r, caps["STARTTLS"] && !preauth, "STARTTLS",
		func() error { _, err := imapCommand(s, "a2", "STARTTLS"); return err },
		func() error { caps, err = imapCommand(s, "a3", "CAPABILITY"); return err })
	switch {
	case err != nil && preauth:
		// Not advertised, so no STARTTLS was sent: a required one failed.
		return fail(ReasonStartTLSUnavailable, fmt.Errorf("%w (PREAUTH session: STARTTLS not allowed)", err))
	case err != nil:
		return err
	}
	// A PREAUTH session is authenticated by the server itself (by its
	// address, say): there is no login to check.
	if t.Login != nil && !preauth {
		if err := imapLogin(s, caps, t.Login); err != nil {
			return err
		}
	}
	s.quit(ctx, "a9 LOGOUT")
	return nil
}

// imapCommand sends "tag cmd", reads untagged responses up to the tagged one
// and returns the capabilities announced on the way (untagged CAPABILITY or
// a [CAPABILITY ...] response code). The tagged status must be OK.
func imapCommand(s *textConn, tag, cmd string) (map[string]bool, error) {
	if err := s.send(tag + " " + cmd); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	caps := map[string]bool{}
	for range maxReplyLines {
		line, err := s.readLine()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		rtag, kind, text, err := parseIMAPLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		code, _ := imapResponseCode(text)
		switch {
		case rtag == "*" && kind == "CAPABILITY":
			addIMAPCapabilities(caps, text)
		case rtag == "*" && kind == "BYE":
			return nil, fail(ReasonClosed, fmt.Errorf("%s: server closing: %s", cmd, quote(line)))
		case rtag == "*":
			// Other untagged data (EXISTS, OK notices...) is ignored.
		case rtag == tag && kind == "OK":
			addIMAPCodeCapabilities(caps, code)
			return caps, nil
		case rtag == tag:
			return nil, fail(ReasonRejected, fmt.Errorf("%s: server refused: %s", cmd, quote(line)))
		default:
			return nil, fmt.Errorf("%s: unexpected response %s", cmd, quote(line))
		}
		if kind == "OK" || kind == "PREAUTH" {
			addIMAPCodeCapabilities(caps, code)
		}
	}
	return nil, fmt.Errorf("%s: %w", cmd, errTooManyLines)
}

var errIMAPMalformed = errors.New("malformed response")

// parseIMAPLine splits a response line into its tag ("*" untagged, "+"
// continuation, or a command tag), its kind (the upper-cased second token:
// OK, NO, BAD, BYE, PREAUTH, CAPABILITY, a message number...) and the rest.
func parseIMAPLine(line string) (tag, kind, text string, err error) {
	for i := 0; i < len(line); i++ {
		if line[i] < 0x20 || line[i] == 0x7f {
			return "", "", "", fmt.Errorf("%w: control character in %s", errIMAPMalformed, quote(line))
		}
	}
	tag, rest, _ := strings.Cut(line, " ")
	if tag == "" {
		return "", "", "", fmt.Errorf("%w: %s", errIMAPMalformed, quote(line))
	}
	if tag == "+" {
		return tag, "", rest, nil
	}
	kind, text, _ = strings.Cut(rest, " ")
	if kind == "" {
		return "", "", "", fmt.Errorf("%w: %s", errIMAPMalformed, quote(line))
	}
	return tag, strings.ToUpper(kind), text, nil
}

// imapResponseCode splits "[CODE args] text" into "CODE args" and "text";
// without a response code it returns "" and text unchanged.
func imapResponseCode(text string) (code, rest string) {
	if !strings.HasPrefix(text, "[") {
		return "", text
	}
	end := strings.IndexByte(text, ']')
	if end < 0 {
		return "", text
	}
	return text[1:end], strings.TrimSpace(text[end+1:])
}

// addIMAPCapabilities adds the space-separated, upper-cased capabilities
// of list to caps.
func addIMAPCapabilities(caps map[string]bool, list string) {
	for _, c := range strings.Fields(list) {
		caps[strings.ToUpper(c)] = true
	}
}

// addIMAPCodeCapabilities adds the capabilities of a "CAPABILITY ..."
// response code; other codes are ignored.
func addIMAPCodeCapabilities(caps map[string]bool, code string) {
	name, list, _ := strings.Cut(code, " ")
	if strings.EqualFold(name, "CAPABILITY") {
		addIMAPCapabilities(caps, list)
	}
}
