package prober

import (
	"context"
	"fmt"
	"strings"
)

// pop3Dialogue: "+OK" greeting, CAPA, STLS (required, or opportunistic when
// advertised) followed by a second CAPA over TLS, QUIT. With implicit TLS it
// is pop3s (995).
//
// CAPA is optional in POP3 (RFC 2449): a "-ERR" answer means "no
// capabilities", which is not a failure, but STLS is only ever announced
// through CAPA (RFC 2595), so a required STLS then fails the probe.
func pop3Dialogue(ctx context.Context, t Target, r *Result) error {
	s, err := openText(ctx, t, r)
	if err != nil {
		return err
	}
	defer s.close()

	line, err := s.readLine()
	if err != nil {
		return greetingFailure(fmt.Errorf("greeting: %w", err))
	}
	ok, text, err := parsePOP3Status(line)
	if err != nil {
		return fail(ReasonBadGreeting, fmt.Errorf("greeting: %w", err))
	}
	if !ok {
		return fail(ReasonBadGreeting, fmt.Errorf("greeting: server refused: %s", quote(line)))
	}
	r.Version = extractVersion(text)

	caps, err := pop3Capa(s)
	if err != nil {
		return err
	}
	_, advertised := caps["STLS"]
	err = s.upgrade(ctx, t, r, advertised, "STLS",
		func() error { return pop3Command(s, "STLS") },
		func() error { _, err := pop3Capa(s); return err })
	if err != nil {
		return err
	}
	if t.Login != nil {
		if err := pop3Login(s, t.Login); err != nil {
			return err
		}
	}
	s.quit(ctx, "QUIT")
	return nil
}

// pop3Command sends cmd and expects "+OK".
func pop3Command(s *textConn, cmd string) error {
	if err := s.send(cmd); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	line, err := s.readLine()
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	ok, _, err := parsePOP3Status(line)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if !ok {
		return fail(ReasonRejected, fmt.Errorf("%s: server refused: %s", cmd, quote(line)))
	}
	return nil
}

// pop3Capa sends CAPA and returns the capabilities (none on "-ERR").
func pop3Capa(s *textConn) (map[string]string, error) {
	if err := s.send("CAPA"); err != nil {
		return nil, fmt.Errorf("CAPA: %w", err)
	}
	line, err := s.readLine()
	if err != nil {
		return nil, fmt.Errorf("CAPA: %w", err)
	}
	ok, _, err := parsePOP3Status(line)
	if err != nil {
		return nil, fmt.Errorf("CAPA: %w", err)
	}
	if !ok {
		return map[string]string{}, nil
	}
	lines, err := readPOP3Multi(s.lr)
	if err != nil {
		return nil, fmt.Errorf("CAPA: %w", err)
	}
	return parsePOP3Capa(lines), nil
}

// parsePOP3Status parses a status line: "+OK[ text]" or "-ERR[ text]".
func parsePOP3Status(line string) (ok bool, text string, err error) {
	for _, st := range []string{"+OK", "-ERR"} {
		rest, found := strings.CutPrefix(line, st)
		if !found || rest != "" && rest[0] != ' ' {
			continue
		}
		return st == "+OK", strings.TrimPrefix(rest, " "), nil
	}
	return false, "", fmt.Errorf("malformed status line %s", quote(line))
}

// readPOP3Multi reads the body of a multi-line response up to the "."
// terminator, undoing dot-stuffing.
func readPOP3Multi(lr *lineReader) ([]string, error) {
	var lines []string
	for {
		line, err := lr.readLine()
		if err != nil {
			return nil, err
		}
		if line == "." {
			return lines, nil
		}
		if len(lines) == maxReplyLines {
			return nil, errTooManyLines
		}
		lines = append(lines, strings.TrimPrefix(line, "."))
	}
}

// parsePOP3Capa returns CAPA lines as upper-cased capability -> arguments.
func parsePOP3Capa(lines []string) map[string]string {
	caps := make(map[string]string, len(lines))
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		caps[strings.ToUpper(f[0])] = strings.Join(f[1:], " ")
	}
	return caps
}
