package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/mailcluster/mailcluster_exporter/tools/dashgen/dashq"
	"github.com/mailcluster/mailcluster_exporter/tools/dashgen/gen"
)

const (
	dashDir    = "../../dashboards"
	metricsDoc = "../../docs/metrics.md"
	rulesDir   = "../../rules"
)

func init() { plugins.RegisterDefaultPlugins() }

// strictUnmarshal validates raw with the SDK's strict unmarshaller
// (unknown fields, missing required fields and wrong types are errors, down
// to panel options, field config and Prometheus targets) and returns the
// decoded dashboard.
//
// SDK quirk (v0.0.18 to v0.0.22): on success its strict unmarshallers return an empty
// cog.BuildErrors inside a non-nil error interface, which its own callers
// take for a failure: errors are still reported correctly, but panels,
// targets and options of a *valid* dashboard are dropped from the result.
// So the strict pass only validates, and the dashboard we inspect is decoded
// with the SDK's regular (plugin-aware) unmarshaller.
// TestStrictValidationIsEffective proves the strict pass still rejects bad
// panels, options and targets.
func strictUnmarshal(d *dashboard.Dashboard, raw []byte) error {
	var strict dashboard.Dashboard
	if err := noErr(strict.UnmarshalJSONStrict(raw)); err != nil {
		return err
	}
	return json.Unmarshal(raw, d)
}

func noErr(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

// committed reads every *.json of dashboards/.
func committed(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dashDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	if len(out) == 0 {
		t.Fatalf("no dashboards in %s", dashDir)
	}
	return out
}

// The committed JSON is exactly what the generator produces: fails when
// someone edits the JSON by hand or changes the generator without
// regenerating (cd tools && go run ./dashgen -out ../dashboards).
func TestCommittedDashboardsAreGenerated(t *testing.T) {
	tmp := t.TempDir()
	if err := write(tmp, gen.Options{}); err != nil {
		t.Fatal(err)
	}
	want := committed(t)
	got, _ := filepath.Glob(filepath.Join(tmp, "*.json"))
	if len(got) != len(want) {
		t.Errorf("generator writes %d dashboards, dashboards/ holds %d", len(got), len(want))
	}
	for _, f := range got {
		name := filepath.Base(f)
		g, _ := os.ReadFile(f)
		w, ok := want[name]
		if !ok {
			t.Errorf("%s is generated but not committed: run `cd tools && go run ./dashgen -out ../dashboards`", name)
			continue
		}
		if !bytes.Equal(g, w) {
			t.Errorf("dashboards/%s differs from the generator's output (%s): do not edit the JSON by hand; run `cd tools && go run ./dashgen -out ../dashboards`", name, firstDiff(w, g))
		}
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: committed %q, generated %q", i+1, strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return "no line differs"
}

type panelInfo struct {
	p     *dashboard.Panel
	row   *dashboard.RowPanel
	title string
	id    uint32
	gp    *dashboard.GridPos
	ds    string
}

func allPanels(d *dashboard.Dashboard) []panelInfo {
	var out []panelInfo
	for _, pr := range d.Panels {
		switch {
		case pr.Panel != nil:
			p := pr.Panel
			pi := panelInfo{p: p, gp: p.GridPos}
			if p.Title != nil {
				pi.title = *p.Title
			}
			if p.Id != nil {
				pi.id = *p.Id
			}
			if p.Datasource != nil && p.Datasource.Uid != nil {
				pi.ds = *p.Datasource.Uid
			}
			out = append(out, pi)
		case pr.RowPanel != nil:
			r := pr.RowPanel
			pi := panelInfo{row: r, title: derefS(r.Title), id: r.Id, gp: r.GridPos}
			if r.Datasource != nil && r.Datasource.Uid != nil {
				pi.ds = *r.Datasource.Uid
			}
			out = append(out, pi)
			for i := range r.Panels {
				p := &r.Panels[i]
				pi := panelInfo{p: p, title: derefS(p.Title), id: derefU(p.Id), gp: p.GridPos}
				if p.Datasource != nil && p.Datasource.Uid != nil {
					pi.ds = *p.Datasource.Uid
				}
				out = append(out, pi)
			}
		}
	}
	return out
}

func derefS(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
func derefU(u *uint32) uint32 {
	if u == nil {
		return 0
	}
	return *u
}

var defaultTitles = map[string]bool{"": true, "panel title": true, "new panel": true, "row title": true, "new row": true}

// Every dashboard strictly unmarshals with the SDK and is well-formed.
func TestDashboardsStrictAndWellFormed(t *testing.T) {
	uids := map[string]string{}
	wantUIDs := map[string]string{
		"mailcluster-wall.json":          gen.UIDWall,
		"mailcluster-cluster.json":       gen.UIDCluster,
		"mailcluster-update-window.json": gen.UIDWindow,
	}
	files := committed(t)
	for name := range wantUIDs {
		if _, ok := files[name]; !ok {
			t.Errorf("dashboards/%s missing", name)
		}
	}
	for name, raw := range files {
		t.Run(name, func(t *testing.T) {
			if !json.Valid(raw) {
				t.Fatal("invalid JSON")
			}
			var d dashboard.Dashboard
			if err := strictUnmarshal(&d, raw); err != nil {
				t.Fatalf("strict SDK unmarshal: %v", err)
			}
			if derefS(d.Title) == "" {
				t.Error("no title")
			}
			uid := derefS(d.Uid)
			if uid == "" {
				t.Error("no uid")
			} else if other, dup := uids[uid]; dup {
				t.Errorf("uid %q also used by %s", uid, other)
			}
			uids[uid] = name
			if w, ok := wantUIDs[name]; ok && uid != w {
				t.Errorf("uid %q, want %q", uid, w)
			}
			if d.SchemaVersion == 0 {
				t.Error("no schemaVersion")
			}
			if len(d.Tags) != 1 || d.Tags[0] != gen.Tag {
				t.Errorf("tags %v, want [%s]", d.Tags, gen.Tag)
			}
			if d.Refresh == nil || *d.Refresh == "" {
				t.Error("no refresh")
			}
			if name == "mailcluster-wall.json" && derefS(d.Refresh) != "30s" {
				t.Errorf("wall refresh %q, want 30s", derefS(d.Refresh))
			}

			// Variables: a prometheus datasource variable named datasource,
			// every query variable on ${datasource}.
			var haveDS bool
			for _, v := range d.Templating.List {
				switch v.Type {
				case dashboard.VariableTypeDatasource:
					if v.Name == "datasource" && v.Query != nil && v.Query.String != nil && *v.Query.String == "prometheus" {
						haveDS = true
					}
				case dashboard.VariableTypeQuery:
					if v.Datasource == nil || derefS(v.Datasource.Uid) != "${datasource}" {
						t.Errorf("variable %s does not use ${datasource}", v.Name)
					}
				}
			}
			if !haveDS {
				t.Error("no prometheus datasource variable named datasource")
			}

			// Panels.
			ids := map[uint32]string{}
			panels := allPanels(&d)
			if len(panels) == 0 {
				t.Fatal("no panels")
			}
			for _, p := range panels {
				if defaultTitles[strings.ToLower(strings.TrimSpace(p.title))] {
					t.Errorf("panel %d has an empty or default title %q", p.id, p.title)
				}
				if p.id == 0 {
					t.Errorf("panel %q has no id", p.title)
				} else if other, dup := ids[p.id]; dup {
					t.Errorf("panel id %d used by %q and %q", p.id, other, p.title)
				}
				ids[p.id] = p.title
				if p.gp == nil || p.gp.W == 0 || p.gp.H == 0 || p.gp.X+p.gp.W > 24 {
					t.Errorf("panel %q: bad gridPos %+v", p.title, p.gp)
				}
				if p.ds != "${datasource}" {
					t.Errorf("panel %q: datasource %q, want ${datasource}", p.title, p.ds)
				}
				if p.p == nil {
					continue
				}
				for i, tg := range p.p.Targets {
					q, ok := tg.(*prometheus.Dataquery)
					if !ok {
						t.Errorf("panel %q target %d: %T, want a prometheus query", p.title, i, tg)
						continue
					}
					if q.Datasource == nil || derefS(q.Datasource.Uid) != "${datasource}" {
						t.Errorf("panel %q target %s does not use ${datasource}", p.title, derefS(q.RefId))
					}
					if strings.TrimSpace(q.Expr) == "" {
						t.Errorf("panel %q target %s: empty expr", p.title, derefS(q.RefId))
					}
				}
				if p.p.Type != "text" {
					if len(p.p.Targets) == 0 {
						t.Errorf("panel %q (%s) has no query", p.title, p.p.Type)
					}
					if p.p.FieldConfig == nil || derefS(p.p.FieldConfig.Defaults.Unit) == "" {
						t.Errorf("panel %q (%s) has no unit", p.title, p.p.Type)
					}
				}
				var runbook bool
				for _, l := range p.p.Links {
					if strings.HasPrefix(derefS(l.Url), gen.RunbookVar) {
						runbook = true
					}
				}
				if !runbook {
					t.Errorf("panel %q has no runbook link", p.title)
				}
			}
			checkNoOverlap(t, panels)
		})
	}
}

// checkNoOverlap: no two panels share a grid cell (rows repeat as units,
// so positions within the generated file must be disjoint).
func checkNoOverlap(t *testing.T, panels []panelInfo) {
	t.Helper()
	cells := map[[2]uint32]string{}
	for _, p := range panels {
		if p.gp == nil {
			continue
		}
		for x := p.gp.X; x < p.gp.X+p.gp.W; x++ {
			for y := p.gp.Y; y < p.gp.Y+p.gp.H; y++ {
				if other, ok := cells[[2]uint32{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at x=%d y=%d", other, p.title, x, y)
					return
				}
				cells[[2]uint32{x, y}] = p.title
			}
		}
	}
}

// No hard-coded datasource anywhere: every "datasource" object in the JSON
// (panels, targets, variables, annotations, rows) is ${datasource}.
func TestNoHardcodedDatasource(t *testing.T) {
	for name, raw := range committed(t) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					if k == "datasource" {
						m, ok := c.(map[string]any)
						if !ok || m["uid"] != "${datasource}" || m["type"] != "prometheus" {
							t.Errorf("%s: %s.datasource = %v, want {type: prometheus, uid: ${datasource}}", name, path, c)
						}
					}
					walk(path+"."+k, c)
				}
			case []any:
				for i, c := range x {
					walk(fmt.Sprintf("%s[%d]", path, i), c)
				}
			}
		}
		walk("$", v)
	}
}

// Value mappings of the status codes: 0 gray, 1 green, 2 yellow, 3 red, on
// every panel showing one of the recorded :code series.
func TestStatusCodeMappings(t *testing.T) {
	wantColor := map[string]string{"0": "#808080", "1": "green", "2": "yellow", "3": "red"}
	for name, raw := range committed(t) {
		var d dashboard.Dashboard
		if err := strictUnmarshal(&d, raw); err != nil {
			t.Fatal(err)
		}
		for _, p := range allPanels(&d) {
			if p.p == nil {
				continue
			}
			var usesCode, virtualOnly, wallState bool
			for _, tg := range p.p.Targets {
				e := tg.(*prometheus.Dataquery).Expr
				if strings.Contains(e, "timestamp(") {
					continue // the freshness watchdog reads when, not what
				}
				if strings.Contains(e, "_status:code") || strings.Contains(e, "mailcluster:status:code") {
					usesCode = true
					virtualOnly = !strings.Contains(e, "mailcluster:service_status:code") && !strings.Contains(e, "redundancy_status:code") && !strings.Contains(e, "mailcluster:status:code")
					wallState = wallState || strings.Contains(e, "last_over_time(mailcluster_node_info")
				}
			}
			if !usesCode {
				continue
			}
			found := map[string]string{}
			collect := func(ms []dashboard.ValueMapping) {
				for _, m := range ms {
					if m.ValueMap != nil {
						for k, r := range m.ValueMap.Options {
							found[k] = derefS(r.Color)
						}
					}
				}
			}
			collect(p.p.FieldConfig.Defaults.Mappings)
			for _, o := range p.p.FieldConfig.Overrides {
				if o.Matcher.Id == "byName" && o.Matcher.Options != "status" {
					continue // other columns of a table map other values
				}
				for _, prop := range o.Properties {
					if prop.Id == "mappings" {
						if ms, ok := prop.Value.([]dashboard.ValueMapping); ok {
							collect(ms)
						} else if b, err := json.Marshal(prop.Value); err == nil {
							var ms []dashboard.ValueMapping
							if json.Unmarshal(b, &ms) == nil {
								collect(ms)
							}
						}
					}
				}
			}
			if wallState {
				// The wall states (and the summary counts built from them):
				// every state in its colour, NO DATA in none of the others.
				if p.title == "Clusters" {
					continue // counts, coloured per category
				}
				for _, st := range gen.WallStates {
					if found[fmt.Sprint(st.Code)] != st.Color {
						t.Errorf("%s: panel %q maps %d (%s) to colour %q, want %q", name, p.title, st.Code, st.Word, found[fmt.Sprint(st.Code)], st.Color)
					}
					if st.Word == "NO DATA" {
						for _, o := range gen.WallStates {
							if o.Word != st.Word && o.Color == st.Color {
								t.Errorf("NO DATA shares its colour with %s", o.Word)
							}
						}
					}
				}
				continue
			}
			for code, c := range wantColor {
				if virtualOnly && code == "0" {
					continue
				}
				if found[code] != c {
					t.Errorf("%s: panel %q maps %s to colour %q, want %q", name, p.title, code, found[code], c)
				}
			}
		}
	}
}

// Each dashboard links to the two others (panel links or data links), and
// has the tag-based dashboards link.
func TestLinksBetweenDashboards(t *testing.T) {
	uids := []string{gen.UIDWall, gen.UIDCluster, gen.UIDWindow}
	files := committed(t)
	for name, raw := range files {
		var d dashboard.Dashboard
		if err := strictUnmarshal(&d, raw); err != nil {
			t.Fatal(err)
		}
		var tagLink bool
		for _, l := range d.Links {
			if l.Type == dashboard.DashboardLinkTypeDashboards && len(l.Tags) == 1 && l.Tags[0] == gen.Tag {
				tagLink = true
			}
		}
		if !tagLink {
			t.Errorf("%s: no dashboards link by tag %q", name, gen.Tag)
		}
		for _, uid := range uids {
			if uid == derefS(d.Uid) {
				continue
			}
			if !bytes.Contains(raw, []byte(`"/d/`+uid+`?`)) {
				t.Errorf("%s: no panel link to dashboard %s", name, uid)
			}
		}
	}
}

// Runbook links name a runbook the bundled alerts reference.
func TestRunbookLinksExist(t *testing.T) {
	alerts, err := os.ReadFile(filepath.Join(rulesDir, "mailcluster.alerts.yml"))
	if err != nil {
		t.Skip("no alerts file:", err)
	}
	known := map[string]bool{"": true}
	for _, m := range regexp.MustCompile(`docs/runbooks/([A-Za-z0-9_.-]+\.md)`).FindAllStringSubmatch(string(alerts), -1) {
		known[m[1]] = true
	}
	re := regexp.MustCompile(regexp.QuoteMeta(gen.RunbookVar) + `([A-Za-z0-9_.-]*)`)
	for name, raw := range committed(t) {
		for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
			if !known[m[1]] {
				t.Errorf("%s links runbook %s, which no alert in rules/mailcluster.alerts.yml references", name, m[1])
			}
		}
	}
}

// documentedMetrics: metric names from the tables of docs/metrics.md
// (rows like | `mailcluster_x` |).
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\|\\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\\s*\\|").FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	if len(out) < 10 {
		t.Fatalf("found only %d metrics in %s", len(out), metricsDoc)
	}
	return out
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Record string            `yaml:"record"`
			Alert  string            `yaml:"alert"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) []ruleFile {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	var out []ruleFile
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "alertmanager") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, rf)
	}
	return out
}

func recordedSeries(t *testing.T) map[string]bool {
	out := map[string]bool{}
	for _, rf := range readRules(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out
}

// Every query parses with Prometheus's parser (no experimental functions)
// and selects only documented metrics, recorded series, the listed
// node_exporter metrics, or ALERTS.
func TestQueriesParseAndUseKnownMetrics(t *testing.T) {
	qs, err := dashq.Queries(dashDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 30 {
		t.Fatalf("only %d queries found", len(qs))
	}
	allowed := map[string]string{"ALERTS": "Prometheus", "up": "Prometheus"}
	for m := range documentedMetrics(t) {
		allowed[m] = "docs/metrics.md"
	}
	recorded := recordedSeries(t)
	for m := range recorded {
		allowed[m] = "rules"
	}
	for _, m := range gen.NodeExporterMetrics {
		allowed[m] = "node_exporter"
	}
	// The contract series of DESIGN must be recorded by the rules.
	for _, m := range []string{"mailcluster:redundancy_status:code", "mailcluster:redundancy_status:reason", "mailcluster:service_status:code", "mailcluster:virtual_service_status:code", "mailcluster:status:code", "mailcluster:update_gate:ok"} {
		if !recorded[m] {
			t.Errorf("rules do not record %s", m)
		}
	}
	p := parser.NewParser(parser.Options{})
	used := map[string]bool{}
	for _, q := range qs {
		expr, err := p.ParseExpr(q.Expr)
		if err != nil {
			t.Errorf("%s / %s %s: %v\n%s", q.File, q.Panel, q.RefID, err, q.Expr)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			name := vs.Name
			if name == "" {
				t.Errorf("%s / %s: selector without a metric name: %s", q.File, q.Panel, vs)
				return nil
			}
			used[name] = true
			if _, ok := allowed[name]; !ok {
				t.Errorf("%s / %s %s: metric %s is neither documented in docs/metrics.md, recorded in rules/, a listed node_exporter metric nor ALERTS", q.File, q.Panel, q.RefID, name)
			}
			return nil
		})
	}
	for _, m := range gen.NodeExporterMetrics {
		if !used[m] {
			t.Errorf("node_exporter metric %s is listed but unused", m)
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d queries, %d metrics: %s", len(qs), len(names), strings.Join(names, " "))
}

// The checklist shows every gate the rules record, in the rules' order.
func TestGatesMatchRules(t *testing.T) {
	order := map[string]string{}
	for _, rf := range readRules(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record == "mailcluster:update_gate:ok" {
					order[r.Labels["gate"]] = r.Labels["order"]
				}
			}
		}
	}
	if len(order) != len(gen.Gates) {
		t.Errorf("rules record %d gates %v, the dashboard shows %d", len(order), order, len(gen.Gates))
	}
	for i, g := range gen.Gates {
		o, ok := order[g.Name]
		if !ok {
			t.Errorf("gate %s is not recorded by the rules", g.Name)
			continue
		}
		if o != fmt.Sprint(i+1) {
			t.Errorf("gate %s: rules order %q, dashboard position %d", g.Name, o, i+1)
		}
	}
}

// The wall is a kiosk: one screen, nothing repeats or scrolls, no legends
// (stat tiles and one state timeline), every panel inside 1080p (36 grid
// rows of 30 px), and the multi-value $cluster with All.
func TestWallIsKiosk(t *testing.T) {
	raw := committed(t)["mailcluster-wall.json"]
	var d dashboard.Dashboard
	if err := strictUnmarshal(&d, raw); err != nil {
		t.Fatal(err)
	}
	for _, p := range allPanels(&d) {
		if p.row != nil {
			t.Errorf("wall row %q: a kiosk cannot scroll or expand rows", p.title)
			continue
		}
		if p.p.Repeat != nil {
			t.Errorf("wall panel %q repeats", p.title)
		}
		if p.p.Type != "stat" && p.p.Type != "state-timeline" {
			t.Errorf("wall panel %q is a %s; the wall uses stat tiles and one state timeline", p.title, p.p.Type)
		}
		if p.gp.Y+p.gp.H > 36 {
			t.Errorf("wall panel %q ends at grid row %d, below a 1080p screen (36)", p.title, p.gp.Y+p.gp.H)
		}
	}
	for _, v := range d.Templating.List {
		if v.Name == "cluster" && (v.Multi == nil || !*v.Multi || v.IncludeAll == nil || !*v.IncludeAll) {
			t.Error("wall $cluster must be multi-value with All")
		}
	}
}

// Links are placed explicitly: no link sits in the controls menu (the
// SDK's default), every runbook link starts with the constant variable
// runbook_base, and every data link that puts a label into a URL
// percent-encodes it.
func TestLinkConventions(t *testing.T) {
	for name, raw := range committed(t) {
		if bytes.Contains(raw, []byte(`"placement": "inControlsMenu"`)) {
			t.Errorf("%s: a link has a placement (controls menu); links belong above the panels", name)
		}
		if bytes.Contains(raw, []byte("github.com/mailcluster/mailcluster_exporter/blob/main/docs/runbooks/M")) {
			t.Errorf("%s: a runbook link is hard-coded instead of using ${runbook_base}", name)
		}
		for _, m := range regexp.MustCompile(`var-[a-z]+=\$\{__field\.labels\.[a-z]+(:[a-z]+)?\}`).FindAllStringSubmatch(string(raw), -1) {
			if m[1] != ":percentencode" {
				t.Errorf("%s: data link %s does not percent-encode the label", name, m[0])
			}
		}
		var d dashboard.Dashboard
		if err := strictUnmarshal(&d, raw); err != nil {
			t.Fatal(err)
		}
		var constant bool
		for _, v := range d.Templating.List {
			if v.Name == "runbook_base" && v.Type == dashboard.VariableTypeConstant && v.Query != nil && derefS(v.Query.String) == gen.DefaultRunbookBase {
				constant = true
			}
		}
		if !constant {
			t.Errorf("%s: no constant variable runbook_base = %s", name, gen.DefaultRunbookBase)
		}
	}
}

// Rows after the first of the cluster detail start collapsed, except the
// two an operator needs first (services now, history).
func TestSecondaryRowsCollapsed(t *testing.T) {
	var d dashboard.Dashboard
	if err := strictUnmarshal(&d, committed(t)["mailcluster-cluster.json"]); err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{"Redundancy (Active Monitor)": true, "Services now": true, "History: failovers, sync, services": true}
	var collapsed int
	for _, p := range d.Panels {
		if p.RowPanel == nil {
			continue
		}
		title := derefS(p.RowPanel.Title)
		if open[title] == p.RowPanel.Collapsed {
			t.Errorf("row %q: collapsed %v", title, p.RowPanel.Collapsed)
		}
		if p.RowPanel.Collapsed {
			collapsed++
			if len(p.RowPanel.Panels) == 0 {
				t.Errorf("collapsed row %q holds no panels", title)
			}
		}
	}
	if collapsed == 0 {
		t.Error("no collapsed row")
	}
}

// The strict pass must not be vacuous: an unknown field in the dashboard, a
// panel, its options or a target, a wrongly typed option or a missing
// required field fails. (fieldConfig.defaults other than "custom" is decoded
// leniently by the SDK; TestStatusCodeMappings checks the mappings.)
func TestStrictValidationIsEffective(t *testing.T) {
	raw := committed(t)["mailcluster-wall.json"]
	var d dashboard.Dashboard
	if err := strictUnmarshal(&d, raw); err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(m map[string]any){
		"dashboard field": func(m map[string]any) { m["bogus"] = 1 },
		"panel field":     func(m map[string]any) { panel0(m)["bogus"] = 1 },
		"panel options":   func(m map[string]any) { panel0(m)["options"].(map[string]any)["bogus"] = 1 },
		"options type":    func(m map[string]any) { panel0(m)["options"].(map[string]any)["colorMode"] = 3 },
		"target field":    func(m map[string]any) { panel0(m)["targets"].([]any)[0].(map[string]any)["bogus"] = 1 },
		"gridPos missing": func(m map[string]any) { delete(panel0(m)["gridPos"].(map[string]any), "w") },
	}
	for name, mutate := range mutations {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		b, _ := json.Marshal(m)
		var d dashboard.Dashboard
		if err := strictUnmarshal(&d, b); err == nil {
			t.Errorf("%s: strict unmarshal accepted the mutated dashboard", name)
		}
	}
}

func panel0(m map[string]any) map[string]any { return m["panels"].([]any)[0].(map[string]any) }
