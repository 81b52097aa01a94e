// Package rules_test checks the bundled Prometheus rules (DESIGN.md §5–6):
// promtool syntax check and unit tests, amtool check of the Alertmanager
// examples, alert metadata and runbooks, and that every metric the rules
// use is documented in docs/metrics.md. Standard library only.
package rules_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const (
	runbookPrefix = "https://github.com/mailcluster/mailcluster_exporter/blob/main/docs/runbooks/"
	runbookDir    = "../docs/runbooks"
	metricsDoc    = "../docs/metrics.md"
	// Every critical alert must be held back while its cluster's update
	// window is open (DESIGN.md §6).
	windowClause = "unless on(cluster) (mailcluster:update_window_open:max == 1)"
)

// ruleFiles are the Prometheus rule files in this directory (everything
// but the Alertmanager examples).
func ruleFiles(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob("*.yml")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range m {
		if !strings.HasPrefix(f, "alertmanager") {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatal("no rule files found in rules/")
	}
	return files
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return m
}

func lookTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: run `make deps` (installs Debian's %s)", name, pkg)
	}
	return p
}

func run(t *testing.T, tool string, args ...string) {
	t.Helper()
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s failed: %v\n%s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := lookTool(t, "promtool", "prometheus")
	run(t, promtool, append([]string{"check", "rules"}, ruleFiles(t)...)...)
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := lookTool(t, "promtool", "prometheus")
	run(t, promtool, append([]string{"test", "rules"}, glob(t, "tests/*.yml")...)...)
}

func TestAmtoolCheckConfig(t *testing.T) {
	amtool := lookTool(t, "amtool", "prometheus-alertmanager")
	run(t, amtool, append([]string{"check-config"}, glob(t, "alertmanager*.yml")...)...)
}

// alert is what the line scanner below finds about one alerting rule. The
// rule files are written in one consistent style (two-space YAML), which is
// what makes a scanner without a YAML library sufficient; promtool and
// tools/promqlcheck do the real parsing.
type alert struct {
	name, file, expr string
	fields           map[string]string // severity, summary, description, runbook_url
}

var (
	ruleStart = regexp.MustCompile(`^(\s*)- (alert|record):\s*(\S+)\s*$`)
	keyLine   = regexp.MustCompile(`^(\s*)([a-z_]+):\s*(.*)$`)
)

// scan returns the alerts of a rule file and the text of all expressions.
func scan(t *testing.T, file string) (alerts []alert, exprs []string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		cur        *alert
		inExpr     bool
		exprIndent int
		expr       strings.Builder
	)
	flushExpr := func() {
		if inExpr {
			exprs = append(exprs, expr.String())
			if cur != nil {
				cur.expr = expr.String()
			}
			expr.Reset()
			inExpr = false
		}
	}
	flushAlert := func() {
		if cur != nil {
			alerts = append(alerts, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if inExpr && (strings.TrimSpace(line) == "" || indent > exprIndent) {
			expr.WriteString(stripComment(line))
			expr.WriteString("\n")
			continue
		}
		flushExpr()
		if m := ruleStart.FindStringSubmatch(line); m != nil {
			flushAlert()
			if m[2] == "alert" {
				cur = &alert{name: m[3], file: file, fields: map[string]string{}}
			}
			continue
		}
		m := keyLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, val := m[2], strings.Trim(strings.TrimSpace(m[3]), `"'`)
		switch {
		case key == "expr":
			inExpr, exprIndent = true, len(m[1])
			if !strings.HasPrefix(val, "|") && !strings.HasPrefix(val, ">") {
				expr.WriteString(stripComment(val) + "\n")
			}
		case cur != nil && (key == "severity" || key == "summary" || key == "description" || key == "runbook_url"):
			cur.fields[key] = val
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flushExpr()
	flushAlert()
	return alerts, exprs
}

func stripComment(s string) string {
	if i := strings.Index(s, "#"); i >= 0 {
		return s[:i]
	}
	return s
}

func allAlerts(t *testing.T) ([]alert, []string) {
	var alerts []alert
	var exprs []string
	for _, f := range ruleFiles(t) {
		a, e := scan(t, f)
		alerts = append(alerts, a...)
		exprs = append(exprs, e...)
	}
	if len(alerts) == 0 {
		t.Fatal("no alerts found")
	}
	return alerts, exprs
}

func TestAlertMetadataAndRunbooks(t *testing.T) {
	alerts, _ := allAlerts(t)
	seen := map[string]bool{}
	for _, a := range alerts {
		if seen[a.name] {
			t.Errorf("%s: alert %s defined twice", a.file, a.name)
		}
		seen[a.name] = true
		switch a.fields["severity"] {
		case "critical", "warning", "info":
		default:
			t.Errorf("%s: alert %s: severity %q, want critical|warning|info", a.file, a.name, a.fields["severity"])
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if a.fields[k] == "" {
				t.Errorf("%s: alert %s has no %s annotation", a.file, a.name, k)
			}
		}
		if want := runbookPrefix + a.name + ".md"; a.fields["runbook_url"] != want {
			t.Errorf("%s: alert %s: runbook_url %q, want %q", a.file, a.name, a.fields["runbook_url"], want)
		}
		if !strings.Contains(a.fields["description"], "$labels.cluster") && !strings.Contains(a.fields["description"], "$labels.instance") {
			t.Errorf("%s: alert %s: description does not name the cluster (or exporter instance)", a.file, a.name)
		}
		if _, err := os.Stat(filepath.Join(runbookDir, a.name+".md")); err != nil {
			t.Errorf("alert %s: runbook missing: %v", a.name, err)
		}
		if a.fields["severity"] == "critical" && !strings.Contains(strings.Join(strings.Fields(a.expr), " "), windowClause) {
			t.Errorf("%s: critical alert %s is not held back during update windows: its expr must end in %q (DESIGN.md §6)", a.file, a.name, windowClause)
		}
	}
	// No orphan runbooks.
	for _, f := range glob(t, filepath.Join(runbookDir, "*.md")) {
		name := strings.TrimSuffix(filepath.Base(f), ".md")
		if !seen[name] {
			t.Errorf("runbook %s has no alert", f)
		}
	}
}

var (
	metricInExpr   = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])(mailcluster_[a-zA-Z0-9_]+)`)
	metricInDoc    = regexp.MustCompile("`(mailcluster_[a-zA-Z0-9_]+)`")
	metricInSeries = regexp.MustCompile(`series:\s*'(mailcluster_[a-zA-Z0-9_]+)[{']`)
)

func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatalf("cannot read the metrics reference: %v", err)
	}
	doc := map[string]bool{}
	for _, m := range metricInDoc.FindAllStringSubmatch(string(b), -1) {
		doc[m[1]] = true
	}
	if len(doc) == 0 {
		t.Fatalf("%s lists no metric in backticks", metricsDoc)
	}
	return doc
}

func report(t *testing.T, what string, missing map[string]bool) {
	t.Helper()
	if len(missing) == 0 {
		return
	}
	var names []string
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Errorf("%s not documented in %s: %s", what, metricsDoc, strings.Join(names, ", "))
}

// TestMetricsDocumented: every mailcluster_* metric the rules use exists in
// docs/metrics.md (DESIGN.md §3 is the contract; metrics.md lists what the
// exporter exposes), and so does every metric the unit tests feed in.
func TestMetricsDocumented(t *testing.T) {
	doc := documentedMetrics(t)
	_, exprs := allAlerts(t)
	missing := map[string]bool{}
	used := 0
	for _, e := range exprs {
		for _, m := range metricInExpr.FindAllStringSubmatch(e, -1) {
			used++
			if !doc[m[1]] {
				missing[m[1]] = true
			}
		}
	}
	if used == 0 {
		t.Fatal("found no mailcluster_* metric in the rule expressions")
	}
	report(t, "metrics used by the rules", missing)

	missing = map[string]bool{}
	for _, f := range glob(t, "tests/*.yml") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricInSeries.FindAllStringSubmatch(string(b), -1) {
			if !doc[m[1]] {
				missing[m[1]] = true
			}
		}
	}
	report(t, "metrics fed by rules/tests", missing)
}
