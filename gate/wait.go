package gate

import (
	"context"
	"fmt"
	"time"
)

// Explain returns the facts that hold a gate closed; when the facts cannot
// be read, a line saying so.
func (c *Checker) Explain(ctx context.Context, cluster, gate string) []string {
	f, err := c.readFacts(ctx, cluster)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the facts behind the gate: %v", err)}
	}
	return f.explain(gate)
}

// WaitResult is how a wait ended.
type WaitResult struct {
	Open    bool
	Waited  time.Duration
	Last    *State // the last state read, nil if none could be read
	LastErr error  // the error of the last attempt, nil if it read the gate
	Polls   int
}

// WaitOptions bound a wait.
type WaitOptions struct {
	Timeout      time.Duration // overall
	PollInterval time.Duration
	QueryTimeout time.Duration // per poll
	// OnClosed is called after the first poll that finds the gate closed
	// or cannot read it (for a progress message); may be nil.
	OnClosed func(st *State, err error)
}

// Wait polls the gate until it is open or the timeout passes. It returns
// Open only for a fresh sample with value 1: errors (no answer, no series,
// stale data) count as closed.
func (c *Checker) Wait(ctx context.Context, cluster, gate string, o WaitOptions) WaitResult {
	start := c.now()
	deadline := start.Add(o.Timeout)
	var res WaitResult
	reported := false
	for {
		remaining := deadline.Sub(c.now())
		qt, capped := o.QueryTimeout, false
		if remaining > 0 && remaining < qt {
			qt, capped = remaining, true
		}
		qctx, cancel := context.WithTimeout(ctx, qt)
		st, err := c.Status(qctx, cluster)
		cutShort := err != nil && capped && qctx.Err() != nil
		cancel()
		res.Polls++
		switch {
		case cutShort && res.Polls > 1:
			// A read cut off by the wait's own deadline brings no news:
			// the previous answer (or error) stands.
		case err != nil:
			res.LastErr, res.Last = err, nil
		default:
			g, _ := st.Gate(gate)
			res.LastErr, res.Last = nil, &g
			if g.Open {
				res.Open = true
				res.Waited = c.now().Sub(start)
				return res
			}
		}
		if !reported && o.OnClosed != nil {
			o.OnClosed(res.Last, err)
			reported = true
		}
		wait := o.PollInterval
		if r := deadline.Sub(c.now()); r < wait {
			wait = r
		}
		if wait <= 0 || ctx.Err() != nil {
			res.Waited = c.now().Sub(start)
			return res
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}
