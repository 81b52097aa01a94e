package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// ssEnv is an Env for a cluster of the named nodes; the exporter runs on local.
func ssEnv(local string, nodes ...*config.Node) Env {
	return Env{
		Cluster: &config.Cluster{Name: "c1", Kind: config.KindFailoverGroup, Nodes: nodes},
		Global: config.Global{
			ProbeTimeout:   model.Duration(5 * time.Second),
			MaxConcurrency: 4,
			MaxOutputBytes: 4096,
		},
		LocalNode: local,
		Runner:    Runner{MaxOutput: 4096},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func ssNodes(names ...string) []*config.Node {
	out := make([]*config.Node, len(names))
	for i, n := range names {
		out[i] = &config.Node{Name: n, Address: "127.0.0.1", Priority: i + 1}
	}
	return out
}

func ssCollect(t *testing.T, s Source) (facts.Set, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Collect(ctx)
}

const ssContract = `{"nodes":[{"node":"a","role":"active","peer_up":true,"sync_state":"synced","version":"2.0.7"},
{"node":"b","role":"standby","sync_state":"syncing","sync_progress":0.5}]}`

func ssCheckContract(t *testing.T, set facts.Set) {
	t.Helper()
	a, b := set["a"], set["b"]
	if a == nil || b == nil || len(set) != 2 {
		t.Fatalf("facts %v, want nodes a and b", set)
	}
	if a.Role != facts.RoleActive || a.SyncState != facts.SyncSynced || a.Version != "2.0.7" {
		t.Errorf("a: %+v", *a)
	}
	if !reflect.DeepEqual(a.PeerUp, map[string]bool{"b": true, "c": true}) {
		t.Errorf("a: peer_up %v, want every other node of the cluster", a.PeerUp)
	}
	if b.Role != facts.RoleStandby || b.SyncState != facts.SyncSyncing || b.SyncProgress == nil || *b.SyncProgress != 0.5 {
		t.Errorf("b: %+v", *b)
	}
}

func TestCommandSource(t *testing.T) {
	env := ssEnv("", ssNodes("a", "b", "c")...)
	build := func(script string) Source {
		src := &config.Source{Type: "command", Name: "command",
			Command: &config.CommandSource{Command: config.Command{Argv: []string{"/bin/sh", "-c", script}}}}
		s, err := factories["command"].build(env, src)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	set, err := ssCollect(t, build(`printf '%s\n' '`+ssContract+`'`))
	if err != nil {
		t.Fatalf("valid contract: %v", err)
	}
	ssCheckContract(t, set)

	for name, script := range map[string]string{
		"garbage":       `printf 'role=active\n'`,
		"unknown field": `printf '{"nodes":[{"node":"a","state":"up"}]}'`,
		"empty":         `:`,
	} {
		set, err := ssCollect(t, build(script))
		if err == nil {
			t.Errorf("%s: no error, facts %v", name, set)
			continue
		}
		if !strings.HasPrefix(err.Error(), "/bin/sh: output: ") {
			t.Errorf("%s: error %q does not say the output of /bin/sh is bad", name, err)
		}
	}
	if _, err := ssCollect(t, build(`printf 'boom\n' >&2; exit 2`)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing command: %v", err)
	}
}

func TestHTTPSource(t *testing.T) {
	const user, password = "monitor", "pa55-w0rd-xyzzy"
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" {
			http.Error(w, "want JSON", http.StatusNotAcceptable)
			return
		}
		io.WriteString(w, ssContract)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal trouble", http.StatusInternalServerError)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"nodes":[],"pad":"`+strings.Repeat("x", 8192)+`"}`)
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html>hello</html>`)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, ssContract)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	env := ssEnv("", ssNodes("a", "b", "c")...)
	build := func(h config.HTTPSource) Source {
		t.Helper()
		s, err := factories["http"].build(env, &config.Source{Type: "http", Name: "http", HTTP: &h})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	set, err := ssCollect(t, build(config.HTTPSource{URL: srv.URL + "/ok"}))
	if err != nil {
		t.Fatalf("valid JSON: %v", err)
	}
	ssCheckContract(t, set)

	_, err = ssCollect(t, build(config.HTTPSource{URL: srv.URL + "/fail?token=t0ken-value"}))
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("status 500: %v", err)
	} else if strings.Contains(err.Error(), "t0ken-value") {
		t.Errorf("error shows the query string: %v", err)
	}

	// A transport error (nothing listens) and a URL with userinfo: the
	// client's own error repeats the URL, which must not leak either.
	dead := "http://admin:s3cret-pw@" + testmail.ClosedAddr(t) + "/x?token=t0ken-value#frag"
	if _, err = ssCollect(t, build(config.HTTPSource{URL: dead})); err == nil {
		t.Error("closed port: no error")
	} else if msg := err.Error(); strings.Contains(msg, "t0ken-value") || strings.Contains(msg, "s3cret-pw") || strings.Contains(msg, "admin") {
		t.Errorf("error shows a secret: %v", err)
	}
	if got := redact("https://u:p@example.test:8443/api/status?key=abc#x"); got != "https://example.test:8443/api/status?…" {
		t.Errorf("redact = %q", got)
	}

	_, err = ssCollect(t, build(config.HTTPSource{URL: srv.URL + "/big"}))
	if !errors.Is(err, errOutputTooLarge) {
		t.Errorf("body over max_output_bytes: %v", err)
	}

	if _, err = ssCollect(t, build(config.HTTPSource{URL: srv.URL + "/garbage"})); err == nil || !strings.Contains(err.Error(), "body") {
		t.Errorf("HTML body: %v", err)
	}
	if _, err = ssCollect(t, build(config.HTTPSource{URL: srv.URL + "/redirect"})); err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("redirects must not be followed: %v", err)
	}

	slow := build(config.HTTPSource{URL: "http://" + testmail.ClosedAddr(t) + "/ok"})
	if _, err = ssCollect(t, slow); err == nil {
		t.Error("closed port: no error")
	}

	// Basic auth from a password file (trailing newline dropped).
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err = ssCollect(t, build(config.HTTPSource{URL: srv.URL + "/auth", Username: user, PasswordFile: pwFile}))
	if err != nil {
		t.Fatalf("basic auth: %v", err)
	}
	ssCheckContract(t, set)

	noPassword := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", what)
		} else if strings.Contains(err.Error(), password) {
			t.Errorf("%s: error shows the password: %v", what, err)
		}
	}
	_, err = ssCollect(t, build(config.HTTPSource{URL: srv.URL + "/auth", Username: "someone-else", PasswordFile: pwFile}))
	noPassword("wrong user", err)
	if err != nil && !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong user: %v", err)
	}
	_, err = ssCollect(t, build(config.HTTPSource{URL: srv.URL + "/garbage", Username: user, PasswordFile: pwFile}))
	noPassword("bad body", err)
	_, err = ssCollect(t, build(config.HTTPSource{URL: "http://" + testmail.ClosedAddr(t) + "/auth", Username: user, PasswordFile: pwFile}))
	noPassword("closed port", err)

	// The password file is read at each collection: a removed file is an error then.
	s := build(config.HTTPSource{URL: srv.URL + "/auth", Username: user, PasswordFile: pwFile})
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	_, err = ssCollect(t, s)
	noPassword("removed password file", err)
	if err != nil && !strings.Contains(err.Error(), "password_file") {
		t.Errorf("removed password file: %v", err)
	}
	// …and a missing one is caught when the source is built.
	if _, err := factories["http"].build(env, &config.Source{Type: "http", HTTP: &config.HTTPSource{URL: srv.URL, PasswordFile: pwFile}}); err == nil {
		t.Error("missing password_file accepted")
	}
}

func TestQueueDirSource(t *testing.T) {
	root := t.TempDir()
	active, deferred, empty := filepath.Join(root, "active"), filepath.Join(root, "deferred"), filepath.Join(root, "empty")
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	write := func(path string, size int, age time.Duration) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := now.Add(-age)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(active, "A1"), 100, time.Minute)
	write(filepath.Join(active, "A2"), 200, 10*time.Minute)
	write(filepath.Join(active, "sub", "B1"), 1000, time.Hour)    // only with recursive
	write(filepath.Join(deferred, "0", "C1"), 50, 2*time.Hour)    // hashed spool
	write(filepath.Join(deferred, "1", "C2"), 70, 30*time.Minute) // hashed spool
	if err := os.Symlink(filepath.Join(active, "A1"), filepath.Join(active, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	build := func(local string, qs ...*config.QueueDir) Source {
		t.Helper()
		s, err := factories["queue_dir"].build(ssEnv(local, ssNodes("a", "b")...), &config.Source{Type: "queue_dir", QueueDir: &config.QueueDirSource{Queues: qs}})
		if err != nil {
			t.Fatal(err)
		}
		s.(*queueDirSource).now = func() time.Time { return now }
		return s
	}
	set, err := ssCollect(t, build("a",
		&config.QueueDir{Name: "active", Path: active},
		&config.QueueDir{Name: "active_all", Path: active, Recursive: true},
		&config.QueueDir{Name: "deferred", Path: deferred, Recursive: true},
		&config.QueueDir{Name: "empty", Path: empty},
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 1 || set["a"] == nil {
		t.Fatalf("facts %v, want the local node a only", set)
	}
	age := func(d time.Duration) *float64 { s := d.Seconds(); return &s }
	want := map[string]facts.Queue{
		"active":     {Messages: 2, Bytes: 300, OldestAgeSeconds: age(10 * time.Minute)},
		"active_all": {Messages: 3, Bytes: 1300, OldestAgeSeconds: age(time.Hour)},
		"deferred":   {Messages: 2, Bytes: 120, OldestAgeSeconds: age(2 * time.Hour)},
		"empty":      {},
	}
	if got := set["a"].Queues; !reflect.DeepEqual(got, want) {
		t.Errorf("queues:\n got  %s\n want %s", ssQueues(got), ssQueues(want))
	}

	// A file from the future (clock skew) is not a negative age.
	write(filepath.Join(empty, "future"), 1, -time.Hour)
	set, err = ssCollect(t, build("a", &config.QueueDir{Name: "empty", Path: empty}))
	if err != nil || set["a"].Queues["empty"].OldestAgeSeconds == nil || *set["a"].Queues["empty"].OldestAgeSeconds != 0 {
		t.Errorf("future file: %v %v", ssQueues(set["a"].Queues), err)
	}

	// More files than max_files: a backlog is a fact, not a source failure;
	// the count stops at max_files (a lower bound).
	set, err = ssCollect(t, build("a", &config.QueueDir{Name: "active", Path: active, Recursive: true, MaxFiles: 2}))
	if err != nil || set["a"].Queues["active"].Messages != 2 {
		t.Errorf("max_files exceeded: %v, %v; want 2 messages and no error", ssQueues(set["a"].Queues), err)
	}
	set, err = ssCollect(t, build("a", &config.QueueDir{Name: "active", Path: active, Recursive: true, MaxFiles: 3}))
	if err != nil || set["a"].Queues["active"].Messages != 3 {
		t.Errorf("max_files reached exactly: %v, %v", ssQueues(set["a"].Queues), err)
	}
	_, err = ssCollect(t, build("a", &config.QueueDir{Name: "gone", Path: filepath.Join(root, "missing")}))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), `queue "gone"`) {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := factories["queue_dir"].build(ssEnv("", ssNodes("a", "b")...), &config.Source{Type: "queue_dir", QueueDir: &config.QueueDirSource{}}); err == nil {
		t.Error("a local source built on an exporter that is no node")
	}
}

func ssQueues(qs map[string]facts.Queue) string {
	var b strings.Builder
	for _, name := range []string{"active", "active_all", "deferred", "empty"} {
		q, ok := qs[name]
		if !ok {
			continue
		}
		age := "nil"
		if q.OldestAgeSeconds != nil {
			age = strconv.FormatFloat(*q.OldestAgeSeconds, 'f', -1, 64)
		}
		fmt.Fprintf(&b, "%s{%v %v %s} ", name, q.Messages, q.Bytes, age)
	}
	return b.String()
}

func TestVersionSource(t *testing.T) {
	build := func(script, re string) Source {
		t.Helper()
		src := &config.Source{Type: "version", Version: &config.VersionSource{
			Command: config.Command{Argv: []string{"/bin/sh", "-c", script}}, Regexp: re}}
		s, err := factories["version"].build(ssEnv("b", ssNodes("a", "b")...), src)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name, script, re string
		want             string // "" → error
	}{
		{"whole output", `printf '  3.7.11\n'`, "", "3.7.11"},
		{"regexp", `printf 'Postfix mail_version = 3.7.11\ncompiled with X\n'`, `mail_version = (\S+)`, "3.7.11"},
		{"multi-line without regexp", `printf 'Postfix\n3.7.11\n'`, "", ""},
		{"empty output", `:`, "", ""},
		{"regexp not matching", `printf 'unknown\n'`, `version (\d+)`, ""},
		{"empty group", `printf 'version \n'`, `version (\d*)`, ""},
		{"command fails", `exit 1`, "", ""},
	}
	for _, tc := range tests {
		set, err := ssCollect(t, build(tc.script, tc.re))
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: no error, facts %v", tc.name, set["b"])
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(set) != 1 || set["b"] == nil || set["b"].Version != tc.want {
			t.Errorf("%s: facts %v, want version %q on node b", tc.name, set, tc.want)
		}
	}
}

func TestMarkerSource(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	build := func(env Env, m config.MarkerSource) *markerSource {
		t.Helper()
		s, err := factories["marker"].build(env, &config.Source{Type: "marker", Marker: &m})
		if err != nil {
			t.Fatal(err)
		}
		ms := s.(*markerSource)
		ms.now = func() time.Time { return now }
		return ms
	}
	env := ssEnv("b", ssNodes("a", "b")...)

	// Write mode without a virtual address: this node always writes.
	file := filepath.Join(dir, "marker")
	set, err := ssCollect(t, build(env, config.MarkerSource{File: file, Write: true}))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(file); err != nil || strings.TrimSpace(string(b)) != strconv.FormatInt(now.Unix(), 10) {
		t.Errorf("marker holds %q (%v), want %d", b, err, now.Unix())
	}
	if n := set["b"]; n != nil && (n.SyncState != "" || n.SyncLagSeconds != nil) {
		t.Errorf("the writer reports a lag about itself: %+v", *n)
	}

	readAt := func(m config.MarkerSource, written time.Time) (*facts.Node, error) {
		t.Helper()
		if err := os.WriteFile(m.File, []byte(strconv.FormatInt(written.Unix(), 10)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		set, err := ssCollect(t, build(env, m))
		if err != nil {
			return nil, err
		}
		return set["b"], nil
	}
	n, err := readAt(config.MarkerSource{File: file}, now.Add(-2*time.Second))
	if err != nil || n.SyncState != facts.SyncSynced || n.SyncLagSeconds == nil || *n.SyncLagSeconds != 2 {
		t.Errorf("fresh marker: %+v %v", n, err)
	}
	n, err = readAt(config.MarkerSource{File: file}, now.Add(-10*time.Minute))
	if err != nil || n.SyncState != facts.SyncOutOfSync || n.SyncLagSeconds == nil || *n.SyncLagSeconds != 600 {
		t.Errorf("old marker (default max_lag 5m): %+v %v", n, err)
	}
	n, err = readAt(config.MarkerSource{File: file, MaxLag: model.Duration(time.Hour)}, now.Add(-10*time.Minute))
	if err != nil || n.SyncState != facts.SyncSynced {
		t.Errorf("10m old marker with max_lag 1h: %+v %v", n, err)
	}
	n, err = readAt(config.MarkerSource{File: file}, now.Add(time.Minute))
	if err != nil || n.SyncLagSeconds == nil || *n.SyncLagSeconds != 0 || n.SyncState != facts.SyncSynced {
		t.Errorf("marker from the future: %+v %v", n, err)
	}

	// Unparsable content: the mtime is used.
	if err := os.WriteFile(file, []byte("touched\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mt := now.Add(-7 * time.Minute)
	if err := os.Chtimes(file, mt, mt); err != nil {
		t.Fatal(err)
	}
	set, err = ssCollect(t, build(env, config.MarkerSource{File: file}))
	if err != nil || set["b"].SyncState != facts.SyncOutOfSync || *set["b"].SyncLagSeconds != 420 {
		t.Errorf("mtime fallback: %v %v", set["b"], err)
	}

	if _, err := ssCollect(t, build(env, config.MarkerSource{File: filepath.Join(dir, "missing")})); err == nil {
		t.Error("missing marker: no error")
	}

	// With a virtual address, only the node holding it writes.
	vipEnv := env
	vipEnv.Cluster = &config.Cluster{Name: "c1", Kind: config.KindActiveStandby, VirtualAddress: "192.0.2.10", Nodes: env.Cluster.Nodes}
	vipFile := filepath.Join(dir, "vip-marker")
	old := now.Add(-time.Hour)
	if err := os.WriteFile(vipFile, []byte(strconv.FormatInt(old.Unix(), 10)), 0o600); err != nil {
		t.Fatal(err)
	}
	standby := build(vipEnv, config.MarkerSource{File: vipFile, Write: true})
	standby.vip.addrs = ssAddrs("127.0.0.1/8")
	set, err = ssCollect(t, standby)
	if err != nil || set["b"].SyncState != facts.SyncOutOfSync {
		t.Errorf("standby in write mode must read: %v %v", set["b"], err)
	}
	active := build(vipEnv, config.MarkerSource{File: vipFile, Write: true})
	active.vip.addrs = ssAddrs("127.0.0.1/8", "192.0.2.10/32")
	if _, err = ssCollect(t, active); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(vipFile); strings.TrimSpace(string(b)) != strconv.FormatInt(now.Unix(), 10) {
		t.Errorf("the VIP holder did not write the marker: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// ssAddrs fakes net.InterfaceAddrs.
func ssAddrs(cidrs ...string) func() ([]net.Addr, error) {
	return func() ([]net.Addr, error) {
		var out []net.Addr
		for _, c := range cidrs {
			ip, n, err := net.ParseCIDR(c)
			if err != nil {
				return nil, err
			}
			out = append(out, &net.IPNet{IP: ip, Mask: n.Mask})
		}
		return out, nil
	}
}

func TestVIPLocalSource(t *testing.T) {
	env := ssEnv("a", ssNodes("a", "b")...)
	env.Cluster.VirtualAddress = "192.0.2.10"
	build := func(env Env, src *config.Source) *vipLocalSource {
		t.Helper()
		s, err := factories["vip_local"].build(env, src)
		if err != nil {
			t.Fatal(err)
		}
		return s.(*vipLocalSource)
	}
	role := func(s *vipLocalSource) facts.Role {
		t.Helper()
		set, err := ssCollect(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(set) != 1 || set["a"] == nil {
			t.Fatalf("facts %v, want node a only", set)
		}
		return set["a"].Role
	}
	s := build(env, &config.Source{Type: "vip_local"})
	s.addrs = ssAddrs("127.0.0.1/8", "192.0.2.11/24", "192.0.2.10/32", "fe80::1/64")
	if r := role(s); r != facts.RoleActive {
		t.Errorf("VIP present: role %q", r)
	}
	s.addrs = ssAddrs("127.0.0.1/8", "192.0.2.11/24", "192.0.2.100/32")
	if r := role(s); r != facts.RoleStandby {
		t.Errorf("VIP absent: role %q", r)
	}
	s.addrs = func() ([]net.Addr, error) { return nil, errors.New("netlink says no") }
	if _, err := ssCollect(t, s); err == nil || !strings.Contains(err.Error(), "netlink says no") {
		t.Errorf("addrs failure: %v", err)
	}

	// vip_local.address overrides the cluster's, IPv6 included.
	s = build(env, &config.Source{Type: "vip_local", VIPLocal: &config.VIPLocalSource{Address: "2001:db8::10"}})
	s.addrs = ssAddrs("192.0.2.10/32", "2001:db8::10/128")
	if r := role(s); r != facts.RoleActive {
		t.Errorf("IPv6 VIP present: role %q", r)
	}
	s.addrs = ssAddrs("192.0.2.10/32")
	if r := role(s); r != facts.RoleStandby {
		t.Errorf("IPv6 VIP absent (only the cluster VIP present): role %q", r)
	}

	if _, err := factories["vip_local"].build(ssEnv("", ssNodes("a", "b")...), &config.Source{Type: "vip_local"}); err == nil {
		t.Error("vip_local built on an exporter that is no node")
	}
}

func TestPeerTCPSource(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := l.Addr().(*net.TCPAddr).Port
	_, closedPort, _ := net.SplitHostPort(testmail.ClosedAddr(t))
	closed, _ := strconv.Atoi(closedPort)

	// b is reached on its sync_address (its address is the IPv6 loopback,
	// where nothing listens); c has no sync_address and is reached on its address.
	nodes := []*config.Node{
		{Name: "a", Address: "127.0.0.1", Priority: 1},
		{Name: "b", Address: "::1", SyncAddress: "127.0.0.1", Priority: 2},
		{Name: "c", Address: "127.0.0.1", Priority: 3},
	}
	build := func(ports ...int) Source {
		t.Helper()
		s, err := factories["peer_tcp"].build(ssEnv("a", nodes...), &config.Source{Type: "peer_tcp",
			PeerTCP: &config.PeerTCPSource{Ports: ports, Timeout: model.Duration(2 * time.Second)}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name  string
		ports []int
		up    bool
	}{
		{"listening port", []int{open}, true},
		{"closed port", []int{closed}, false},
		{"one of two ports closed", []int{open, closed}, false},
		{"the same open port twice", []int{open, open}, true},
	}
	for _, tc := range tests {
		set, err := ssCollect(t, build(tc.ports...))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		want := map[string]bool{"b": tc.up, "c": tc.up}
		if len(set) != 1 || set["a"] == nil || !reflect.DeepEqual(set["a"].PeerUp, want) {
			t.Errorf("%s: facts %v, want peer_up %v on node a", tc.name, set["a"], want)
		}
	}
	if _, err := factories["peer_tcp"].build(ssEnv("", nodes...), &config.Source{Type: "peer_tcp", PeerTCP: &config.PeerTCPSource{Ports: []int{open}}}); err == nil {
		t.Error("peer_tcp built on an exporter that is no node")
	}
}
