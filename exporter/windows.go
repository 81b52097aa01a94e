package exporter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// Window is one operator-declared update window.
type Window struct {
	Cluster  string    `json:"cluster"`
	OpenedAt time.Time `json:"opened_at"`
	Ends     time.Time `json:"ends"`
	Reason   string    `json:"reason"`
	OpenedBy string    `json:"opened_by,omitempty"`
}

type windowFile struct {
	Windows []Window `json:"windows"`
}

// EndedRetention is how long a window is remembered after it ended: its
// end timestamp stays exported so that MailclusterUpdateWindowExpired can
// fire when the cluster is not green by then.
const EndedRetention = 24 * time.Hour

// WindowStore keeps open windows, and the last window of each cluster for
// EndedRetention after it ended, in a JSON state file. The CLI writes it
// (under an advisory lock, replaced atomically); the running exporter reads
// it at every collection, so a restart keeps open windows and no network
// admin API is needed.
type WindowStore struct {
	Path string
}

// List returns the windows in the file that are still open at now.
func (s WindowStore) List(now time.Time) ([]Window, error) {
	all, err := s.read()
	if err != nil {
		return nil, err
	}
	var open []Window
	for _, w := range all {
		if now.Before(w.Ends) {
			open = append(open, w)
		}
	}
	return open, nil
}

// Recent returns the windows that are open at now or ended at most
// EndedRetention before it (at most one per cluster: Open replaces).
func (s WindowStore) Recent(now time.Time) ([]Window, error) {
	all, err := s.read()
	if err != nil {
		return nil, err
	}
	var out []Window
	for _, w := range all {
		if remembered(w, now) {
			out = append(out, w)
		}
	}
	return out, nil
}

// remembered: still open at now, or ended within EndedRetention.
func remembered(w Window, now time.Time) bool {
	return now.Before(w.Ends.Add(EndedRetention))
}

// Open opens (or extends/replaces) the window of a cluster.
func (s WindowStore) Open(w Window) error {
	if w.Cluster == "" {
		return errors.New("window: cluster is required")
	}
	if !w.Ends.After(w.OpenedAt) {
		return errors.New("window: the end must be after the start")
	}
	return s.update(func(ws []Window) []Window {
		out := ws[:0]
		for _, x := range ws {
			if x.Cluster != w.Cluster && remembered(x, w.OpenedAt) {
				out = append(out, x) // drop the cluster's old window and long-ended ones
			}
		}
		return append(out, w)
	})
}

// Close ends the open window of a cluster now (it stays remembered as
// ended); closing a closed window is an error so that a typo in the
// cluster name does not pass silently.
func (s WindowStore) Close(cluster string, now time.Time) error {
	found := false
	err := s.update(func(ws []Window) []Window {
		out := ws[:0]
		for _, x := range ws {
			if x.Cluster == cluster && now.Before(x.Ends) {
				found = true
				x.Ends = now
			}
			if remembered(x, now) {
				out = append(out, x)
			}
		}
		return out
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no open window for cluster %q", cluster)
	}
	return nil
}

func (s WindowStore) read() ([]Window, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading window file: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	var f windowFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("window file %s: %w", s.Path, err)
	}
	return f.Windows, nil
}

func (s WindowStore) update(change func([]Window) []Window) error {
	if s.Path == "" {
		return errors.New("no window file configured (--windows.file)")
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		return fmt.Errorf("window file directory: %w", err)
	}
	lock, err := os.OpenFile(s.Path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("locking window file: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking window file: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway
	ws, err := s.read()
	if err != nil {
		return err
	}
	ws = change(ws)
	sort.Slice(ws, func(i, j int) bool { return ws[i].Cluster < ws[j].Cluster })
	b, err := json.MarshalIndent(windowFile{Windows: ws}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".windows-*")
	if err != nil {
		return fmt.Errorf("writing window file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing window file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing window file: %w", err)
	}
	return os.Rename(tmp.Name(), s.Path)
}
