package systems_test

// Seed procedures as executable walks: each step of an update procedure is
// collected from the real sources and probes (the exporters on their
// nodes, loopback servers for the boxes), the steps are laid end to end
// on promtool's clock (10 minutes each), and the bundled rules must give,
// at the end of every step, exactly the gates listed as open, exactly the
// alerts listed as firing, and the listed wall tile and redundancy colour.
// Deliberate wrong steps branch off the procedure and must turn the panel
// red or raise a procedure alert.
//
// The step tables in docs/systems/*-steps.md are generated from the walks
// (`go test ./systems -run TestWalk -update`) and compared on every run, so
// the documentation says what the tests assert.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/systems/*-steps.md from the walks")

const (
	walkStart   = 3 * time.Hour // the first step starts here on promtool's clock (room for stale files)
	stepLength  = 10            // minutes (= samples at 1m) per step
	walkDocsDir = "../docs/systems"
)

// stepEnv is what a step's setup gets: the test (listeners close when the
// step's subtest ends) and the step's start on promtool's clock, for file
// times (a version file written "now").
type stepEnv struct {
	t  *testing.T
	At time.Time
}

// file writes content into a fresh file with mtime m.
func (e stepEnv) file(name, content string, m time.Time) string {
	e.t.Helper()
	p := filepath.Join(e.t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chtimes(p, m, m); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// step is one operator action and what the panel must show after it.
type step struct {
	ID     string // the seed's step number, e.g. "STEP1-1" or "2"
	Box    string // where the action happens
	Action string
	Unlock string // the gate this step waits for ("" none)
	Setup  func(e stepEnv) []exporterRun
	Open   []string // gates that are 1 after the step (the others 0)
	Alerts []string // alerts firing after the step, besides MailclusterUpdateWindowOpen
	Status int      // mailcluster:status:code (wall tile)
	Redund int      // mailcluster:redundancy_status:code
	Note   string   // why, for the table
}

// branch is a deliberate wrong turn: the procedure's first From steps,
// then Steps.
type branch struct {
	Name  string
	From  int
	Steps []step
}

type walk struct {
	Name    string // docs/systems/<Name>-steps.md
	Title   string
	Seed    string // the seed document and what it prescribes
	Cluster string
	Steps   []step
	Wrong   []branch
}

var colourNames = map[int]string{0: "gray", 1: "green", 2: "yellow", 3: "red"}

// stepSamples is what one step's exporters exported.
type stepSamples map[string]float64 // series (with labels) -> value

func collectStep(t *testing.T, s step, slot int) stepSamples {
	t.Helper()
	out := stepSamples{}
	t.Run(strings.ReplaceAll(s.ID, " ", "_"), func(t *testing.T) {
		env := stepEnv{t: t, At: time.Unix(0, 0).Add(walkStart + time.Duration(slot*stepLength)*time.Minute)}
		for _, r := range s.Setup(env) {
			r.Window, r.WindowEnd = true, env.At.Add(24*time.Hour)
			for _, smp := range collect(t, r) {
				key := smp.String()
				if _, dup := out[key]; dup {
					t.Fatalf("series exported twice: %s", key)
				}
				out[key] = smp.Value
			}
		}
	})
	return out
}

// timeline lays steps end to end and checks every step from `check` on.
func timelineTest(name string, cluster string, samples []stepSamples, steps []step, check int) ruleTest {
	keys := map[string]bool{}
	for _, ss := range samples {
		for k := range ss {
			keys[k] = true
		}
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	test := ruleTest{Name: name, Interval: "1m"}
	for _, k := range names {
		var b strings.Builder
		fmt.Fprintf(&b, "_x%d", int(walkStart/time.Minute))
		present := false
		for _, ss := range samples {
			v, ok := ss[k]
			switch {
			case ok:
				fmt.Fprintf(&b, " %sx%d", strconv.FormatFloat(v, 'g', -1, 64), stepLength-1)
			case present:
				fmt.Fprintf(&b, " stale _x%d", stepLength-1)
			default:
				fmt.Fprintf(&b, " _x%d", stepLength)
			}
			present = ok
		}
		test.InputSeries = append(test.InputSeries, inputSeries{Series: k, Values: b.String()})
	}
	for i := check; i < len(steps); i++ {
		s := steps[i]
		at := fmt.Sprintf("%dm", int(walkStart/time.Minute)+i*stepLength+stepLength-1)
		open := map[string]bool{}
		for _, g := range s.Open {
			open[g] = true
		}
		var gateWant []wantSample
		for n, g := range gateOrder {
			v := 0.0
			if open[g] {
				v = 1
			}
			gateWant = append(gateWant, wantSample{Labels: fmt.Sprintf(`mailcluster:update_gate:ok{cluster=%q,gate=%q,order="%d"}`, cluster, g, n+1), Value: v})
		}
		alertWant := []wantSample{}
		for _, a := range s.Alerts {
			alertWant = append(alertWant, wantSample{Labels: fmt.Sprintf(`{alertname=%q}`, a), Value: 1})
		}
		test.PromQLExprTest = append(test.PromQLExprTest,
			promqlExprTst{Expr: fmt.Sprintf(`mailcluster:update_gate:ok{cluster=%q}`, cluster), EvalTime: at, ExpSamples: gateWant},
			promqlExprTst{Expr: fmt.Sprintf(`group by(alertname)(ALERTS{alertstate="firing",alertname!="MailclusterUpdateWindowOpen",cluster=%q})`, cluster), EvalTime: at, ExpSamples: alertWant},
			promqlExprTst{Expr: fmt.Sprintf(`mailcluster:status:code{cluster=%q}`, cluster), EvalTime: at,
				ExpSamples: []wantSample{{Labels: fmt.Sprintf(`mailcluster:status:code{cluster=%q}`, cluster), Value: float64(s.Status)}}},
			promqlExprTst{Expr: fmt.Sprintf(`mailcluster:redundancy_status:code{cluster=%q}`, cluster), EvalTime: at,
				ExpSamples: []wantSample{{Labels: fmt.Sprintf(`mailcluster:redundancy_status:code{cluster=%q}`, cluster), Value: float64(s.Redund)}}},
		)
	}
	return test
}

// run collects every step, checks the procedure and its wrong turns with
// promtool, and writes or compares the generated step table.
func (w walk) run(t *testing.T) {
	t.Helper()
	tool := promtool(t)
	for _, s := range w.Steps {
		for _, g := range s.Open {
			if _, ok := gates()[g]; !ok {
				t.Fatalf("step %s: unknown gate %s", s.ID, g)
			}
		}
	}
	var main []stepSamples
	for i, s := range w.Steps {
		main = append(main, collectStep(t, s, i))
	}
	tests := []ruleTest{timelineTest(w.Name, w.Cluster, main, w.Steps, 0)}
	for _, b := range w.Wrong {
		samples := append([]stepSamples{}, main[:b.From]...)
		steps := append([]step{}, w.Steps[:b.From]...)
		for j, s := range b.Steps {
			samples = append(samples, collectStep(t, s, b.From+j))
			steps = append(steps, s)
		}
		tests = append(tests, timelineTest(w.Name+" / wrong: "+b.Name, w.Cluster, samples, steps, b.From))
	}
	file := ruleTestFile{
		RuleFiles:          []string{abs(t, rulesFile), abs(t, alertsFile)},
		EvaluationInterval: "1m",
		GroupEvalOrder:     []string{"mailcluster.rules", "mailcluster.alerts"},
		Tests:              tests,
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), w.Name+"_walk.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "test", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules %s: %v\n%s", path, err, out)
	}
	w.doc(t)
}

func gateList(open []string) string {
	if len(open) == 0 {
		return "—"
	}
	set := map[string]bool{}
	for _, g := range open {
		set[g] = true
	}
	var out []string
	for i, g := range gateOrder {
		if set[g] {
			out = append(out, fmt.Sprintf("%d `%s`", i+1, g))
		}
	}
	return strings.Join(out, ", ")
}

func alertList(alerts []string) string {
	if len(alerts) == 0 {
		return "—"
	}
	var out []string
	for _, a := range alerts {
		out = append(out, "`"+a+"`")
	}
	return strings.Join(out, ", ")
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

func unlockCell(g string) string {
	if g == "" {
		return "—"
	}
	for i, o := range gateOrder {
		if o == g {
			return fmt.Sprintf("%d `%s`", i+1, g)
		}
	}
	return "`" + g + "`"
}

func stepRows(b *bytes.Buffer, steps []step) {
	fmt.Fprintln(b, "| step | box | action | waits for gate | gates open after it | alerts firing | tile / redundancy | what the panel says |")
	fmt.Fprintln(b, "|---|---|---|---|---|---|---|---|")
	for _, s := range steps {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s / %s | %s |\n", cell(s.ID), cell(s.Box), cell(s.Action), unlockCell(s.Unlock),
			gateList(s.Open), alertList(s.Alerts), colourNames[s.Status], colourNames[s.Redund], cell(s.Note))
	}
}

// doc renders the walk as markdown and writes it (-update) or compares it.
func (w walk) doc(t *testing.T) {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s: the procedure step by step\n\n", w.Title)
	fmt.Fprintf(&b, "<!-- Generated by `go test ./systems -run %s -update` from the walk of that test in systems/. Do not edit: change the walk. -->\n\n", t.Name())
	fmt.Fprintf(&b, "%s\n\n", w.Seed)
	fmt.Fprintln(&b, "Every row is asserted by the test: after the step, exactly these gates are open (the other of the nine are shut), exactly these alerts fire (besides `MailclusterUpdateWindowOpen`; the window is open throughout, so critical alerts are held back), and the wall tile and the redundancy state have these colours. Each step lasts 10 minutes in the test; alerts with a longer `for:` do not show.")
	fmt.Fprintln(&b)
	stepRows(&b, w.Steps)
	if len(w.Wrong) > 0 {
		fmt.Fprintf(&b, "\n## Wrong steps\n\nEach branches off the procedure after the step named, and must turn the panel red or raise a procedure alert.\n")
		for _, br := range w.Wrong {
			after := "the start"
			if br.From > 0 {
				after = "step " + w.Steps[br.From-1].ID
			}
			fmt.Fprintf(&b, "\n### %s (after %s)\n\n", br.Name, after)
			stepRows(&b, br.Steps)
		}
	}
	path := filepath.Join(walkDocsDir, w.Name+"-steps.md")
	if *updateDocs {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(have, b.Bytes()) {
		t.Errorf("%s is not what the walk generates (run `go test ./systems -run %s -update` and check the diff): %v", path, t.Name(), err)
	}
}

// checkWrongTurns enforces the rule of a wrong step: its last step turns
// the panel red or raises a procedure alert.
func (w walk) checkWrongTurns(t *testing.T) {
	t.Helper()
	if len(w.Wrong) == 0 {
		t.Errorf("walk %s has no deliberate wrong step", w.Name)
	}
	for _, b := range w.Wrong {
		last := b.Steps[len(b.Steps)-1]
		if last.Status != 3 && len(last.Alerts) == 0 {
			t.Errorf("wrong turn %q ends neither red nor with an alert", b.Name)
		}
	}
}
