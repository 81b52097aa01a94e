package collector

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/prober"
	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// An authenticated IMAP check against a real IMAP server (go-imap's): the
// right password is up; a wrong one is down with reason auth_failed; and no
// log line, at any level, carries either password.
func TestAuthenticatedCheckLogsNoSecret(t *testing.T) {
	const right, wrong = "right-secret-4711", "wrong-secret-0815"
	mc := testmail.NewMailCluster(t, "probe@test", right, 0)
	_, port, _ := net.SplitHostPort(mc.IMAPAddr["node-a"])
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	user := write("user", "probe@test")
	for _, tc := range []struct {
		pass   string
		wantUp bool
	}{{right, true}, {wrong, false}} {
		var logs bytes.Buffer
		cfg := loadCluster(t, fmt.Sprintf(`
clusters:
  - name: pair
    kind: active_standby
    nodes:
      - {name: node-a, address: %s}
      - {name: node-b, address: %s}
    services:
      - name: imap
        port: %s
        tls: none
        timeout: 2s
        auth: {username_file: %s, password_file: %s, allow_plaintext_auth: true}
`, testmail.NodeHost(0), testmail.NodeHost(1), port, user, write("pass-"+tc.pass, tc.pass)))
		c, err := New(cfg.Clusters[0], cfg.Global, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		snap := c.Collect(ctx)
		cancel()
		var res prober.Result
		for _, o := range snap.Services["node-a"] {
			res = o.Result
		}
		if res.Up != tc.wantUp {
			t.Errorf("password %q: up = %v, want %v (err %v)", tc.pass, res.Up, tc.wantUp, res.Err)
		}
		if !tc.wantUp && res.Reason != prober.ReasonAuthFailed {
			t.Errorf("wrong password: reason %q, want auth_failed", res.Reason)
		}
		if !tc.wantUp && !strings.Contains(logs.String(), "probe failed") {
			t.Errorf("the failed login was not logged at debug level:\n%s", logs.String())
		}
		for _, secret := range []string{right, wrong} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("a password appears in the log:\n%s", logs.String())
			}
		}
	}
}
