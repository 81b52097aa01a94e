package collector

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/postqueue"
	"github.com/mailcluster/mailcluster_exporter/config"
)

// postfixQueueSource reads `postqueue -j` (Postfix ≥ 3.1) on the node it
// runs on: messages, bytes and oldest age per queue (maildrop, incoming,
// active, deferred, hold). Any user may run postqueue -j unless
// authorized_mailq_users restricts it. Addresses are never kept.
type postfixQueueSource struct {
	env  Env
	node string
	cmd  config.Command
	now  func() time.Time
}

func newPostfixQueueSource(env Env, src *config.Source) (Source, error) {
	node, err := env.local("postfix_queue")
	if err != nil {
		return nil, err
	}
	var cmd config.Command
	if src.PostfixQueue != nil {
		cmd = src.PostfixQueue.Command
	}
	return &postfixQueueSource{env: env, node: node, cmd: withDefault(cmd, "postqueue", "-j"), now: time.Now}, nil
}

func (s *postfixQueueSource) Collect(ctx context.Context) (facts.Set, error) {
	out, err := s.env.Runner.Run(ctx, s.cmd)
	if err != nil {
		return nil, err
	}
	qs, err := postqueue.Queues(bytes.NewReader(out), s.now())
	if err != nil {
		return nil, fmt.Errorf("postqueue -j output: %w", err)
	}
	set := facts.Set{}
	set.Node(s.node).Queues = qs
	return set, nil
}
