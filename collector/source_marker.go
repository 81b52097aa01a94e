package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// markerSource measures replication lag with a heartbeat file: the active
// node rewrites it (write: true, or any external job), replication copies it
// (rsync, lsyncd, DRBD, shared storage, dsync of a marker mailbox file…), and
// on the standby its age is the replication lag. Works with any file
// replication. The file holds the Unix time it was written; its mtime is
// used when the content does not parse.
type markerSource struct {
	node   string
	cfg    *config.MarkerSource
	maxLag time.Duration
	now    func() time.Time
	vip    *vipLocalSource // to know whether this node is the writer
}

func newMarkerSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("marker")
	if err != nil {
		return nil, err
	}
	s := &markerSource{node: node, cfg: src.Marker, maxLag: time.Duration(src.Marker.MaxLag), now: time.Now}
	if s.maxLag <= 0 {
		s.maxLag = config.DefaultMarkerMaxLag
	}
	if s.cfg.Write {
		if s.vip, err = localVIP(env); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *markerSource) Collect(ctx context.Context) (facts.Set, error) {
	now := s.now()
	set := facts.Set{}
	f := set.Node(s.node)
	if s.cfg.Write {
		writer := true
		if s.vip != nil {
			role, err := s.vip.role(ctx)
			if err != nil {
				return nil, err
			}
			writer = role == facts.RoleActive
		}
		if writer {
			if err := writeMarker(s.cfg.File, now); err != nil {
				return nil, err
			}
			// The writer's own copy is current by definition; the standby measures lag.
			return set, nil
		}
	}
	written, err := readMarker(s.cfg.File)
	if err != nil {
		return nil, err
	}
	lag := now.Sub(written).Seconds()
	if lag < 0 {
		lag = 0
	}
	f.SyncLagSeconds = &lag
	f.SyncState = facts.SyncSynced
	if time.Duration(lag*float64(time.Second)) > s.maxLag {
		f.SyncState = facts.SyncOutOfSync
	}
	return set, nil
}

func writeMarker(path string, now time.Time) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".marker-*")
	if err != nil {
		return fmt.Errorf("writing marker: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := fmt.Fprintf(tmp, "%d\n", now.Unix()); err != nil {
		tmp.Close()
		return fmt.Errorf("writing marker: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing marker: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing marker: %w", err)
	}
	return nil
}

func readMarker(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading marker: %w", err)
	}
	if len(b) > 64 {
		b = b[:64]
	}
	if sec, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && sec > 0 {
		return time.Unix(sec, 0), nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading marker: %w", err)
	}
	return info.ModTime(), nil
}
