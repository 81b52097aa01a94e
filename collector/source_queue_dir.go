package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
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
// subdirectories when recursive). It stops at max_files and at ctx's end
// and then reports what it counted as a lower bound (messages and bytes of
// the files seen, the oldest of them), never as a failed source: a huge
// backlog is exactly when the facts matter.
//
// The walk runs on its own goroutine and checks ctx between entries, and
// measureDir returns at ctx's end even if a directory read or stat is
// stuck (a hung NFS server): the walk then ends at its next check.
func measureDir(ctx context.Context, d *config.QueueDir, now time.Time) (facts.Queue, error) {
	maxFiles := d.MaxFiles
	if maxFiles == 0 {
		maxFiles = config.DefaultQueueMaxFiles
	}
	t := &dirTally{max: maxFiles}
	done := make(chan error, 1)
	go func() { done <- t.walk(ctx, d.Path, d.Path, d.Recursive) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	switch {
	case errors.Is(err, errTooManyFiles), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// A lower bound.
	case err != nil:
		return facts.Queue{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.q
	if !t.oldest.IsZero() {
		age := now.Sub(t.oldest).Seconds()
		if age < 0 {
			age = 0
		}
		q.OldestAgeSeconds = &age
	}
	return q, nil
}

// dirTally is what a walk counted so far.
type dirTally struct {
	max    int
	mu     sync.Mutex
	q      facts.Queue
	oldest time.Time
}

// dirChunk is how many entries are read from a directory at a time, so that
// a huge flat spool directory is not read whole before the first check of
// the deadline.
const dirChunk = 512

// walk counts the regular files under dir (root is the queue's top
// directory), in chunks, checking ctx between entries.
func (t *dirTally) walk(ctx context.Context, root, dir string, recursive bool) error {
	f, err := os.Open(dir)
	if err != nil {
		if dir != root && errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking: a queue in motion
		}
		return err
	}
	defer f.Close()
	for {
		entries, err := f.ReadDir(dirChunk)
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			path := filepath.Join(dir, e.Name())
			if e.IsDir() {
				if recursive {
					if err := t.walk(ctx, root, path, true); err != nil {
						return err
					}
				}
				continue
			}
			if !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			} else if err != nil {
				return err
			}
			if err := t.add(info); err != nil {
				return err
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
	}
}

func (t *dirTally) add(info fs.FileInfo) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int(t.q.Messages) >= t.max {
		return errTooManyFiles
	}
	t.q.Messages++
	t.q.Bytes += float64(info.Size())
	if t.oldest.IsZero() || info.ModTime().Before(t.oldest) {
		t.oldest = info.ModTime()
	}
	return nil
}
