package rules_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// promtool3 returns Prometheus 3's promtool (`make promtool3`: built from
// the prometheus module pinned in tools/go.mod, into .build/prom3), after
// checking that it is that version.
func promtool3(t *testing.T) string {
	t.Helper()
	p := os.Getenv("PROMTOOL3")
	if p == "" {
		p = filepath.Join("..", ".build", "prom3", "promtool")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("Prometheus 3 promtool not found at %s: run `make promtool3` (%v)", p, err)
	}
	mod, err := os.ReadFile(filepath.Join("..", "tools", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/prometheus/prometheus (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("tools/go.mod does not require github.com/prometheus/prometheus")
	}
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", p, err, out)
	}
	if want := "promtool, version " + string(m[1]) + " "; !strings.HasPrefix(string(out), want) {
		t.Fatalf("%s is not the promtool of the module pinned in tools/go.mod (%s): %s\nrebuild it: rm %s; make promtool3",
			p, m[1], strings.SplitN(string(out), "\n", 2)[0], p)
	}
	return p
}

// The rules and their unit tests with Prometheus 3, whose range selectors
// are left-open (and whose parser is the one users run): every rule test
// must hold on both versions.
// Under `make unit` the promtool on PATH is scripts/promtool-both, which
// already runs TestPromtoolTestRules with both versions: then only the
// version and the syntax check are left to do here.
func TestPromtool3CheckAndTestRules(t *testing.T) {
	p := promtool3(t)
	run(t, p, append([]string{"check", "rules"}, ruleFiles(t)...)...)
	if onPath, err := exec.LookPath("promtool"); err == nil && filepath.Base(filepath.Dir(onPath)) == "promtool-both" {
		t.Logf("promtool on PATH is %s: the rule tests run with Prometheus 3 in TestPromtoolTestRules", onPath)
		return
	}
	run(t, p, append([]string{"test", "rules"}, glob(t, "tests/*.yml")...)...)
}
