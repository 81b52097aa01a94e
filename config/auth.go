package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Auth is a login used by an authenticated check or by the round trip. The
// user name and the password are read from files at each use (so a rotated
// secret needs no reload), never from the configuration text, and neither
// ever appears in a log line, a metric or an error.
type Auth struct {
	UsernameFile string `yaml:"username_file"`
	PasswordFile string `yaml:"password_file"`
	// Mechanism: SMTP plain (default) or login; IMAP login (default) or
	// plain (AUTHENTICATE PLAIN). POP3 always uses USER/PASS and LDAP a
	// simple bind, where the user name is the bind DN.
	Mechanism string `yaml:"mechanism"`
	// AllowPlaintextAuth sends the credentials over a connection without
	// TLS. Off by default: without TLS the check fails instead.
	AllowPlaintextAuth bool `yaml:"allow_plaintext_auth"`
}

// maxCredentialBytes bounds a credential file: a user name or a password,
// not a file pointed at by mistake.
const maxCredentialBytes = 4096

// Credentials reads the user name and the password. Errors name the files,
// never their content.
func (a *Auth) Credentials() (user, password string, err error) {
	if user, err = readSecretFile(a.UsernameFile); err != nil {
		return "", "", fmt.Errorf("username_file: %w", err)
	}
	if password, err = readSecretFile(a.PasswordFile); err != nil {
		return "", "", fmt.Errorf("password_file: %w", err)
	}
	return user, password, nil
}

// readSecretFile returns the file's first line without its line ending.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w", pathOnly(err))
	}
	defer f.Close()
	buf := make([]byte, maxCredentialBytes+1)
	n, _ := f.Read(buf)
	if n > maxCredentialBytes {
		return "", fmt.Errorf("%s: longer than %d bytes", path, maxCredentialBytes)
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s: empty", path)
	}
	return line, nil
}

// pathOnly keeps the operation and path of a file error.
func pathOnly(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
	}
	return err
}

// authMechanisms lists the mechanisms each protocol accepts.
var authMechanisms = map[string][]string{
	"smtp": {"plain", "login"}, "smtps": {"plain", "login"},
	"imap": {"login", "plain"}, "imaps": {"login", "plain"},
	"pop3": {"user"}, "pop3s": {"user"},
	"ldap": {"simple"}, "ldaps": {"simple"},
}

func (a *Auth) applyDefaults(protocol string) {
	if a.Mechanism == "" {
		if m := authMechanisms[protocol]; len(m) > 0 {
			a.Mechanism = m[0]
		}
	}
}

func (a *Auth) validate(v *validator, p, protocol string) {
	mechs, ok := authMechanisms[protocol]
	if !ok {
		v.errorf(p, "protocol %s has no login check (auth is for smtp, imap, pop3 and ldap)", protocol)
		return
	}
	known := false
	for _, m := range mechs {
		known = known || m == a.Mechanism
	}
	if !known {
		v.errorf(p+".mechanism", "must be one of %s for %s, got %q", strings.Join(mechs, ", "), protocol, a.Mechanism)
	}
	for _, f := range []struct{ field, path string }{{"username_file", a.UsernameFile}, {"password_file", a.PasswordFile}} {
		field, path := f.field, f.path
		if path == "" {
			v.errorf(p+"."+field, "required (credentials are read from files, never from the configuration)")
			continue
		}
		if _, err := readSecretFile(path); err != nil {
			v.errorf(p+"."+field, "%v", err)
		}
	}
}
