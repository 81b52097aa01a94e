package sched

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// watchdog fails a test that deadlocks instead of hanging the suite; it is
// not a timing assertion (nothing here is expected to take more than
// milliseconds).
func watchdog(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never happened", what)
	}
}

// counter is a counting fake task body: it records the most tasks seen in
// flight at once.
type counter struct {
	now, max atomic.Int64
}

func (c *counter) enter() {
	n := c.now.Add(1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			return
		}
	}
}
func (c *counter) leave() { c.now.Add(-1) }

func TestGlobalBoundAcrossGroupsAndBatches(t *testing.T) {
	const limit = 3
	s := New(limit)
	var c counter
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		grp := s.NewGroup(0)
		for b := 0; b < 3; b++ { // three concurrent collections of the same cluster
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := grp.Batch(context.Background())
				for i := 0; i < 20; i++ {
					batch.Go(Priority(i%2), func() {
						c.enter()
						defer c.leave()
						if got := s.InFlight(); got > limit {
							t.Errorf("InFlight() = %d, limit %d", got, limit)
						}
						time.Sleep(50 * time.Microsecond) // let others pile up
					})
				}
				batch.Wait()
			}()
		}
	}
	wg.Wait()
	if m := c.max.Load(); m > limit {
		t.Fatalf("%d tasks ran at once, limit is %d", m, limit)
	}
	if m := c.max.Load(); m < 2 {
		t.Fatalf("at most %d task ran at once: the scheduler does not run tasks in parallel", m)
	}
	if s.InFlight() != 0 {
		t.Fatalf("InFlight() = %d after every batch finished", s.InFlight())
	}
}

func TestGroupLimit(t *testing.T) {
	s := New(10)
	var c counter
	b := s.NewGroup(2).Batch(context.Background())
	for i := 0; i < 30; i++ {
		b.Go(Normal, func() {
			c.enter()
			defer c.leave()
			time.Sleep(50 * time.Microsecond)
		})
	}
	b.Wait()
	if m := c.max.Load(); m > 2 {
		t.Fatalf("%d tasks of one group ran at once, group limit 2", m)
	}
}

// A cluster whose tasks hang (dead nodes) and were queued first must not
// keep another cluster waiting until its whole backlog is through: the
// groups take turns.
func TestFairnessBetweenGroups(t *testing.T) {
	s := New(2)
	dead := s.NewGroup(0).Batch(context.Background())
	release := make(chan struct{}, 100)
	var deadStarted atomic.Int64
	started := make(chan struct{}, 100)
	for i := 0; i < 10; i++ {
		dead.Go(Normal, func() {
			deadStarted.Add(1)
			started <- struct{}{}
			<-release
		})
	}
	watchdog(t, started, "first dead task")
	watchdog(t, started, "second dead task")

	healthy := s.NewGroup(0).Batch(context.Background())
	var ranBefore atomic.Int64
	done := make(chan struct{})
	healthy.Go(Normal, func() {
		ranBefore.Store(deadStarted.Load())
		close(done)
	})
	release <- struct{}{} // one dead task ends: the slot goes to the other group
	watchdog(t, done, "the healthy group's task")
	if got := ranBefore.Load(); got != 2 {
		t.Fatalf("the healthy group's task ran after %d dead tasks had started, want 2 (its turn came next)", got)
	}
	close(release)
	healthy.Wait()
	dead.Wait()
}

// Deferred tasks run after every Normal task queued at the time.
func TestDeferredRunLast(t *testing.T) {
	s := New(1) // one slot: tasks start in the order they are picked
	b := s.NewGroup(0).Batch(context.Background())
	hold := make(chan struct{})
	in := make(chan struct{})
	blocker := s.NewGroup(0).Batch(context.Background())
	blocker.Go(Normal, func() { close(in); <-hold })
	watchdog(t, in, "blocker")
	var order []Priority // appended by one task at a time
	for i := 0; i < 4; i++ {
		b.Go(Deferred, func() { order = append(order, Deferred) })
		b.Go(Normal, func() { order = append(order, Normal) })
	}
	close(hold)
	blocker.Wait()
	b.Wait()
	want := []Priority{Normal, Normal, Normal, Normal, Deferred, Deferred, Deferred, Deferred}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("start order %v, want %v", order, want)
		}
	}
}

// Deferred tasks never hold more than half of the slots: the other half
// stays free for tasks that find their servers.
func TestDeferredOnHalfTheSlots(t *testing.T) {
	s := New(4)
	b := s.NewGroup(0).Batch(context.Background())
	var c counter
	for i := 0; i < 20; i++ {
		b.Go(Deferred, func() {
			c.enter()
			defer c.leave()
			time.Sleep(50 * time.Microsecond)
		})
	}
	healthy := s.NewGroup(0).Batch(context.Background())
	ran := make(chan struct{})
	healthy.Go(Normal, func() { close(ran) })
	watchdog(t, ran, "a Normal task while Deferred ones are queued")
	b.Wait()
	healthy.Wait()
	if m := c.max.Load(); m > 2 {
		t.Fatalf("%d Deferred tasks ran at once, at most half of 4 slots allowed", m)
	}
}

// A task that never got a slot before its collection ended never runs.
func TestQueuedTasksDroppedWhenContextEnds(t *testing.T) {
	s := New(1)
	ctx, cancel := context.WithCancel(context.Background())
	b := s.NewGroup(0).Batch(ctx)
	started := make(chan struct{})
	var ran atomic.Int64
	b.Go(Normal, func() {
		close(started)
		<-ctx.Done() // honours the context, like a probe
	})
	for i := 0; i < 5; i++ {
		b.Go(Normal, func() { ran.Add(1) })
	}
	watchdog(t, started, "the first task")
	cancel()
	b.Wait()
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d queued tasks ran after the collection ended", n)
	}
	// The scheduler is free again for the next collection.
	next := s.NewGroup(0).Batch(context.Background())
	next.Go(Normal, func() { ran.Add(1) })
	next.Wait()
	if ran.Load() != 1 {
		t.Fatal("the next collection's task did not run")
	}
}

func TestSetLimitRaisesSlots(t *testing.T) {
	s := New(1)
	b := s.NewGroup(0).Batch(context.Background())
	hold := make(chan struct{})
	in := make(chan struct{}, 2)
	for i := 0; i < 2; i++ {
		b.Go(Normal, func() { in <- struct{}{}; <-hold })
	}
	watchdog(t, in, "first task")
	s.SetLimit(2)
	watchdog(t, in, "second task after raising the limit")
	close(hold)
	b.Wait()
}

func BenchmarkSchedule(b *testing.B) {
	s := New(16)
	groups := make([]*Group, 100)
	for i := range groups {
		groups[i] = s.NewGroup(0)
	}
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		for _, g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := g.Batch(context.Background())
				for i := 0; i < 18; i++ {
					batch.Go(Normal, func() {})
				}
				batch.Wait()
			}()
		}
		wg.Wait()
	}
}
