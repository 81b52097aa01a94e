// Package dashq extracts the PromQL of the mailcluster Grafana dashboards,
// with Grafana's template variables replaced by concrete values, so tests
// can parse every query and the end-to-end test can run every one against a
// real Prometheus.
//
// It reads the committed JSON (not the generator), so it checks what users
// actually import.
package dashq

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Query is one PromQL expression of a dashboard.
type Query struct {
	File      string `json:"file"`      // dashboard file name, e.g. mailcluster-wall.json
	Dashboard string `json:"dashboard"` // dashboard uid
	Panel     string `json:"panel"`     // panel title (raw, e.g. "Status — $cluster"), or "variable <name>" / "annotation <name>"
	RefID     string `json:"refId,omitempty"`
	Kind      string `json:"kind"`    // "panel", "variable" or "annotation"
	Instant   bool   `json:"instant"` // an instant query (else a range query)
	Raw       string `json:"raw"`     // the expression as stored, with $variables
	Expr      string `json:"expr"`    // with variables substituted: runnable PromQL
}

// DefaultVars are the sample values used for Grafana's variables: $cluster
// and $node (dashboard variables) and Grafana's built-in interval/range
// variables.
var DefaultVars = map[string]string{
	"cluster":         "c1",
	"node":            "n1",
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__interval_ms":   "60000",
	"__range":         "1h",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
}

// Queries returns every query of every *.json dashboard in dir with
// DefaultVars substituted.
func Queries(dir string) ([]Query, error) {
	return QueriesWith(dir, DefaultVars)
}

// QueriesWith is Queries with caller-chosen variable values (e.g. a real
// cluster name); variables missing from vars are an error.
func QueriesWith(dir string, vars map[string]string) ([]Query, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Query
	for _, f := range files {
		qs, err := fileQueries(f, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		out = append(out, qs...)
	}
	return out, nil
}

// Minimal views of the dashboard JSON (schema v1 dashboards).
type dash struct {
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // collapsed rows
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
}

var labelValuesRe = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

func fileQueries(path string, vars map[string]string) ([]Query, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dash
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	base := filepath.Base(path)
	var out []Query
	add := func(q Query) error {
		q.File, q.Dashboard = base, d.UID
		e, err := Substitute(q.Raw, vars)
		if err != nil {
			return fmt.Errorf("%s %s: %w", q.Panel, q.RefID, err)
		}
		q.Expr = e
		out = append(out, q)
		return nil
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var s string
		if err := json.Unmarshal(v.Query, &s); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				return nil, fmt.Errorf("variable %s: query is neither string nor object", v.Name)
			}
			s = obj.Query
		}
		// label_values(selector, label) -> the selector is the PromQL.
		if m := labelValuesRe.FindStringSubmatch(s); m != nil {
			s = m[1]
		}
		if err := add(Query{Panel: "variable " + v.Name, Kind: "variable", Instant: true, Raw: s}); err != nil {
			return nil, err
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr == "" {
			continue
		}
		if err := add(Query{Panel: "annotation " + a.Name, Kind: "annotation", Raw: a.Expr}); err != nil {
			return nil, err
		}
	}
	var walk func(ps []panel) error
	walk = func(ps []panel) error {
		for _, p := range ps {
			for _, t := range p.Targets {
				if t.Expr == "" {
					continue
				}
				if err := add(Query{Panel: p.Title, RefID: t.RefID, Kind: "panel", Instant: t.Instant, Raw: t.Expr}); err != nil {
					return err
				}
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	return out, nil
}

// Grafana variable syntaxes: $name, ${name}, ${name:format}, [[name]].
var varRe = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-zA-Z]+)?\}|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// Substitute replaces Grafana template variables in expr with vars. Regex
// capture references inside label_replace replacements ("$1") are left
// alone; any other unknown variable is an error.
func Substitute(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := varRe.ReplaceAllStringFunc(expr, func(s string) string {
		m := varRe.FindStringSubmatch(s)
		name := m[1] + m[2] + m[3]
		if v, ok := vars[name]; ok {
			return v
		}
		missing = append(missing, name)
		return s
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for variable(s) %s", strings.Join(missing, ", "))
	}
	return out, nil
}
