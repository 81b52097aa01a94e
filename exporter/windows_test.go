package exporter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
	// Opening another window prunes the expired ones from the file.
	if err := s.Open(Window{Cluster: "d", OpenedAt: winT0.Add(150 * time.Minute), Ends: winT0.Add(4 * time.Hour)}); err != nil {
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
	if ws := e.openWindows(now); len(ws) != 1 {
		t.Fatalf("windows = %v, want the one opened", ws)
	}
	if err := os.WriteFile(wf, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ws := e.openWindows(now); len(ws) != 1 || ws[0].Cluster != "first" {
		t.Errorf("after the file broke: %v, want the last window kept", ws)
	}
	if ws := e.openWindows(now.Add(2 * time.Hour)); len(ws) != 0 {
		t.Errorf("a kept window must still end on time: %v", ws)
	}
}
