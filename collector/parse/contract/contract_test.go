package contract

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

var cluster = []string{"primary", "secondary", "tertiary"}

func fptr(f float64) *float64 { return &f }
func bptr(b bool) *bool       { return &b }

func TestParseEveryField(t *testing.T) {
	doc := `{"nodes":[
  {"node":"primary","role":"active","redundancy_enabled":true,"peer_up":true,
   "sync_state":"syncing","sync_progress":0.42,"sync_lag_seconds":3.5,
   "sync_pending_bytes":1024,"sync_pending_items":7,"version":" 2.0.7\n",
   "restart_required":false,
   "queues":{"active":{"messages":12,"bytes":34567,"oldest_age_seconds":60},"hold":{"messages":0,"bytes":0}},
   "last_role_change_timestamp":1700000000},
  {"node":"secondary","role":"standby","peer_up":{"primary":false,"tertiary":true},"redundancy_enabled":false,
   "restart_required":true,"sync_state":"out_of_sync"}
]}`
	set, err := Parse([]byte(doc), cluster)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := facts.Set{
		"primary": {
			Role:              facts.RoleActive,
			RedundancyEnabled: bptr(true),
			PeerUp:            map[string]bool{"secondary": true, "tertiary": true},
			SyncState:         facts.SyncSyncing,
			SyncProgress:      fptr(0.42),
			SyncLagSeconds:    fptr(3.5),
			SyncPending:       map[string]float64{"bytes": 1024, "items": 7},
			Version:           "2.0.7",
			RestartRequired:   bptr(false),
			Queues: map[string]facts.Queue{
				"active": {Messages: 12, Bytes: 34567, OldestAgeSeconds: fptr(60)},
				"hold":   {},
			},
			LastRoleChange: 1700000000,
		},
		"secondary": {
			Role:              facts.RoleStandby,
			RedundancyEnabled: bptr(false),
			PeerUp:            map[string]bool{"primary": false, "tertiary": true},
			SyncState:         facts.SyncOutOfSync,
			RestartRequired:   bptr(true),
		},
	}
	if !reflect.DeepEqual(set, want) {
		got, _ := json.MarshalIndent(set, "", " ")
		exp, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("facts differ\ngot:  %s\nwant: %s", got, exp)
	}
}

func TestParseMissingFieldsNotReported(t *testing.T) {
	set, err := Parse([]byte(`{"nodes":[{"node":"primary"},{"node":"secondary","peer_up":null}]}`), cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"primary", "secondary"} {
		n := set[name]
		if n == nil {
			t.Fatalf("node %s missing", name)
		}
		if !reflect.DeepEqual(*n, facts.Node{}) {
			t.Errorf("%s: unreported fields are set: %+v", name, *n)
		}
	}
	if len(set) != 2 {
		t.Errorf("%d nodes, want 2", len(set))
	}
	// An empty list is a valid answer about no node.
	set, err = Parse([]byte(`{"nodes":[]}`), cluster)
	if err != nil || len(set) != 0 {
		t.Errorf("empty nodes: %v, %v", set, err)
	}
}

func TestParsePeerUp(t *testing.T) {
	tests := []struct {
		peerUp string
		want   map[string]bool
	}{
		{`true`, map[string]bool{"secondary": true, "tertiary": true}},
		{`false`, map[string]bool{"secondary": false, "tertiary": false}},
		{`{"secondary":true}`, map[string]bool{"secondary": true}},
		{`{}`, map[string]bool{}},
	}
	for _, tc := range tests {
		set, err := Parse([]byte(`{"nodes":[{"node":"primary","peer_up":`+tc.peerUp+`}]}`), cluster)
		if err != nil {
			t.Errorf("peer_up %s: %v", tc.peerUp, err)
			continue
		}
		if got := set["primary"].PeerUp; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("peer_up %s: got %v, want %v", tc.peerUp, got, tc.want)
		}
	}
	// A node the cluster does not know still expands to every configured node.
	set, err := Parse([]byte(`{"nodes":[{"node":"other","peer_up":true}]}`), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := set["other"].PeerUp; !reflect.DeepEqual(got, map[string]bool{"a": true, "b": true}) {
		t.Errorf("got %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // every one must appear in the error
	}{
		{"unknown node field", `{"nodes":[{"node":"a","rol":"active"}]}`,
			[]string{`unknown field "rol"`, "known: node, role"}},
		{"unknown top-level field", `{"nodes":[],"cluster":"x"}`, []string{`unknown field "cluster"`}},
		{"unknown queue field", `{"nodes":[{"node":"a","queues":{"q":{"messages":1,"size":2}}}]}`, []string{`unknown field "size"`}},
		{"bad role", `{"nodes":[{"node":"a","role":"primary"}]}`, []string{`nodes[0]`, `field "role"`, `unknown role "primary"`}},
		{"role in capitals", `{"nodes":[{"node":"a","role":"Active"}]}`, []string{`unknown role "Active"`}},
		{"empty role", `{"nodes":[{"node":"a","role":""}]}`, []string{`unknown role ""`}},
		{"bad sync state", `{"nodes":[{"node":"a"},{"node":"b","sync_state":"in_sync"}]}`,
			[]string{`nodes[1]`, `field "sync_state"`, `unknown state "in_sync"`}},
		{"progress above 1", `{"nodes":[{"node":"a","sync_progress":1.5}]}`, []string{`field "sync_progress"`, "between 0 and 1", "1.5"}},
		{"progress below 0", `{"nodes":[{"node":"a","sync_progress":-0.1}]}`, []string{`field "sync_progress"`, "between 0 and 1"}},
		{"progress as percent string", `{"nodes":[{"node":"a","sync_progress":"42%"}]}`, []string{`sync_progress`, "want float64", "got JSON string"}},
		{"negative lag", `{"nodes":[{"node":"a","sync_lag_seconds":-1}]}`, []string{`field "sync_lag_seconds"`, "must not be negative"}},
		{"negative pending bytes", `{"nodes":[{"node":"a","sync_pending_bytes":-5}]}`, []string{`field "sync_pending_bytes"`, "must not be negative"}},
		{"negative pending items", `{"nodes":[{"node":"a","sync_pending_items":-5}]}`, []string{`field "sync_pending_items"`, "must not be negative"}},
		{"negative role change", `{"nodes":[{"node":"a","last_role_change_timestamp":-5}]}`, []string{`field "last_role_change_timestamp"`, "must not be negative"}},
		{"negative queue messages", `{"nodes":[{"node":"a","queues":{"q":{"messages":-1,"bytes":0}}}]}`, []string{`field "queues"`, `"q"`, "must not be negative"}},
		{"negative queue bytes", `{"nodes":[{"node":"a","queues":{"q":{"messages":1,"bytes":-1}}}]}`, []string{`field "queues"`, "must not be negative"}},
		{"negative queue age", `{"nodes":[{"node":"a","queues":{"q":{"messages":1,"bytes":1,"oldest_age_seconds":-3}}}]}`, []string{`field "queues"`, "must not be negative"}},
		{"empty queue name", `{"nodes":[{"node":"a","queues":{"":{"messages":1}}}]}`, []string{`field "queues": empty queue name`}},
		{"peer_up string", `{"nodes":[{"node":"a","peer_up":"yes"}]}`, []string{`field "peer_up"`, `"yes"`}},
		{"peer_up object of strings", `{"nodes":[{"node":"a","peer_up":{"b":"up"}}]}`, []string{`field "peer_up"`}},
		{"wrong type for bool", `{"nodes":[{"node":"a","restart_required":"no"}]}`, []string{"line 1", "restart_required", "want bool"}},
		{"trailing object", `{"nodes":[]}{"nodes":[]}`, []string{"trailing data"}},
		{"trailing garbage", "{\"nodes\":[]}\n}", []string{"trailing data"}},
		{"missing nodes", `{}`, []string{`field "nodes": required`}},
		{"null nodes", `{"nodes":null}`, []string{`field "nodes": required`}},
		{"null document", `null`, []string{`field "nodes": required`}},
		{"missing node name", `{"nodes":[{"role":"active"}]}`, []string{`nodes[0]`, `field "node": required`}},
		{"duplicate node", `{"nodes":[{"node":"a"},{"node":"b"},{"node":"a","role":"active"}]}`,
			[]string{`nodes[2]`, `"a" is reported twice`}},
		{"syntax error", "{\"nodes\":[\n  {\"node\":\"a\"},\n  {\"node\":\"b\",}\n]}", []string{"line 3", "invalid JSON"}},
		{"truncated", "{\"nodes\":[\n{\"node\":\"a\"", []string{"unexpected EOF"}},
		{"empty", ``, []string{"EOF"}},
		{"not an object", `[1,2]`, []string{"line 1", "want contract.Document"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Parse([]byte(tc.doc), cluster)
			if err == nil {
				t.Fatalf("no error; facts %+v", set)
			}
			if set != nil {
				t.Errorf("facts returned with the error: %+v", set)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseSyntaxErrorLine(t *testing.T) {
	doc := "{\n\"nodes\": [\n{\"node\": \"a\"},\n{\"node\": \"b\"},\n{\"node\": \"c\" \"role\": \"active\"}\n]\n}\n"
	_, err := Parse([]byte(doc), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "line 5: invalid JSON") {
		t.Errorf("got %v, want an error starting with line 5", err)
	}
	doc = "{\"nodes\": [\n{\"node\": \"a\"},\n{\"node\": \"b\", \"sync_progress\": true}]}"
	_, err = Parse([]byte(doc), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "line 3: ") {
		t.Errorf("got %v, want a type error on line 3", err)
	}
}

var seeds = []string{
	`{"nodes":[{"node":"primary","role":"active","redundancy_enabled":true,"peer_up":true,"sync_state":"syncing","sync_progress":0.42,"version":"2.0.7","restart_required":false}]}`,
	`{"nodes":[{"node":"a","peer_up":{"b":false}},{"node":"b","role":"offline","sync_state":"unknown"}]}`,
	`{"nodes":[{"node":"m","role":"master","queues":{"q":{"messages":3,"bytes":10,"oldest_age_seconds":1}},"sync_pending_items":2,"last_role_change_timestamp":1}]}`,
	`{"nodes":[{"node":"x","sync_progress":1,"sync_lag_seconds":0,"sync_pending_bytes":0}]}`,
	`{"nodes":[]}`,
	`{"nodes":[{"node":"a","role":"bogus"}]}`,
	"{\n\"nodes\":[\n{\"node\":\"a\",}]}",
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	roleOK := map[facts.Role]bool{"": true}
	for _, r := range facts.Roles {
		roleOK[r] = true
	}
	syncOK := map[facts.SyncState]bool{"": true}
	for _, s := range facts.SyncStates {
		syncOK[s] = true
	}
	nonNeg := func(t *testing.T, what string, v float64) {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s = %v", what, v)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Parse(data, cluster)
		if err != nil {
			if set != nil {
				t.Errorf("facts returned with error %v", err)
			}
			if err.Error() == "" {
				t.Error("empty error message")
			}
			return
		}
		if set == nil {
			t.Fatal("nil facts without error")
		}
		for name, n := range set {
			if name == "" {
				t.Error("fact about a node without a name")
			}
			if n == nil {
				t.Fatalf("node %q: nil facts", name)
			}
			if !roleOK[n.Role] {
				t.Errorf("node %q: role %q outside the vocabulary", name, n.Role)
			}
			if !syncOK[n.SyncState] {
				t.Errorf("node %q: sync state %q outside the vocabulary", name, n.SyncState)
			}
			if p := n.SyncProgress; p != nil && !(*p >= 0 && *p <= 1) {
				t.Errorf("node %q: sync progress %v outside [0,1]", name, *p)
			}
			if n.SyncLagSeconds != nil {
				nonNeg(t, "sync_lag_seconds", *n.SyncLagSeconds)
			}
			for unit, v := range n.SyncPending {
				if unit != "bytes" && unit != "items" {
					t.Errorf("node %q: pending unit %q", name, unit)
				}
				nonNeg(t, "sync_pending", v)
			}
			nonNeg(t, "last_role_change", n.LastRoleChange)
			for q, v := range n.Queues {
				if q == "" {
					t.Errorf("node %q: empty queue name", name)
				}
				nonNeg(t, "queue messages", v.Messages)
				nonNeg(t, "queue bytes", v.Bytes)
				if v.OldestAgeSeconds != nil {
					nonNeg(t, "queue age", *v.OldestAgeSeconds)
				}
			}
			if n.Version != strings.TrimSpace(n.Version) {
				t.Errorf("node %q: version %q not trimmed", name, n.Version)
			}
		}
	})
}

// The Active Monitor's 稼働状態 text passes through as a role.
func TestOperatingStatusRole(t *testing.T) {
	doc := `{"nodes":[{"node":"primary","role":"アクティブで動作しています。"},{"node":"secondary","role":"スタンバイで動作しています。"}]}`
	set, err := Parse([]byte(doc), []string{"primary", "secondary"})
	if err != nil {
		t.Fatal(err)
	}
	if set["primary"].Role != facts.RoleActive || set["secondary"].Role != facts.RoleStandby {
		t.Errorf("roles = %q, %q; want active, standby", set["primary"].Role, set["secondary"].Role)
	}
	if _, err := Parse([]byte(`{"nodes":[{"node":"a","role":"停止しています"}]}`), nil); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("unknown status: err = %v", err)
	}
}
