package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestConfigCheck(t *testing.T) {
	code, out, _ := runCLI(t, "--config.file=examples/quickstart.yml", "--config.check")
	if code != 0 || !strings.Contains(out, "OK (1 clusters)") {
		t.Errorf("valid config: exit %d, %q", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("clusters:\n  - name: x\n    kind: pair\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "--config.file="+bad, "--config.check")
	if code == 0 || !strings.Contains(errOut, "bad.yml:3: clusters[0].kind: must be active_standby") {
		t.Errorf("invalid config: exit %d, stderr %q; want non-zero and file:line: field: message", code, errOut)
	}
}

func TestWindowCommands(t *testing.T) {
	wf := filepath.Join(t.TempDir(), "windows.json")
	code, _, errOut := runCLI(t, "--config.file=examples/quickstart.yml", "--windows.file="+wf,
		"window", "open", "--cluster=nosuch", "--for=1h", "--reason=x")
	if code == 0 || !strings.Contains(errOut, `cluster "nosuch" is not in`) {
		t.Errorf("opening a window for an unknown cluster: exit %d, %q", code, errOut)
	}
	code, out, errOut := runCLI(t, "--config.file=examples/quickstart.yml", "--windows.file="+wf,
		"window", "open", "--cluster=quickstart", "--for=2h", "--reason=version up 2.0.8")
	if code != 0 || !strings.Contains(out, "update window of cluster quickstart open until") {
		t.Fatalf("window open: exit %d, %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "--windows.file="+wf, "window", "list")
	if code != 0 || !strings.Contains(out, "quickstart") || !strings.Contains(out, "version up 2.0.8") {
		t.Errorf("window list: exit %d, %q", code, out)
	}
	code, _, _ = runCLI(t, "--windows.file="+wf, "window", "close", "--cluster=quickstart")
	if code != 0 {
		t.Errorf("window close: exit %d", code)
	}
	code, out, _ = runCLI(t, "--windows.file="+wf, "window", "list")
	if code != 0 || strings.Contains(out, "quickstart") {
		t.Errorf("closed window still listed: %q", out)
	}
	code, _, errOut = runCLI(t, "--windows.file="+wf, "window", "close", "--cluster=quickstart")
	if code == 0 || !strings.Contains(errOut, "no open window") {
		t.Errorf("closing a closed window: exit %d, %q", code, errOut)
	}
}

func TestBadFlag(t *testing.T) {
	if code, _, errOut := runCLI(t, "--log.level=loud"); code != 2 || !strings.Contains(errOut, "log.level") {
		t.Errorf("bad flag: exit %d, %q", code, errOut)
	}
}

// The served exporter: basic auth from --web.config.file guards every
// endpoint, and reloading over HTTP is off without --web.enable-lifecycle.
func TestServeWithBasicAuth(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte("basic_auth_users:\n  noc: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb syncBuffer
	go func() {
		done <- run(ctx, []string{"--config.file=examples/quickstart.yml", "--windows.file=" + filepath.Join(dir, "w.json"),
			"--web.listen-address=127.0.0.91:19091", "--web.config.file=" + webCfg}, &out, &errb)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit code %d; log:\n%s", code, errb.String())
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(method, path string, auth bool) int {
		req, _ := http.NewRequest(method, "http://127.0.0.91:19091"+path, nil)
		if auth {
			req.SetBasicAuth("noc", "s3cret")
		}
		resp, err := client.Do(req)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 50 && get("GET", "/-/healthy", true) != http.StatusOK; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	for _, tc := range []struct {
		method, path string
		auth         bool
		want         int
	}{
		{"GET", "/metrics", false, http.StatusUnauthorized},
		{"GET", "/metrics", true, http.StatusOK},
		{"GET", "/probe?cluster=quickstart", true, http.StatusOK},
		{"POST", "/-/reload", false, http.StatusUnauthorized},
		{"POST", "/-/reload", true, http.StatusForbidden},
	} {
		if got := get(tc.method, tc.path, tc.auth); got != tc.want {
			t.Errorf("%s %s (auth %v) = %d, want %d", tc.method, tc.path, tc.auth, got, tc.want)
		}
	}
	if strings.Contains(errb.String(), "s3cret") || strings.Contains(out.String(), "s3cret") {
		t.Error("the password appears in the output")
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The top-level help lists the flags of the default command (serve), which
// are given without the word "serve", next to the commands.
func TestHelpListsServeFlags(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, _ := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		for _, want := range []string{
			"--config.file=", "--windows.file=", "Flags of serve, the default command",
			"--web.listen-address=", "--web.config.file=", "--cluster.node=", "--[no-]config.check",
			"--scrape.timeout-offset=", "--[no-]web.enable-lifecycle", "--web.telemetry-path=",
			"gate status --cluster=CLUSTER", "gate wait --cluster=CLUSTER --gate=GATE", "window open",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, out)
			}
		}
	}
	// A subcommand's help is its own: no serve flags there.
	code, out, _ := runCLI(t, "window", "list", "--help")
	if code != 0 || strings.Contains(out, "--web.listen-address") || !strings.Contains(out, "window list") {
		t.Errorf("window list --help: exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "gate", "wait", "--help")
	if code != 0 || !strings.Contains(out, "--prometheus.url=") || !strings.Contains(out, "--poll-interval=") {
		t.Errorf("gate wait --help: exit %d:\n%s", code, out)
	}
}
