package collector

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// queueDirSource measures spool directories (mail queues, quarantine or
// hold directories): how many files, how many bytes, the oldest file's age.
type queueDirSource struct {
	node   string
	queues []*config.QueueDir
	now    func() time.Time
}

func newQueueDirSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("queue_dir")
	if err != nil {
		return nil, err
	}
	return &queueDirSource{node: node, queues: src.QueueDir.Queues, now: time.Now}, nil
}

func (s *queueDirSource) Collect(ctx context.Context) (facts.Set, error) {
	qs, err := measureQueues(ctx, s.queues, s.now())
	if err != nil {
		return nil, err
	}
	set := facts.Set{}
	set.Node(s.node).Queues = qs
	return set, nil
}

func measureQueues(ctx context.Context, dirs []*config.QueueDir, now time.Time) (map[string]facts.Queue, error) {
	out := make(map[string]facts.Queue, len(dirs))
	for _, d := range dirs {
		q, err := measureDir(ctx, d, now)
		if err != nil {
			return nil, fmt.Errorf("queue %q: %w", d.Name, err)
		}
		out[d.Name] = q
	}
	return out, nil
}

var errTooManyFiles = errors.New("more files than max_files")

// measureDir counts the regular files of one directory (and its
// subdirectories when recursive), stopping at ctx's end and at max_files:
// a queue with more files is reported with max_files messages (a lower
// bound; the bytes and oldest age of the files counted), never as a
// failed source, since a huge backlog is exactly when the facts matter.
func measureDir(ctx context.Context, d *config.QueueDir, now time.Time) (facts.Queue, error) {
	maxFiles := d.MaxFiles
	if maxFiles == 0 {
		maxFiles = config.DefaultQueueMaxFiles
	}
	var q facts.Queue
	var oldest time.Time
	err := filepath.WalkDir(d.Path, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path != d.Path && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking: a queue in motion
			}
			return err
		}
		if e.IsDir() {
			if path != d.Path && !d.Recursive {
				return filepath.SkipDir
			}
			return ctx.Err()
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if int(q.Messages) >= maxFiles {
			// A backlog is a fact, not a failure: stop counting here and
			// report max_files as a lower bound (logged by the caller).
			return errTooManyFiles
		}
		q.Messages++
		q.Bytes += float64(info.Size())
		if oldest.IsZero() || info.ModTime().Before(oldest) {
			oldest = info.ModTime()
		}
		return nil
	})
	if errors.Is(err, errTooManyFiles) {
		err = nil // q holds the first max_files files: a lower bound
	}
	if err != nil {
		return facts.Queue{}, err
	}
	if !oldest.IsZero() {
		age := now.Sub(oldest).Seconds()
		if age < 0 {
			age = 0
		}
		q.OldestAgeSeconds = &age
	}
	return q, nil
}
