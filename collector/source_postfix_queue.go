package collector

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/postqueue"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// postfixQueueSource reads `postqueue -j` (Postfix ≥ 3.1) on the node it
// runs on: messages, bytes and oldest age per queue (maildrop, incoming,
// active, deferred, hold). Any user may run postqueue -j unless
// authorized_mailq_users restricts it. Addresses are never kept.
//
// The output is streamed and counted, never buffered: a queue of any size
// costs constant memory. Beyond maxMessages the command is stopped and the
// counts are a lower bound (the oldest age too is then of the messages
// read), never an error: a huge queue is exactly when the queue metrics
// matter.
type postfixQueueSource struct {
	env         Env
	node        string
	cmd         config.Command
	now         func() time.Time
	maxMessages int
}

// maxQueueMessages is where postfix_queue stops counting: far beyond any
// healthy queue, and a few seconds of parsing.
const maxQueueMessages = 1_000_000

func newPostfixQueueSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("postfix_queue")
	if err != nil {
		return nil, err
	}
	var cmd config.Command
	if src.PostfixQueue != nil {
		cmd = src.PostfixQueue.Command
	}
	return &postfixQueueSource{env: env, node: node, cmd: withDefault(cmd, "postqueue", "-j"), now: time.Now,
		maxMessages: maxQueueMessages}, nil
}

func (s *postfixQueueSource) Collect(ctx context.Context) (facts.Set, error) {
	t := postqueue.NewTally()
	err := s.env.Runner.Stream(ctx, s.cmd, func(r io.Reader) error {
		return postqueue.Parse(r, func(m postqueue.Message) error {
			t.Add(m)
			if t.Messages() >= s.maxMessages {
				return errStreamStopped
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("postqueue -j output: %w", err)
	}
	if t.Messages() >= s.maxMessages {
		s.env.Logger.Warn("postfix queue larger than the counting limit: counts are a lower bound", "limit", s.maxMessages)
	}
	set := facts.Set{}
	set.Node(s.node).Queues = t.Queues(s.now())
	return set, nil
}
