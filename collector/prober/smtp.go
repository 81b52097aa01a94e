package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// smtpDialogue: greeting 220, EHLO, STARTTLS (required, or opportunistic when
// advertised) followed by a second EHLO over TLS, QUIT. Used for smtp (25),
// submission (587) and, with implicit TLS, smtps (465).
func smtpDialogue(ctx context.Context, t Target, r *Result) error {
	helo := t.HeloName
	if helo == "" {
		helo = DefaultHeloName
	}
	if strings.ContainsAny(helo, " \t\r\n") {
		return fmt.Errorf("invalid HELO name %q", helo)
	}
	s, err := openText(ctx, t, r)
	if err != nil {
		return err
	}
	defer s.close()

	code, lines, err := readSMTPReply(s.lr)
	if err != nil {
		return greetingFailure(fmt.Errorf("greeting: %w", err))
	}
	if code != 220 {
		return fail(ReasonBadGreeting, fmt.Errorf("greeting: unexpected reply %d %s", code, quote(lines[0])))
	}
	r.Version = extractVersion(lines[0])

	ext, err := smtpEHLO(s, helo)
	if err != nil {
		return err
	}
	_, advertised := ext["STARTTLS"]
	err = s.upgrade(ctx, t, r, advertised, "STARTTLS",
		func() error { return smtpCommand(s, "STARTTLS", 220) },
		func() error { ext, err = smtpEHLO(s, helo); return err })
	if err != nil {
		return err
	}
	if t.Login != nil {
		if err := smtpLogin(s, ext, t.Login); err != nil {
			return err
		}
	}
	s.quit(ctx, "QUIT")
	return nil
}

// smtpCommand sends cmd and expects a reply with code want.
func smtpCommand(s *textConn, cmd string, want int) error {
	verb, _, _ := strings.Cut(cmd, " ")
	if err := s.send(cmd); err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	code, lines, err := readSMTPReply(s.lr)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	if code != want {
		return fail(replyReason(code), fmt.Errorf("%s: unexpected reply %d %s", verb, code, quote(lines[0])))
	}
	return nil
}

// smtpEHLO sends EHLO and returns the advertised extensions.
func smtpEHLO(s *textConn, helo string) (map[string]string, error) {
	if err := s.send("EHLO " + helo); err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	code, lines, err := readSMTPReply(s.lr)
	if err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	if code != 250 {
		return nil, fail(replyReason(code), fmt.Errorf("EHLO: unexpected reply %d %s", code, quote(lines[0])))
	}
	return parseEHLO(lines), nil
}

// replyReason: a 4xx/5xx reply is a refusal, any other unexpected code a
// protocol error.
func replyReason(code int) Reason {
	if code >= 400 {
		return ReasonRejected
	}
	return ReasonProtocolError
}

// parseSMTPLine splits one reply line: "250-text" (more lines follow),
// "250 text" or "250" (last line).
func parseSMTPLine(line string) (code int, more bool, text string, err error) {
	if len(line) < 3 || line[0] < '1' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]) {
		return 0, false, "", fmt.Errorf("malformed reply line %s", quote(line))
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, false, "", nil
	}
	switch line[3] {
	case ' ':
		return code, false, line[4:], nil
	case '-':
		return code, true, line[4:], nil
	}
	return 0, false, "", fmt.Errorf("malformed reply line %s", quote(line))
}

// readSMTPReply reads one (possibly multi-line) reply and returns its code
// and the text of each line.
func readSMTPReply(lr *lineReader) (int, []string, error) {
	var (
		code  int
		lines []string
	)
	for {
		if len(lines) == maxReplyLines {
			return 0, nil, errTooManyLines
		}
		line, err := lr.readLine()
		if err != nil {
			return 0, nil, err
		}
		c, more, text, err := parseSMTPLine(line)
		if err != nil {
			return 0, nil, err
		}
		if len(lines) > 0 && c != code {
			return 0, nil, errors.New("reply lines with different codes")
		}
		code = c
		lines = append(lines, text)
		if !more {
			return code, lines, nil
		}
	}
}

// parseEHLO returns the extensions of an EHLO reply (the text of its lines;
// the first line is the server's name): upper-cased keyword -> parameters.
// Lines whose keyword is not a valid ehlo-keyword (RFC 5321 4.1.1.1) are
// skipped.
func parseEHLO(lines []string) map[string]string {
	ext := make(map[string]string, len(lines))
	for i, line := range lines {
		if i == 0 {
			continue
		}
		kw, params, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !isKeyword(kw) {
			continue
		}
		ext[strings.ToUpper(kw)] = strings.TrimSpace(params)
	}
	return ext
}

// isKeyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
func isKeyword(s string) bool {
	if s == "" || !isLetter(s[0]) && !isDigit(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}
