// Package promqlcheck parses Prometheus rule files and PromQL expressions
// with the parser of Prometheus 3.x, and extracts the metric names an
// expression selects. The bundled rules (rules/*.yml) are checked with it;
// dashboards can reuse ParseExpr to check their queries.
package promqlcheck

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Parser is the PromQL parser used by this package: default options, no
// experimental functions (what a stock Prometheus 3 accepts).
var Parser = parser.NewParser(parser.Options{})

// ParseExpr parses a PromQL expression and returns the metric names it
// selects, sorted and without duplicates. Recorded series
// ("level:metric:operation") are metric names too. Selectors without a
// fixed name (e.g. {__name__=~"…"}) contribute nothing.
func ParseExpr(expr string) ([]string, error) {
	e, err := Parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	return MetricNames(e), nil
}

// MetricNames returns the sorted, unique metric names selected in e.
func MetricNames(e parser.Expr) []string {
	set := map[string]struct{}{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			set[vs.Name] = struct{}{}
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				set[m.Value] = struct{}{}
			}
		}
		return nil
	})
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Rule is one parsed rule: its name (alert or record), the group and file
// it is in, and the metric names its expression uses.
type Rule struct {
	File, Group, Name string
	Alert             bool
	Expr              string
	Metrics           []string
	Labels            map[string]string
	Annotations       map[string]string
}

// CheckRuleFile parses a rule file with rulefmt (strict: unknown fields are
// errors; names must be valid legacy names so older Prometheus servers load
// them too), parses every expression and template, and returns its rules.
// All problems found are returned, each naming the file and the rule.
func CheckRuleFile(path string) ([]Rule, []error) {
	rgs, errs := rulefmt.ParseFile(path, false, model.LegacyValidation, Parser, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if len(errs) > 0 {
		return nil, errs
	}
	var rules []Rule
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			name, alert := r.Record, false
			if r.Alert != "" {
				name, alert = r.Alert, true
			}
			metrics, err := ParseExpr(r.Expr)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: group %q, rule %q: %w", path, g.Name, name, err))
				continue
			}
			rules = append(rules, Rule{
				File: path, Group: g.Name, Name: name, Alert: alert, Expr: r.Expr,
				Metrics: metrics, Labels: r.Labels, Annotations: r.Annotations,
			})
		}
	}
	return rules, errs
}

// RuleFiles returns the rule files among the YAML files in dir: every
// *.yml / *.yaml file except Alertmanager configurations (alertmanager*).
func RuleFiles(dir string) ([]string, error) {
	var files []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			if !strings.HasPrefix(filepath.Base(f), "alertmanager") {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	return files, nil
}
