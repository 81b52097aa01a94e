// Package gen builds the mailcluster Grafana dashboards with the Grafana
// Foundation SDK. Every panel, query, mapping and link lives here; the JSON
// files in dashboards/ are its output (see Files) and must never be edited
// by hand.
package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Stable identifiers shared by the three dashboards.
const (
	UIDWall    = "mailcluster-wall"
	UIDCluster = "mailcluster-cluster"
	UIDWindow  = "mailcluster-update-window"

	// DefaultRunbookBase is the default of the dashboards' constant
	// variable runbook_base: the directory every runbook link points into.
	// An air-gapped NOC regenerates the dashboards with its own copy of
	// docs/runbooks (dashgen -runbook-base URL).
	DefaultRunbookBase = "https://github.com/mailcluster/mailcluster_exporter/blob/main/docs/runbooks/"

	// RunbookVar is how every runbook link starts: the constant variable.
	RunbookVar = "${runbook_base}"

	// Tag shared by the dashboards; the dashboard links list every
	// dashboard carrying it.
	Tag = "mailcluster"

	// Colours of the status model (DESIGN §5): 0 gray, 1 green, 2 yellow, 3 red.
	colorGray   = "#808080"
	colorGreen  = "green"
	colorYellow = "yellow"
	colorRed    = "red"
	colorBlue   = "blue"
	// colorNoData marks a cluster whose facts vanished: its own colour, so
	// it never reads as a gray "switched off".
	colorNoData = "purple"
	// colorPending is a step of the update procedure not reached yet.
	colorPending = "#3d3d3d"
)

// Options change what Files generates.
type Options struct {
	// RunbookBase is the value of the constant variable runbook_base
	// (DefaultRunbookBase when empty).
	RunbookBase string
}

// File is one generated dashboard.
type File struct {
	Name string // file name inside dashboards/
	UID  string
	JSON []byte
}

// Files builds every dashboard and returns them in a stable order.
func Files(o Options) ([]File, error) {
	base := o.RunbookBase
	if base == "" {
		base = DefaultRunbookBase
	}
	builders := []struct {
		name string
		uid  string
		fn   func() (dashboard.Dashboard, error)
	}{
		{"mailcluster-wall.json", UIDWall, wallDashboard},
		{"mailcluster-cluster.json", UIDCluster, clusterDashboard},
		{"mailcluster-update-window.json", UIDWindow, windowDashboard},
	}
	var out []File
	for _, b := range builders {
		d, err := b.fn()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		numberPanels(&d)
		placeLinks(&d)
		for i, v := range d.Templating.List {
			if v.Name == "runbook_base" {
				d.Templating.List[i].Query = &dashboard.StringOrMap{String: ptr(base)}
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		out = append(out, File{Name: b.name, UID: b.uid, JSON: buf.Bytes()})
	}
	return out, nil
}

// placeLinks states where links go. The SDK defaults every link to the
// dashboard controls menu ("inControlsMenu"), where a kiosk hides them and
// an operator does not look; Grafana's other placement, the schema
// default, is above the panels, which is spelled by leaving the field out.
// Panel links take no placement at all; annotation toggles go above the
// panels too.
func placeLinks(d *dashboard.Dashboard) {
	for i := range d.Links {
		d.Links[i].Placement = nil
	}
	for i := range d.Annotations.List {
		d.Annotations.List[i].Placement = nil
	}
	clear := func(p *dashboard.Panel) {
		for i := range p.Links {
			p.Links[i].Placement = nil
		}
		if p.FieldConfig != nil {
			for i := range p.FieldConfig.Defaults.Links {
				p.FieldConfig.Defaults.Links[i].Placement = nil
			}
		}
	}
	for i := range d.Panels {
		switch p := d.Panels[i]; {
		case p.Panel != nil:
			clear(p.Panel)
		case p.RowPanel != nil:
			for j := range p.RowPanel.Panels {
				clear(&p.RowPanel.Panels[j])
			}
		}
	}
}

// numberPanels gives every panel (rows included) a stable id in layout order.
func numberPanels(d *dashboard.Dashboard) {
	id := uint32(1)
	for i := range d.Panels {
		p := &d.Panels[i]
		switch {
		case p.Panel != nil:
			p.Panel.Id = ptr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
			for j := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[j].Id = ptr(id)
			}
		}
		id++
	}
}

func ptr[T any](v T) *T { return &v }

// ds is the only datasource reference used anywhere: the ${datasource}
// variable. No dashboard hard-codes a datasource uid.
func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${datasource}")}
}

func pos(x, y, w, h uint32) dashboard.GridPos {
	return dashboard.GridPos{X: x, Y: y, W: w, H: h}
}

// promQ is what every query shares: the ${datasource} variable, a ref id,
// the expression (trimmed) and a legend.
func promQ(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(ds()).
		RefId(ref).
		Expr(strings.TrimSpace(expr)).
		LegendFormat(legend)
}

// instant is an instant query (stat, bar gauge and table panels show "now").
func instant(ref, expr, legend string) cog.Builder[variants.Dataquery] {
	return promQ(ref, expr, legend).Instant()
}

// rangeQ is a range query (time series, state timeline, status history).
func rangeQ(ref, expr, legend string) cog.Builder[variants.Dataquery] {
	return promQ(ref, expr, legend).Range()
}

// tableQ is an instant query in table format.
func tableQ(ref, expr string) cog.Builder[variants.Dataquery] {
	return promQ(ref, expr, "__auto").Format(prometheus.PromQueryFormatTable).Instant()
}

// mapping is one value -> text/colour entry.
type mapping struct {
	value string
	text  string
	color string
}

func mappings(ms ...mapping) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, m := range ms {
		opts[m.value] = dashboard.ValueMappingResult{Text: ptr(m.text), Color: ptr(m.color), Index: ptr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// statusModel maps the codes of the status model (0 gray, 1 green, 2 yellow,
// 3 red) to the given texts; extra mappings follow.
func statusModel(gray, green, yellow, red string, extra ...mapping) []dashboard.ValueMapping {
	ms := []mapping{
		{"0", gray, colorGray},
		{"1", green, colorGreen},
		{"2", yellow, colorYellow},
		{"3", red, colorRed},
	}
	return mappings(append(ms, extra...)...)
}

// Value mappings of the status model and the facts shown as states.
var (
	// mailcluster:redundancy_status:code (the Active Monitor's redundancy state).
	redundancyMappings = statusModel("REDUNDANCY OFF", "OK", "SYNCING", "RED")
	// mailcluster:service_status:code / mailcluster:virtual_service_status:code.
	serviceMappings = statusModel("STOPPED", "OK", "WARN", "DOWN")
	// Colour of one cause in the "why not green" panels (value = colour code).
	causeMappings = statusModel("OFF", "OK", "WARN", "RED")
	// roleExpr codes.
	roleMappings = mappings(
		mapping{"1", "ACTIVE", colorGreen},
		mapping{"2", "STANDBY", colorBlue},
		mapping{"3", "MASTER", colorGreen},
		mapping{"4", "SLAVE", colorBlue},
		mapping{"5", "OFFLINE", colorRed},
		mapping{"6", "UNKNOWN", colorRed},
	)
	// observedCodes codes.
	observedMappings = mappings(
		mapping{"11", "serving", colorGreen},
		mapping{"12", "alive", colorBlue},
		mapping{"13", "silent", colorRed},
	)
	// syncStateExpr codes.
	syncMappings = statusModel("DISABLED", "SYNCED", "SYNCING", "OUT OF SYNC",
		mapping{"4", "UNKNOWN", colorRed},
	)
	peerMappings = mappings(
		mapping{"0", "DOWN", colorRed},
		mapping{"1", "UP", colorGreen},
	)
	enabledMappings = mappings(
		mapping{"0", "OFF", colorGray},
		mapping{"1", "ON", colorGreen},
	)
	windowMappings = mappings(
		mapping{"0", "CLOSED", colorGray},
		mapping{"1", "OPEN", colorBlue},
	)
	restartMappings = mappings(
		mapping{"0", "no", colorGreen},
		mapping{"1", "RESTART REQUIRED", colorYellow},
	)
	sourceMappings = mappings(
		mapping{"0", "FAILED", colorRed},
		mapping{"1", "OK", colorGreen},
	)
	upMappings = mappings(
		mapping{"0", "STOPPED", colorGray},
		mapping{"1", "RUNNING", colorGreen},
	)
)

// thresholds builds absolute thresholds: base colour, then value/colour pairs.
func thresholds(base string, steps ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Value: nil, Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		s = append(s, dashboard.Threshold{Value: ptr(toFloat(steps[i])), Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("threshold value %v", v))
}

func thresholdsValue(base string, steps ...any) dashboard.ThresholdsConfig {
	t, err := thresholds(base, steps...).Build()
	if err != nil {
		panic(err)
	}
	return t
}

// fixedColor: colour every value with the thresholds (mappings still win).
func thresholdColor() *dashboard.FieldColorBuilder {
	return dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)
}

// link is a panel link.
func link(title, url string, blank bool) cog.Builder[dashboard.DashboardLink] {
	return dashboard.NewDashboardLinkBuilder(title).
		Type(dashboard.DashboardLinkTypeLink).
		Url(url).
		TargetBlank(blank)
}

// runbook links a panel to a runbook page (file name, or "" for the index).
func runbook(page string) cog.Builder[dashboard.DashboardLink] {
	title := "Runbooks"
	if page != "" {
		title = "Runbook: " + strings.TrimSuffix(page, ".md")
	}
	return link(title, RunbookVar+page, true)
}

// dashURL links to another mailcluster dashboard, keeping the datasource
// and the time range; extra is appended as query parameters.
func dashURL(uid, extra string) string {
	u := "/d/" + uid + "?${datasource:queryparam}&${__url_time_range}"
	if extra != "" {
		u += "&" + extra
	}
	return u
}

// dashboardLinks: one drop-down-free link per mailcluster dashboard (by tag),
// keeping variables and time.
func dashboardLinks() []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("Mail cluster dashboards").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).
			AsDropdown(false).
			IncludeVars(true).
			KeepTime(true),
		dashboard.NewDashboardLinkBuilder("Runbooks").
			Type(dashboard.DashboardLinkTypeLink).
			Icon("doc").
			Url(RunbookVar).
			TargetBlank(true),
	}
}

// runbookVar is the constant variable every runbook link starts with.
func runbookVar() cog.Builder[dashboard.VariableModel] {
	return dashboard.NewConstantVariableBuilder("runbook_base").
		Label("Runbook base URL").
		Description("Where docs/runbooks of mailcluster_exporter is served; regenerate with dashgen -runbook-base to point at an internal copy").
		Value(dashboard.StringOrMap{String: ptr(DefaultRunbookBase)})
}

func datasourceVar() cog.Builder[dashboard.VariableModel] {
	return dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Data source").
		Type("prometheus").
		Description("Prometheus that scrapes mailcluster_exporter and loads rules/mailcluster.rules.yml")
}

// queryVar is a label_values variable, refreshed with the time range.
func queryVar(name, label, description, q string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Description(description).
		Datasource(ds()).
		Query(dashboard.StringOrMap{String: ptr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
}

// withAll makes v multi-valued with an "All" option (any value), selected.
func withAll(v *dashboard.QueryVariableBuilder) *dashboard.QueryVariableBuilder {
	return v.Multi(true).IncludeAll(true).AllValue(".+").
		Current(dashboard.VariableOption{
			Selected: ptr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}

// clusterVar is the cluster picker. multi: the wall's multi-value variable
// with "All" (rows repeat per value); single-valued otherwise.
func clusterVar(multi bool) cog.Builder[dashboard.VariableModel] {
	v := queryVar("cluster", "Cluster",
		"Clusters from mailcluster_node_info (every configured node exports it)",
		"label_values(mailcluster_node_info, cluster)")
	if multi {
		v = withAll(v)
	}
	return v
}

func nodeVar() cog.Builder[dashboard.VariableModel] {
	return withAll(queryVar("node", "Node",
		"Nodes of the selected cluster; per-node panels repeat for each",
		`label_values(mailcluster_node_info{cluster="$cluster"}, node)`))
}

func row(title string, y uint32) *dashboard.RowBuilder {
	return dashboard.NewRowBuilder(title).GridPos(pos(0, y, 24, 1)).Datasource(ds())
}

// singleReduce: stat/bar gauge reduce to the last value of every series.
func lastNotNull() *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)
}

func hiddenLegend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().ShowLegend(false).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)
}

func tableLegend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).Calcs([]string{"lastNotNull", "max"})
}

func listLegend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)
}
