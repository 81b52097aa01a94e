// Package sched bounds the exporter's own load: every probe and command of
// every collection, of every cluster, runs under one Scheduler with a
// global limit on tasks in flight. Slots are handed out fairly: clusters
// take turns (round robin), so one cluster with many slow tasks cannot
// starve another; within a cluster, tasks at Normal priority go before
// Deferred ones (probes of nodes that answered nothing last time), and
// Deferred tasks may hold at most half of the slots, so dead nodes never
// occupy the whole exporter.
//
// A task that is still queued when its batch's context ends never runs:
// the caller reports nothing for it, which is not the same as "down".
package sched

import (
	"context"
	"sync"
)

// Priority orders the tasks of one group.
type Priority int

// Priorities, most urgent first.
const (
	Normal   Priority = iota
	Deferred          // runs after every Normal task, on at most half of the slots
	numPriorities
)

// Scheduler hands out a bounded number of slots to queued tasks.
type Scheduler struct {
	mu       sync.Mutex
	limit    int
	running  int
	deferred int      // Deferred tasks running
	ring     []*Group // groups with queued or running tasks, in turn order
	next     int      // index in ring (modulo its length) of the group whose turn it is
}

// New returns a scheduler running at most limit tasks at once (at least 1).
func New(limit int) *Scheduler {
	s := &Scheduler{}
	s.SetLimit(limit)
	return s
}

// SetLimit changes the limit (on configuration reload). Tasks already
// running finish; new slots are handed out under the new limit.
func (s *Scheduler) SetLimit(limit int) {
	if limit < 1 {
		limit = 1
	}
	s.mu.Lock()
	s.limit = limit
	s.dispatchLocked()
	s.mu.Unlock()
}

// Limit is the current limit.
func (s *Scheduler) Limit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// InFlight is the number of tasks running now.
func (s *Scheduler) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// deferredCap is how many slots Deferred tasks may hold: half, rounded
// up, so that the other half stays free for tasks that find servers.
func (s *Scheduler) deferredCap() int { return (s.limit + 1) / 2 }

// Group is the share of one cluster: its tasks take turns with the other
// groups' tasks, and at most limit of them run at once (0: only the
// scheduler's limit applies).
type Group struct {
	s       *Scheduler
	limit   int
	running int
	queues  [numPriorities][]*task
	inRing  bool
}

// NewGroup returns a new group (one per cluster).
func (s *Scheduler) NewGroup(limit int) *Group {
	if limit < 0 {
		limit = 0
	}
	return &Group{s: s, limit: limit}
}

type task struct {
	b   *Batch
	pri Priority
	run func()
}

// Batch is the tasks of one collection of one group.
type Batch struct {
	g       *Group
	ctx     context.Context
	pending int  // queued or running, under the scheduler's lock
	waiting bool // Wait was called: no more tasks come
	closed  bool // done is closed
	done    chan struct{}
}

// Batch starts a batch of tasks in the group, for a collection that ends
// with ctx: once ctx is done, its queued tasks never start.
func (g *Group) Batch(ctx context.Context) *Batch {
	return &Batch{g: g, ctx: ctx, done: make(chan struct{})}
}

// Go queues run at priority p. It runs on its own goroutine once a slot is
// free, unless the batch is cancelled first.
func (b *Batch) Go(p Priority, run func()) {
	if p < Normal || p >= numPriorities {
		p = Normal
	}
	s := b.g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.waiting {
		return // the collection is over
	}
	b.pending++
	g := b.g
	g.queues[p] = append(g.queues[p], &task{b: b, pri: p, run: run})
	if !g.inRing {
		g.inRing = true
		s.ring = append(s.ring, g)
	}
	s.dispatchLocked()
}

// Wait returns when every task of the batch has finished. When the
// batch's context ends first, the tasks still queued are dropped (they
// never run) and Wait returns once the running ones have finished; they
// are expected to honour the context themselves.
func (b *Batch) Wait() {
	ctx := b.ctx
	b.g.s.mu.Lock()
	b.waiting = true
	b.finishIfDoneLocked()
	b.g.s.mu.Unlock()
	select {
	case <-b.done:
		return
	case <-ctx.Done():
	}
	b.drop()
	<-b.done
}

// drop removes the batch's queued tasks.
func (b *Batch) drop() {
	s := b.g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	g := b.g
	for p := range g.queues {
		kept := g.queues[p][:0]
		for _, t := range g.queues[p] {
			if t.b == b {
				b.pending--
				continue
			}
			kept = append(kept, t)
		}
		clear(g.queues[p][len(kept):])
		g.queues[p] = kept
	}
	if g.idle() {
		s.leaveRingLocked(g)
	}
	b.finishIfDoneLocked()
}

func (b *Batch) finishIfDoneLocked() {
	if b.waiting && b.pending == 0 && !b.closed {
		b.closed = true
		close(b.done)
	}
}

// idle: nothing queued and nothing running. A group stays in the ring
// (keeping its place in the turn order) until it is idle.
func (g *Group) idle() bool {
	for _, q := range g.queues {
		if len(q) > 0 {
			return false
		}
	}
	return g.running == 0
}

func (s *Scheduler) leaveRingLocked(g *Group) {
	if !g.inRing {
		return
	}
	for i, r := range s.ring {
		if r == g {
			copy(s.ring[i:], s.ring[i+1:])
			s.ring[len(s.ring)-1] = nil
			s.ring = s.ring[:len(s.ring)-1]
			if i < s.next {
				s.next--
			}
			break
		}
	}
	g.inRing = false
}

// dispatchLocked starts queued tasks while slots are free.
func (s *Scheduler) dispatchLocked() {
	for s.running < s.limit {
		t := s.pickLocked()
		if t == nil {
			return
		}
		s.startLocked(t)
		go s.execute(t)
	}
}

// startLocked gives t a slot.
func (s *Scheduler) startLocked(t *task) {
	s.running++
	t.b.g.running++
	if t.pri == Deferred {
		s.deferred++
	}
}

// finishLocked takes t's slot back.
func (s *Scheduler) finishLocked(t *task) {
	s.running--
	t.b.g.running--
	if t.b.g.idle() {
		s.leaveRingLocked(t.b.g)
	}
	if t.pri == Deferred {
		s.deferred--
	}
	t.b.pending--
	t.b.finishIfDoneLocked()
}

// pickLocked takes the next task: the most urgent priority first, and
// within it the groups in turn, skipping groups at their own limit. Tasks
// whose collection is over are dropped on the way.
func (s *Scheduler) pickLocked() *task {
	for {
		t := s.nextLocked()
		if t == nil || t.b.ctx.Err() == nil {
			return t
		}
		t.b.pending--
		t.b.finishIfDoneLocked()
		if g := t.b.g; g.idle() {
			s.leaveRingLocked(g)
		}
	}
}

func (s *Scheduler) nextLocked() *task {
	n := len(s.ring)
	for p := Normal; p < numPriorities; p++ {
		if p == Deferred && s.deferred >= s.deferredCap() {
			continue
		}
		for i := 0; i < n; i++ {
			idx := (s.next + i) % n // next may equal n: a group that joined since takes its turn
			g := s.ring[idx]
			if len(g.queues[p]) == 0 || (g.limit > 0 && g.running >= g.limit) {
				continue
			}
			t := g.queues[p][0]
			g.queues[p][0] = nil
			g.queues[p] = g.queues[p][1:]
			s.next = idx + 1
			return t
		}
	}
	return nil
}

// execute runs t, then whatever task is next on the same goroutine (its
// stack has grown for a dialogue already), until nothing is queued.
func (s *Scheduler) execute(t *task) {
	for t != nil {
		s.run(t)
		s.mu.Lock()
		s.finishLocked(t)
		t = nil
		if s.running < s.limit {
			if t = s.pickLocked(); t != nil {
				s.startLocked(t)
			}
		}
		s.dispatchLocked()
		s.mu.Unlock()
	}
}

// run runs one task; a panic gives its slot back before it goes on.
func (s *Scheduler) run(t *task) {
	defer func() {
		if r := recover(); r != nil {
			s.mu.Lock()
			s.finishLocked(t)
			s.dispatchLocked()
			s.mu.Unlock()
			panic(r)
		}
	}()
	t.run()
}
