package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

// evalInProcess runs a promtool-style test case with Prometheus's own
// engine and rule manager in process, with the query sample limit of a
// Prometheus server (--query.max-samples, 50 million) instead of promtool's
// fixed 50,000: the rules at a few hundred clusters need more than that in
// one evaluation, which says nothing about a real server. Groups are
// evaluated in file order every interval, as promtool does.
func evalInProcess(t *testing.T, ruleFile string, tc promTC) {
	t.Helper()
	interval, err := time.ParseDuration(tc.Interval)
	if err != nil {
		t.Fatal(err)
	}
	var load strings.Builder
	fmt.Fprintf(&load, "load %s\n", tc.Interval)
	for _, s := range tc.InputSeries {
		fmt.Fprintf(&load, "  %s %s\n", s.Series, s.Values)
	}
	st := promqltest.LoadedStorage(t, load.String())
	engine := promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{
		MaxSamples:               50_000_000,
		Timeout:                  2 * time.Minute,
		LookbackDelta:            5 * time.Minute,
		NoStepSubqueryIntervalFn: func(int64) int64 { return interval.Milliseconds() },
	})
	ctx := context.Background()
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, st),
		AppendableV2: st,
		Queryable:    st,
		Context:      ctx,
	})
	groups, errs := m.LoadGroups(interval, labels.EmptyLabels(), "", nil, false, ruleFile)
	if len(errs) > 0 {
		t.Fatalf("loading %s: %v", ruleFile, errs)
	}
	var ordered []*rules.Group
	for _, g := range groups {
		ordered = append(ordered, g)
	}
	// the file's order: mailcluster.rules before the groups reading it
	sort.Slice(ordered, func(i, j int) bool { return groupIndex(ordered[i].Name()) < groupIndex(ordered[j].Name()) })

	var maxEval time.Duration
	for _, e := range tc.ExprTests {
		d, err := time.ParseDuration(e.EvalTime)
		if err != nil {
			t.Fatal(err)
		}
		maxEval = max(maxEval, d)
	}
	byTime := map[time.Duration][]promExpr{}
	for _, e := range tc.ExprTests {
		d, _ := time.ParseDuration(e.EvalTime)
		byTime[d] = append(byTime[d], e)
	}
	for ts := time.Duration(0); ts <= maxEval; ts += interval {
		now := time.Unix(0, 0).UTC().Add(ts)
		for _, g := range ordered {
			g.Eval(ctx, now)
			for _, r := range g.Rules() {
				if r.LastError() != nil {
					t.Fatalf("rule %s at %s: %v", r.Name(), ts, r.LastError())
				}
			}
		}
		for _, e := range byTime[ts] {
			q, err := engine.NewInstantQuery(ctx, st, nil, e.Expr, now)
			if err != nil {
				t.Fatalf("%s: %v", e.Expr, err)
			}
			res := q.Exec(ctx)
			if res.Err != nil {
				t.Fatalf("at %s: %v\n%s", ts, res.Err, e.Expr)
			}
			vec, err := res.Vector()
			if err != nil {
				t.Fatalf("at %s: %v", ts, err)
			}
			compareSamples(t, ts, e, vec)
			q.Close()
		}
	}
}

func groupIndex(name string) int {
	for i, n := range []string{"mailcluster.rules", "mailcluster.alerts", "mailcluster.update_phase"} {
		if n == name {
			return i
		}
	}
	return 99
}

func compareSamples(t *testing.T, ts time.Duration, e promExpr, got promql.Vector) {
	t.Helper()
	want := map[string]float64{}
	for _, s := range e.ExpSamples {
		ls, err := parser.NewParser(parser.Options{}).ParseMetric(s.Labels)
		if err != nil {
			t.Fatalf("expected labels %s: %v", s.Labels, err)
		}
		want[ls.String()] = s.Value
	}
	have := map[string]float64{}
	for _, s := range got {
		have[s.Metric.String()] = s.F
	}
	var diffs []string
	for k, v := range want {
		h, ok := have[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing %s %g", k, v))
		case math.Abs(h-v) > 1e-9:
			diffs = append(diffs, fmt.Sprintf("%s: got %g, want %g", k, h, v))
		}
	}
	for k, v := range have {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected %s %g", k, v))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("… %d more", len(diffs)-20))
		}
		t.Errorf("at %s: %d differences:\n  %s\nexpr: %.300s", ts, len(diffs), strings.Join(diffs, "\n  "), e.Expr)
	}
}
