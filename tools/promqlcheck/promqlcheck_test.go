package promqlcheck_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/tools/promqlcheck"
)

// TestBundledRules parses every rule file in ../../rules (the repository's
// rules/ directory) with the Prometheus 3.x parsers and fails on any error.
func TestBundledRules(t *testing.T) {
	files, err := promqlcheck.RuleFiles("../../rules")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("expected the recording and alerting rule files in ../../rules, found %v", files)
	}
	total := 0
	for _, f := range files {
		rules, errs := promqlcheck.CheckRuleFile(f)
		for _, err := range errs {
			t.Errorf("%v", err)
		}
		for _, r := range rules {
			if len(r.Metrics) == 0 && !strings.HasPrefix(r.Name, "mailcluster:threshold:") {
				t.Errorf("%s: rule %s selects no metric", f, r.Name)
			}
		}
		total += len(rules)
	}
	if total == 0 {
		t.Fatal("no rules parsed")
	}
}

func TestParseExpr(t *testing.T) {
	names, err := promqlcheck.ParseExpr(`sum by (cluster) (rate(mailcluster_role_changes_total[5m]))
	  / on(cluster) group_left() mailcluster:status:code
	  or {__name__="mailcluster_node_info", cluster="x"} # comment mailcluster_not_a_metric
	  or vector(1) and {__name__=~"ignored_.*"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mailcluster:status:code", "mailcluster_node_info", "mailcluster_role_changes_total"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("got %v, want %v", names, want)
	}
	if _, err := promqlcheck.ParseExpr(`max by(cluster)(mailcluster_node_info`); err == nil {
		t.Fatal("expected a parse error for an unclosed parenthesis")
	}
}
