package exporter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector"
	"github.com/mailcluster/mailcluster_exporter/config"
)

var winT0 = time.Date(2024, 6, 2, 2, 0, 0, 0, time.UTC)

func winStore(t *testing.T) WindowStore {
	t.Helper()
	return WindowStore{Path: filepath.Join(t.TempDir(), "state", "windows.json")}
}

func winClusters(ws []Window) string {
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Cluster
	}
	return strings.Join(names, ",")
}

func TestWindowRoundTrip(t *testing.T) {
	s := winStore(t)
	if ws, err := s.List(winT0); err != nil || len(ws) != 0 {
		t.Fatalf("no file yet: %v, %v", ws, err)
	}
	w := Window{Cluster: "mail-a", OpenedAt: winT0, Ends: winT0.Add(2 * time.Hour), Reason: "postfix 3.8", OpenedBy: "ops"}
	if err := s.Open(w); err != nil {
		t.Fatal(err)
	}
	if err := s.Open(Window{Cluster: "mail-b", OpenedAt: winT0, Ends: winT0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ws, err := s.List(winT0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || winClusters(ws) != "mail-a,mail-b" {
		t.Fatalf("listed %v", ws)
	}
	got := ws[0]
	if got.Cluster != w.Cluster || !got.OpenedAt.Equal(w.OpenedAt) || !got.Ends.Equal(w.Ends) || got.Reason != w.Reason || got.OpenedBy != w.OpenedBy {
		t.Errorf("round trip: got %+v, want %+v", got, w)
	}
	// A second store on the same path (the exporter, while the CLI wrote) sees the same.
	if ws2, err := (WindowStore{Path: s.Path}).List(winT0.Add(time.Minute)); err != nil || winClusters(ws2) != "mail-a,mail-b" {
		t.Errorf("another reader: %v, %v", ws2, err)
	}

	if err := s.Close("mail-a", winT0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ws, err = s.List(winT0.Add(31 * time.Minute)); err != nil || winClusters(ws) != "mail-b" {
		t.Errorf("after close: %v, %v", ws, err)
	}
	if err := s.Close("mail-a", winT0.Add(32*time.Minute)); err == nil || !strings.Contains(err.Error(), `"mail-a"`) {
		t.Errorf("closing twice: %v", err)
	}
	if _, err := os.Stat(s.Path + ".lock"); err != nil {
		t.Errorf("lock file: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(s.Path)); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWindowReopenReplaces(t *testing.T) {
	s := winStore(t)
	if err := s.Open(Window{Cluster: "mail-a", OpenedAt: winT0, Ends: winT0.Add(time.Hour), Reason: "first"}); err != nil {
		t.Fatal(err)
	}
	// Reopen shortens the window: the old end must not survive.
	if err := s.Open(Window{Cluster: "mail-a", OpenedAt: winT0.Add(10 * time.Minute), Ends: winT0.Add(20 * time.Minute), Reason: "second"}); err != nil {
		t.Fatal(err)
	}
	ws, err := s.List(winT0.Add(15 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Reason != "second" || !ws[0].Ends.Equal(winT0.Add(20*time.Minute)) {
		t.Errorf("after reopen: %+v", ws)
	}
	if ws, _ := s.List(winT0.Add(30 * time.Minute)); len(ws) != 0 {
		t.Errorf("the replaced window is still open: %+v", ws)
	}
	var f windowFile
	b, _ := os.ReadFile(s.Path)
	if err := json.Unmarshal(b, &f); err != nil || len(f.Windows) != 1 {
		t.Errorf("file holds %s (%v), want one window", b, err)
	}
}

func TestWindowCloseNotOpen(t *testing.T) {
	s := winStore(t)
	if err := s.Close("mail-a", winT0); err == nil || !strings.Contains(err.Error(), `no open window for cluster "mail-a"`) {
		t.Errorf("close on an empty store: %v", err)
	}
	if err := s.Open(Window{Cluster: "mail-a", OpenedAt: winT0, Ends: winT0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close("mail-typo", winT0); err == nil || !strings.Contains(err.Error(), `"mail-typo"`) {
		t.Errorf("close of another cluster: %v", err)
	}
	if err := s.Close("mail-a", winT0.Add(2*time.Hour)); err == nil {
		t.Error("closing an expired window succeeded")
	}
}

func TestWindowExpiredNotListed(t *testing.T) {
	s := winStore(t)
	for i, c := range []string{"a", "b", "c"} {
		if err := s.Open(Window{Cluster: c, OpenedAt: winT0, Ends: winT0.Add(time.Duration(i+1) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		at   time.Time
		want string
	}{
		{winT0, "a,b,c"},
		{winT0.Add(time.Hour - time.Nanosecond), "a,b,c"},
		{winT0.Add(time.Hour), "b,c"}, // the end is exclusive
		{winT0.Add(150 * time.Minute), "c"},
		{winT0.Add(3 * time.Hour), ""},
	}
	for _, tc := range tests {
		ws, err := s.List(tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := winClusters(ws); got != tc.want {
			t.Errorf("List(t0+%s) = %q, want %q", tc.at.Sub(winT0), got, tc.want)
		}
	}
	// Ended windows stay remembered for EndedRetention; opening another
	// window prunes the ones that ended longer ago from the file.
	if ws, err := s.Recent(winT0.Add(3 * time.Hour)); err != nil || winClusters(ws) != "a,b,c" {
		t.Errorf("Recent(t0+3h) = %v, %v; want all three, ended", ws, err)
	}
	if err := s.Open(Window{Cluster: "d", OpenedAt: winT0.Add(26 * time.Hour), Ends: winT0.Add(27 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var f windowFile
	b, _ := os.ReadFile(s.Path)
	if err := json.Unmarshal(b, &f); err != nil || winClusters(f.Windows) != "c,d" {
		t.Errorf("file after pruning: %s (%v)", b, err)
	}
}

func TestWindowOpenInvalid(t *testing.T) {
	s := winStore(t)
	if err := s.Open(Window{OpenedAt: winT0, Ends: winT0.Add(time.Hour)}); err == nil {
		t.Error("window without a cluster accepted")
	}
	if err := s.Open(Window{Cluster: "a", OpenedAt: winT0, Ends: winT0}); err == nil {
		t.Error("window ending when it opens accepted")
	}
	if err := (WindowStore{}).Open(Window{Cluster: "a", OpenedAt: winT0, Ends: winT0.Add(time.Hour)}); err == nil || !strings.Contains(err.Error(), "--windows.file") {
		t.Errorf("store without a path: %v", err)
	}
	if _, err := os.Stat(s.Path); !os.IsNotExist(err) {
		t.Errorf("invalid opens wrote the file: %v", err)
	}
}

func TestWindowConcurrentOpens(t *testing.T) {
	s := winStore(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine is its own store value, as separate CLI runs would be.
			st := WindowStore{Path: s.Path}
			errs <- st.Open(Window{Cluster: fmt.Sprintf("c%02d", i), OpenedAt: winT0, Ends: winT0.Add(time.Hour), Reason: strings.Repeat("r", 500)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	var f windowFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("file is not valid JSON after concurrent opens: %v\n%s", err, b)
	}
	// With the lock, no update is lost: every cluster's window is there, once.
	seen := map[string]int{}
	for _, w := range f.Windows {
		seen[w.Cluster]++
	}
	for i := 0; i < n; i++ {
		if c := fmt.Sprintf("c%02d", i); seen[c] != 1 {
			t.Errorf("cluster %s appears %d times", c, seen[c])
		}
	}
	if len(f.Windows) != n {
		t.Errorf("%d windows, want %d", len(f.Windows), n)
	}
}

func TestWindowCorruptFile(t *testing.T) {
	s := winStore(t)
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path, []byte(`{"windows": [{"cluster": "a",`), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: corrupt file accepted", what)
			return
		}
		if !strings.Contains(err.Error(), "window file "+s.Path) {
			t.Errorf("%s: error %q does not name the window file", what, err)
		}
	}
	_, err := s.List(winT0)
	check("List", err)
	check("Open", s.Open(Window{Cluster: "b", OpenedAt: winT0, Ends: winT0.Add(time.Hour)}))
	check("Close", s.Close("a", winT0))
	// The corrupt file is left for the operator to look at, not overwritten.
	if b, _ := os.ReadFile(s.Path); string(b) != `{"windows": [{"cluster": "a",` {
		t.Errorf("corrupt file was rewritten: %s", b)
	}
	// An empty file (e.g. created by hand) is no window at all.
	if err := os.WriteFile(s.Path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ws, err := s.List(winT0); err != nil || len(ws) != 0 {
		t.Errorf("empty file: %v, %v", ws, err)
	}
}

// An unreadable window file keeps the windows last read in force: a broken
// file must not silently end every window (and page on-call for planned work).
func TestUnreadableWindowFileKeepsLastWindows(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(cfg, []byte(reloadConfigA), 0o644); err != nil {
		t.Fatal(err)
	}
	wf := filepath.Join(dir, "windows.json")
	e, err := New(Options{ConfigFile: cfg, WindowFile: wf})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := (WindowStore{Path: wf}).Open(Window{Cluster: "first", OpenedAt: now, Ends: now.Add(time.Hour), Reason: "update"}); err != nil {
		t.Fatal(err)
	}
	if ws := e.recentWindows(now); len(ws) != 1 {
		t.Fatalf("windows = %v, want the one opened", ws)
	}
	if err := os.WriteFile(wf, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ws := e.recentWindows(now); len(ws) != 1 || ws[0].Cluster != "first" {
		t.Errorf("after the file broke: %v, want the last window kept", ws)
	}
	cl := e.state.Load().cfg.ClusterByName("first")
	if st := windowState(cl, e.recentWindows(now.Add(2*time.Hour)), now.Add(2*time.Hour)); st.Open || !st.End.Equal(now.Add(time.Hour)) {
		t.Errorf("a kept window must still end on time: %+v", st)
	}
	if ws := e.recentWindows(now.Add(26 * time.Hour)); len(ws) != 0 {
		t.Errorf("a kept window must be forgotten %s after it ended: %v", EndedRetention, ws)
	}
}

// Closing a window ends it now; it is remembered (not open) for
// EndedRetention so that its end stays exported.
func TestWindowCloseRemembersTheEnd(t *testing.T) {
	s := winStore(t)
	if err := s.Open(Window{Cluster: "mail-a", OpenedAt: winT0, Ends: winT0.Add(2 * time.Hour), Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	closedAt := winT0.Add(30 * time.Minute)
	if err := s.Close("mail-a", closedAt); err != nil {
		t.Fatal(err)
	}
	if ws, _ := s.List(closedAt); len(ws) != 0 {
		t.Errorf("closed window listed as open: %v", ws)
	}
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{{0, 1}, {EndedRetention - time.Second, 1}, {EndedRetention, 0}} {
		ws, err := s.Recent(closedAt.Add(tc.at))
		if err != nil || len(ws) != tc.want || (tc.want == 1 && !ws[0].Ends.Equal(closedAt)) {
			t.Errorf("Recent(closed+%s) = %v, %v; want %d window ending at the close", tc.at, ws, err, tc.want)
		}
	}
}

func TestWindowStateOverTheWholeLife(t *testing.T) {
	cl := &config.Cluster{Name: "c"}
	end := winT0.Add(time.Hour)
	recent := []Window{{Cluster: "c", OpenedAt: winT0, Ends: end}, {Cluster: "other", OpenedAt: winT0, Ends: winT0.Add(5 * time.Hour)}}
	for _, tc := range []struct {
		at   time.Time
		want collector.WindowState
	}{
		{winT0, collector.WindowState{Open: true, End: end}},
		{end, collector.WindowState{End: end}},
		{end.Add(23 * time.Hour), collector.WindowState{End: end}},
	} {
		if got := windowState(cl, recent, tc.at); got != tc.want {
			t.Errorf("at t0+%s: %+v, want %+v", tc.at.Sub(winT0), got, tc.want)
		}
	}
	if got := windowState(cl, nil, winT0); got != (collector.WindowState{}) {
		t.Errorf("no window: %+v", got)
	}
}

// The exporter exports the end of a closed window, with open 0.
func TestClosedWindowEndExported(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yml")
	writeFile(t, cfg, reloadConfigA)
	wf := filepath.Join(dir, "windows.json")
	e, err := New(Options{ConfigFile: cfg, WindowFile: wf})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	store := WindowStore{Path: wf}
	if err := store.Open(Window{Cluster: "first", OpenedAt: now, Ends: now.Add(time.Hour), Reason: "update"}); err != nil {
		t.Fatal(err)
	}
	body, _ := scrape(t, e.MetricsHandler(), "/metrics", "5")
	if want := fmt.Sprintf("mailcluster_update_window_end_timestamp_seconds{cluster=%q} %s", "first", promFloat(now.Add(time.Hour).Unix())); !strings.Contains(body, want) ||
		!strings.Contains(body, `mailcluster_update_window_open{cluster="first"} 1`) {
		t.Errorf("open window: scrape lacks %s or open 1", want)
	}
	if err := store.Close("first", now); err != nil {
		t.Fatal(err)
	}
	body, _ = scrape(t, e.MetricsHandler(), "/metrics", "5")
	if want := fmt.Sprintf("mailcluster_update_window_end_timestamp_seconds{cluster=%q} %s", "first", promFloat(now.Unix())); !strings.Contains(body, want) ||
		!strings.Contains(body, `mailcluster_update_window_open{cluster="first"} 0`) {
		t.Errorf("closed window: scrape lacks %s or open 0:\n%s", want, body)
	}
}

// promFloat formats a Unix time the way the text exposition format does.
func promFloat(sec int64) string {
	return strconv.FormatFloat(float64(sec), 'e', -1, 64)
}
