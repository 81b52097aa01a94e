package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// sample is one series of a fake query answer.
type sample struct {
	labels map[string]string
	value  float64
}

// fakeProm is a Prometheus HTTP API on loopback that answers the gate
// queries from its fields and every other query from facts (matched by
// substring; an unmatched query has an empty answer).
type fakeProm struct {
	mu        sync.Mutex
	cluster   string
	gates     map[string]float64 // absent gate: no series
	age       float64            // seconds since the gates were recorded
	interval  float64            // rule group interval; 0: /api/v1/rules fails
	facts     map[string][]sample
	queryErr  bool // answer every query with a 422 bad_data error
	factsErr  bool // answer the fact queries (not the gates) with an error
	queries   int
	onQuery   func(f *fakeProm) // called (locked) before each gate query
	wantAuth  string            // expected Authorization header, if set
	authFails int
}

func newFake(cluster string) *fakeProm {
	f := &fakeProm{cluster: cluster, gates: map[string]float64{}, age: 5, interval: 15, facts: map[string][]sample{}}
	for _, g := range Gates() {
		f.gates[g.Name] = 1
	}
	return f
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wantAuth != "" && r.Header.Get("Authorization") != f.wantAuth {
		f.authFails++
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v1/rules":
		if f.interval == 0 {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"status":"success","data":{"groups":[{"name":"mailcluster.rules","file":"r.yml","interval":%g,"rules":[
			{"type":"recording","name":"mailcluster:threshold:cert_expiry_days","query":"vector(14)","health":"ok"},
			{"type":"recording","name":"%s","query":"x","health":"ok","labels":{"gate":"services_stopped"}}]}]}}`, f.interval, GateMetric)
	case "/api/v1/query":
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := r.Form.Get("query")
		f.queries++
		isGate := strings.Contains(q, GateMetric)
		if f.queryErr || (f.factsErr && !isGate) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
			return
		}
		writeVector(w, f.answer(q))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeProm) answer(q string) []sample {
	switch {
	case q == "time() - timestamp("+gateQuery(f.cluster)+")":
		return f.gateSamples(func(float64) float64 { return f.age })
	case q == gateQuery(f.cluster):
		if f.onQuery != nil {
			f.onQuery(f)
		}
		return f.gateSamples(func(v float64) float64 { return v })
	}
	// Longest key first, so that "min by(node)(x" and "x" do not collide.
	keys := make([]string, 0, len(f.facts))
	for k := range f.facts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		if strings.Contains(q, k) {
			return f.facts[k]
		}
	}
	return nil
}

func (f *fakeProm) gateSamples(val func(float64) float64) []sample {
	var out []sample
	for _, g := range Gates() {
		v, ok := f.gates[g.Name]
		if !ok {
			continue
		}
		out = append(out, sample{map[string]string{"cluster": f.cluster, "gate": g.Name, "order": fmt.Sprint(g.Order)}, val(v)})
	}
	return out
}

func writeVector(w http.ResponseWriter, ss []sample) {
	type res struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	out := []res{}
	now := float64(time.Now().Unix())
	for _, s := range ss {
		out = append(out, res{s.labels, [2]any{now, fmt.Sprint(s.value)}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": out}})
}

func l(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// runGate runs a gate command line the way main does.
func runGate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	app := kingpin.New("mailcluster_exporter", "")
	cmds := AddCommands(app)
	var out, errb bytes.Buffer
	app.UsageWriter(&errb)
	app.ErrorWriter(&errb)
	cmd, err := app.Parse(args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	code, ok := cmds.Run(context.Background(), cmd, &out, &errb)
	if !ok {
		t.Fatalf("%v: not a gate command", args)
	}
	return code, out.String(), errb.String()
}

// syncingFacts: node-a active, node-b standby still syncing 312 items.
func syncingFacts(f *fakeProm) {
	f.gates["services_stopped"] = 0
	f.gates["redundancy_disabled"] = 0
	f.gates["sync_complete"] = 0
	f.gates["services_running"] = 0
	f.facts["group by(node, preferred, kind)(mailcluster_node_info"] = []sample{
		{l("node", "node-a", "preferred", "true", "kind", "active_standby"), 1},
		{l("node", "node-b", "preferred", "false", "kind", "active_standby"), 1},
	}
	f.facts["group by(service)(mailcluster_service_info"] = []sample{{l("service", "smtp"), 1}}
	f.facts["max by(node, service)(mailcluster_service_up"] = []sample{
		{l("node", "node-a", "service", "smtp"), 0}, {l("node", "node-b", "service", "smtp"), 0},
	}
	f.facts["max by(service)(mailcluster_virtual_service_up"] = []sample{{l("service", "smtp"), 0}}
	f.facts["max by(node)(mailcluster_redundancy_enabled"] = []sample{{l("node", "node-a"), 1}, {l("node", "node-b"), 1}}
	f.facts["min by(node)(mailcluster_redundancy_enabled"] = []sample{{l("node", "node-a"), 1}, {l("node", "node-b"), 1}}
	f.facts["mailcluster:node_role:resolved"] = []sample{{l("node", "node-a", "role", "active"), 1}, {l("node", "node-b", "role", "standby"), 1}}
	f.facts["mailcluster:node_active:bool"] = []sample{{l("node", "node-a"), 1}}
	f.facts["max by(node, state)(mailcluster_sync_state"] = []sample{{l("node", "node-a", "state", "synced"), 1}, {l("node", "node-b", "state", "syncing"), 1}}
	f.facts["max by(node, unit)(mailcluster_sync_pending"] = []sample{{l("node", "node-b", "unit", "items"), 312}}
	f.facts["mailcluster:redundancy_status:reason"] = []sample{{l("reason", "syncing"), 1}}
}

func serve(t *testing.T, f *fakeProm) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStatusListsGatesAndExplainsClosedOnes(t *testing.T) {
	f := newFake("kp")
	syncingFacts(f)
	code, out, errOut := runGate(t, "gate", "status", "--prometheus.url="+serve(t, f), "--cluster=kp")
	if code != ExitOpen {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var gateLines []string
	for _, ln := range lines {
		if len(ln) > 2 && ln[0] >= '1' && ln[0] <= '9' && ln[1] == ' ' {
			gateLines = append(gateLines, ln)
		}
	}
	if len(gateLines) != 9 {
		t.Fatalf("want 9 gate lines in order, got %d:\n%s", len(gateLines), out)
	}
	for i, g := range Gates() {
		if !strings.HasPrefix(gateLines[i], fmt.Sprintf("%d ", g.Order)) || !strings.Contains(gateLines[i], " "+g.Name+" ") ||
			!strings.Contains(gateLines[i], g.Unlocks) {
			t.Errorf("line %d = %q; want gate %d %s → %s", i, gateLines[i], g.Order, g.Name, g.Unlocks)
		}
	}
	for _, want := range []string{
		"1 ✘ services_stopped", "      node-a: redundancy enabled", "      node-b: sync syncing, 312 items pending",
		"5 ✔ roles_restored", "6 ✘ sync_complete", "7 ✔ early_start_ok", "8 ✘ services_running",
		"      node-a (active): smtp down", "      virtual address: smtp down", "9 ✔ restart_flag_clear",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	// services_stopped is closed by the gated services' state; here every
	// node reports smtp down, so nothing in the facts holds it: say so.
	if !strings.Contains(out, "the raw facts show no cause") {
		t.Errorf("a closed gate without a cause in the facts must say so:\n%s", out)
	}
}

func TestWaitExitsWhenTheGateOpens(t *testing.T) {
	f := newFake("kp")
	syncingFacts(f)
	polls := 0
	f.onQuery = func(f *fakeProm) {
		polls++
		if polls == 3 {
			f.gates["sync_complete"] = 1
		}
	}
	code, out, errOut := runGate(t, "gate", "wait", "--prometheus.url="+serve(t, f), "--cluster=kp", "--gate=sync_complete",
		"--timeout=1m", "--poll-interval=10ms")
	if code != ExitOpen || !strings.Contains(out, "gate sync_complete of cluster kp is open") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if polls != 3 {
		t.Errorf("opened after %d polls, want 3 (the first poll that sees it)", polls)
	}
	if !strings.Contains(errOut, "node-b: sync syncing, 312 items pending") {
		t.Errorf("the first closed poll should say what holds the gate: %q", errOut)
	}
}

func TestWaitTimesOutWithTheReason(t *testing.T) {
	f := newFake("kp")
	syncingFacts(f)
	code, out, errOut := runGate(t, "gate", "wait", "--prometheus.url="+serve(t, f), "--cluster=kp", "--gate=sync_complete",
		"--timeout=50ms", "--poll-interval=10ms")
	if code != ExitClosed || out != "" {
		t.Fatalf("exit %d (want %d), stdout %q", code, ExitClosed, out)
	}
	if !strings.Contains(errOut, "gate sync_complete of cluster kp still closed after") ||
		!strings.Contains(errOut, "\n  node-b: sync syncing, 312 items pending\n") {
		t.Errorf("stderr %q", errOut)
	}
}

// Every way of not knowing is "no", never "go", for both commands.
func TestNoTrustworthyAnswer(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	cases := []struct {
		name  string
		setup func(f *fakeProm)
		url   string
		want  string
	}{
		{name: "unreachable", url: closedURL, want: "connection refused"},
		{name: "query error", setup: func(f *fakeProm) { f.queryErr = true }, want: "parse error"},
		{name: "empty result", setup: func(f *fakeProm) { f.gates = map[string]float64{} }, want: `no mailcluster:update_gate:ok series for cluster "kp"`},
		{name: "one gate missing", setup: func(f *fakeProm) { delete(f.gates, "restart_flag_clear") }, want: "no series for gate(s) restart_flag_clear"},
		{name: "stale: older than two rule intervals", setup: func(f *fakeProm) { f.age = 31 }, want: "stale (older than 30s"},
		{name: "stale: default interval when /api/v1/rules fails", setup: func(f *fakeProm) { f.interval, f.age = 0, 121 }, want: "stale (older than 2m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("kp")
			if tc.setup != nil {
				tc.setup(f)
			}
			url := tc.url
			if url == "" {
				url = serve(t, f)
			}
			code, out, errOut := runGate(t, "gate", "wait", "--prometheus.url="+url, "--cluster=kp", "--gate=services_stopped",
				"--timeout=30ms", "--poll-interval=10ms")
			if code != ExitNoAnswer || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("wait: exit %d (want %d), stdout %q, stderr %q (want %q)", code, ExitNoAnswer, out, errOut, tc.want)
			}
			code, out, errOut = runGate(t, "gate", "status", "--prometheus.url="+url, "--cluster=kp")
			if code != ExitNoAnswer || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("status: exit %d (want %d), stdout %q, stderr %q (want %q)", code, ExitNoAnswer, out, errOut, tc.want)
			}
		})
	}
}

func TestFreshWithinTwoIntervals(t *testing.T) {
	f := newFake("kp")
	f.age = 29 // interval 15s: limit 30s
	code, _, errOut := runGate(t, "gate", "wait", "--prometheus.url="+serve(t, f), "--cluster=kp", "--gate=services_stopped", "--timeout=0s")
	if code != ExitOpen {
		t.Errorf("exit %d, %q", code, errOut)
	}
	f.age = 100
	code, _, errOut = runGate(t, "gate", "wait", "--prometheus.url="+serve(t, f), "--cluster=kp", "--gate=services_stopped",
		"--timeout=0s", "--gate.stale-after=2m")
	if code != ExitOpen {
		t.Errorf("--gate.stale-after=2m, age 100s: exit %d, %q", code, errOut)
	}
}

func TestUnknownGate(t *testing.T) {
	f := newFake("kp")
	code, _, errOut := runGate(t, "gate", "wait", "--prometheus.url="+serve(t, f), "--cluster=kp", "--gate=sync_done")
	if code != ExitUsage || !strings.Contains(errOut, `unknown gate "sync_done"; the gates are services_stopped,`) {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthAndTLS(t *testing.T) {
	f := newFake("kp")
	srv := httptest.NewTLSServer(f)
	defer srv.Close()
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	token := writeFile(t, "token", "s3cret-token\n")
	args := []string{"gate", "wait", "--prometheus.url=" + srv.URL, "--cluster=kp", "--gate=services_stopped", "--timeout=0s"}

	f.wantAuth = "Bearer s3cret-token"
	code, _, errOut := runGate(t, append(args, "--prometheus.tls.ca-file="+ca, "--prometheus.bearer-token-file="+token)...)
	if code != ExitOpen {
		t.Errorf("bearer token over verified TLS: exit %d, %q", code, errOut)
	}
	// Without the CA the certificate is not trusted: no answer, and the
	// insecure mode is off unless asked for.
	code, _, errOut = runGate(t, append(args, "--prometheus.bearer-token-file="+token)...)
	if code != ExitNoAnswer || !strings.Contains(errOut, "certificate") {
		t.Errorf("untrusted certificate: exit %d, %q", code, errOut)
	}
	if strings.Contains(errOut, "s3cret") {
		t.Errorf("the token leaks into the error: %q", errOut)
	}

	f.wantAuth = "Basic " + "YWRtaW46cGFzcw==" // admin:pass
	pw := writeFile(t, "pw", "pass\n")
	code, _, errOut = runGate(t, append(args, "--prometheus.tls.ca-file="+ca,
		"--prometheus.basic-auth.username=admin", "--prometheus.basic-auth.password-file="+pw)...)
	if code != ExitOpen {
		t.Errorf("basic auth: exit %d, %q", code, errOut)
	}
	cfg := writeFile(t, "http.yml", fmt.Sprintf("basic_auth:\n  username: admin\n  password_file: %s\ntls_config:\n  ca_file: %s\n", pw, ca))
	code, _, errOut = runGate(t, append(args, "--prometheus.http-config.file="+cfg)...)
	if code != ExitOpen {
		t.Errorf("http config file: exit %d, %q", code, errOut)
	}
	code, _, errOut = runGate(t, append(args, "--prometheus.http-config.file="+cfg, "--prometheus.tls.ca-file="+ca)...)
	if code != ExitUsage || !strings.Contains(errOut, "excludes") {
		t.Errorf("file and flags together: exit %d, %q", code, errOut)
	}
	code, _, errOut = runGate(t, append(args, "--prometheus.basic-auth.username=admin")...)
	if code != ExitUsage || !strings.Contains(errOut, "password-file") {
		t.Errorf("user without password file: exit %d, %q", code, errOut)
	}
}

func TestExplainEachGate(t *testing.T) {
	f := &facts{
		nodes: []string{"a", "b"}, preferred: "a", gated: []string{"imap", "smtp"},
		up:     map[string]float64{"a/smtp": 1, "b/smtp": 0, "a/imap": 0},
		vup:    map[string]float64{"smtp": 1},
		redMax: map[string]float64{"a": 1, "b": 0}, redMin: map[string]float64{"a": 1, "b": 0},
		versions: map[string][]string{"a": {"2.0.8"}},
		roles:    map[string][]string{"a": {"standby"}, "b": {"active"}},
		active:   map[string]bool{"b": true},
		sync:     map[string][]string{"a": {"synced"}, "b": {"out_of_sync"}},
		pending:  map[string][]string{}, progress: map[string]float64{"b": 0.42},
		reasons: []string{"peer_down", "syncing"}, restart: []string{"b"},
	}
	want := map[string][]string{
		"services_stopped":    {"b: imap not probed (no result: not known to be stopped)", "a: smtp up", "virtual address: smtp up"},
		"redundancy_disabled": {"a: redundancy enabled"},
		"versions_match":      {"b: no version reported", "versions: a 2.0.8"},
		"redundancy_enabled":  {"b: redundancy disabled"},
		"roles_restored":      {"roles: a standby, b active", "the preferred node a is not active"},
		"sync_complete":       {"b: sync out_of_sync, 42% done"},
		"early_start_ok":      {"redundancy reasons other than syncing: peer_down"},
		"services_running":    {"b (active): imap not probed", "b (active): smtp down"},
		"restart_flag_clear":  {"b: restart required"},
	}
	for _, g := range Gates() {
		got := f.explain(g.Name)
		if strings.Join(got, "|") != strings.Join(want[g.Name], "|") {
			t.Errorf("%s: got %q, want %q", g.Name, got, want[g.Name])
		}
	}
	f.restart = nil
	if got := strings.Join(f.explain("restart_flag_clear"), "|"); !strings.Contains(got, "waits for sync_complete") {
		t.Errorf("restart_flag_clear while the sync is not complete: got %q", got)
	}
	empty := &facts{}
	if got := empty.explain("sync_complete"); len(got) != 2 || !strings.Contains(got[0], "no configured node") || got[1] != "no node reports a sync state" {
		t.Errorf("no facts at all: %q", got)
	}
}

// When the gates can be read but the facts behind them cannot, status still
// lists the gates and says why it cannot explain the closed ones.
func TestStatusWhenTheFactsCannotBeRead(t *testing.T) {
	f := newFake("kp")
	f.gates["sync_complete"] = 0
	f.factsErr = true
	code, out, errOut := runGate(t, "gate", "status", "--prometheus.url="+serve(t, f), "--cluster=kp")
	if code != ExitOpen || !strings.Contains(out, "6 ✘ sync_complete") ||
		!strings.Contains(out, "      cannot read the facts behind the gate: no trustworthy answer from Prometheus: query ") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}
