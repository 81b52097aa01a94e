package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
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
