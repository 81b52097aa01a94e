// Package gate answers "may the update procedure take its next step?" from
// the update gates that the bundled recording rules compute in Prometheus
// (mailcluster:update_gate:ok, DESIGN.md §6). It never says "go" on data it
// cannot trust: a failed query, no series, or a gate sample older than two
// rule evaluation intervals is an error, not an open gate.
package gate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// GateMetric is the recording rule that holds the gates.
const GateMetric = "mailcluster:update_gate:ok"

// DefaultEvaluationInterval is assumed when the rule group's interval
// cannot be read from /api/v1/rules: Prometheus' default global
// evaluation_interval.
const DefaultEvaluationInterval = time.Minute

// Gate is one step of the update procedure.
type Gate struct {
	Order   int
	Name    string
	Unlocks string // the step the gate unlocks
}

// Gates returns the nine gates in procedure order (DESIGN.md §6).
func Gates() []Gate {
	return []Gate{
		{1, "services_stopped", "shut the standby / disable redundancy"},
		{2, "redundancy_disabled", "apply the update"},
		{3, "versions_match", "re-enable redundancy / sync"},
		{4, "redundancy_enabled", "restart into active/standby"},
		{5, "roles_restored", "wait for sync"},
		{6, "sync_complete", "start mail services"},
		{7, "early_start_ok", "start services before sync ends (no automatic failover until sync completes; watch CPU)"},
		{8, "services_running", "close the window"},
		{9, "restart_flag_clear", "finish"},
	}
}

// Lookup returns the gate with the given name.
func Lookup(name string) (Gate, error) {
	var names []string
	for _, g := range Gates() {
		if g.Name == name {
			return g, nil
		}
		names = append(names, g.Name)
	}
	return Gate{}, fmt.Errorf("unknown gate %q; the gates are %s", name, strings.Join(names, ", "))
}

// API is the part of the Prometheus HTTP API the gates use
// (client_golang's v1.API satisfies it).
type API interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
	Rules(ctx context.Context, matches []string) (v1.RulesResult, error)
}

// Checker reads the gates of one Prometheus.
type Checker struct {
	API API
	// StaleAfter is the age beyond which a gate sample is not trusted; 0
	// means two evaluation intervals of the rule group that records the
	// gates, read from /api/v1/rules (DefaultEvaluationInterval when that
	// fails or the group is not found).
	StaleAfter time.Duration
	Now        func() time.Time
}

// State is one gate as read from Prometheus.
type State struct {
	Gate
	Open bool
	Age  time.Duration // since the rule last recorded the gate
}

// Status is every gate of one cluster.
type Status struct {
	Cluster    string
	At         time.Time
	StaleAfter time.Duration
	Gates      []State
}

// Gate returns the state of the named gate.
func (s *Status) Gate(name string) (State, bool) {
	for _, g := range s.Gates {
		if g.Name == name {
			return g, true
		}
	}
	return State{}, false
}

// ErrNoAnswer marks every reason why the gates could not be read with
// confidence (query failed, no series, stale data): never a "go".
var ErrNoAnswer = errors.New("no trustworthy answer from Prometheus")

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// quote returns s as a PromQL string literal.
func quote(s string) string { return strconv.Quote(s) }

func gateQuery(cluster string) string {
	return fmt.Sprintf("%s{cluster=%s}", GateMetric, quote(cluster))
}

// gateAgeQuery gives the age of each gate sample, measured by the
// Prometheus server's clock so that a skewed local clock does not matter.
func gateAgeQuery(cluster string) string {
	return fmt.Sprintf("time() - timestamp(%s)", gateQuery(cluster))
}

// staleAfter returns the configured limit or two evaluation intervals of
// the rule group holding the gates.
func (c *Checker) staleAfter(ctx context.Context) time.Duration {
	if c.StaleAfter > 0 {
		return c.StaleAfter
	}
	interval := DefaultEvaluationInterval
	if rules, err := c.API.Rules(ctx, nil); err == nil {
	groups:
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				if rr, ok := r.(v1.RecordingRule); ok && rr.Name == GateMetric && g.Interval > 0 {
					interval = time.Duration(g.Interval * float64(time.Second))
					break groups
				}
			}
		}
	}
	return 2 * interval
}

func (c *Checker) vector(ctx context.Context, q string, at time.Time) (model.Vector, error) {
	v, _, _, err := c.API.Query(ctx, q, at)
	if err != nil {
		return nil, fmt.Errorf("%w: query %s: %w", ErrNoAnswer, q, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("%w: query %s: got a %s, want an instant vector", ErrNoAnswer, q, v.Type())
	}
	return vec, nil
}

// Status reads the nine gates of a cluster. It fails (ErrNoAnswer) when a
// query fails, when a gate has no series, or when a gate sample is stale.
func (c *Checker) Status(ctx context.Context, cluster string) (*Status, error) {
	at := c.now()
	limit := c.staleAfter(ctx)
	// Queried at the server's "now" (no time parameter).
	vals, err := c.vector(ctx, gateQuery(cluster), time.Time{})
	if err != nil {
		return nil, err
	}
	ages, err := c.vector(ctx, gateAgeQuery(cluster), time.Time{})
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("%w: no %s series for cluster %q at %s: is the cluster name right, do the exporters of the cluster run, and does this Prometheus load rules/mailcluster.rules.yml?",
			ErrNoAnswer, GateMetric, cluster, at.UTC().Format(time.RFC3339))
	}
	// Several series for one gate (duplicated rule files, federation):
	// the gate is open only if all say so.
	open := map[string]bool{}
	seen := map[string]bool{}
	for _, s := range vals {
		name := string(s.Metric["gate"])
		v := float64(s.Value)
		ok := v == 1 && !math.IsNaN(v)
		if seen[name] {
			open[name] = open[name] && ok
		} else {
			open[name], seen[name] = ok, true
		}
	}
	age := map[string]time.Duration{}
	for _, s := range ages {
		name := string(s.Metric["gate"])
		d := time.Duration(float64(s.Value) * float64(time.Second))
		if old, ok := age[name]; !ok || d > old {
			age[name] = d
		}
	}
	st := &Status{Cluster: cluster, At: at, StaleAfter: limit}
	var missing, stale []string
	for _, g := range Gates() {
		if !seen[g.Name] {
			missing = append(missing, g.Name)
			continue
		}
		d, ok := age[g.Name]
		switch {
		case !ok:
			stale = append(stale, g.Name+" (no sample time)")
		case d > limit:
			stale = append(stale, fmt.Sprintf("%s (recorded %s ago)", g.Name, d.Round(time.Second)))
		}
		st.Gates = append(st.Gates, State{Gate: g, Open: open[g.Name], Age: d})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: cluster %q has no series for gate(s) %s: are the bundled rules of this version loaded?",
			ErrNoAnswer, cluster, strings.Join(missing, ", "))
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		return nil, fmt.Errorf("%w: gate data of cluster %q is stale (older than %s, two rule evaluation intervals): %s; is the rule evaluation or the exporter stuck?",
			ErrNoAnswer, cluster, limit, strings.Join(stale, ", "))
	}
	return st, nil
}
