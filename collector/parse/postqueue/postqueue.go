// Package postqueue parses `postqueue -j` (Postfix 3.1+: one JSON object
// per queued message, one per line) and aggregates it per queue into the
// facts vocabulary (facts.Queue). Sender and recipient addresses are never
// kept: a Message holds counts only.
package postqueue

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
)

// MaxLine bounds one JSON line (a message with thousands of recipients).
const MaxLine = 16 << 20

// StandardQueues are reported even when empty: an empty queue is a fact.
var StandardQueues = []string{"maildrop", "incoming", "active", "deferred", "hold"}

// Message is one queued message, without addresses.
type Message struct {
	Queue       string
	ID          string
	ArrivalTime int64 // Unix seconds
	Size        int64 // bytes
	Recipients  int
	// Delayed counts recipients with a delay_reason.
	Delayed int
}

type jsonMessage struct {
	QueueName   *string `json:"queue_name"`
	QueueID     string  `json:"queue_id"`
	ArrivalTime *int64  `json:"arrival_time"`
	MessageSize *int64  `json:"message_size"`
	Recipients  []struct {
		DelayReason *string `json:"delay_reason"`
	} `json:"recipients"`
}

// ParseLine decodes one line of `postqueue -j`. queue_name, arrival_time
// and message_size are required.
func ParseLine(b []byte) (Message, error) {
	var j jsonMessage
	if err := json.Unmarshal(b, &j); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Message{}, fmt.Errorf("field %q: %w", te.Field, err)
		}
		return Message{}, err
	}
	switch {
	case j.QueueName == nil:
		return Message{}, errors.New("field \"queue_name\" missing")
	case !validQueue(*j.QueueName):
		return Message{}, fmt.Errorf("field \"queue_name\": %q is not a queue name", clip(*j.QueueName))
	case j.ArrivalTime == nil:
		return Message{}, errors.New("field \"arrival_time\" missing")
	case j.MessageSize == nil:
		return Message{}, errors.New("field \"message_size\" missing")
	case *j.MessageSize < 0:
		return Message{}, fmt.Errorf("field \"message_size\": negative size %d", *j.MessageSize)
	}
	m := Message{Queue: *j.QueueName, ID: j.QueueID, ArrivalTime: *j.ArrivalTime, Size: *j.MessageSize, Recipients: len(j.Recipients)}
	for _, r := range j.Recipients {
		if r.DelayReason != nil {
			m.Delayed++
		}
	}
	return m, nil
}

// validQueue accepts Postfix queue names (lower-case letters, at most 16):
// anything else would become an unbounded label value.
func validQueue(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Parse calls fn for every message of a `postqueue -j` stream. Blank lines
// are skipped; a malformed line is an error naming it. Memory stays
// bounded by one line.
func Parse(r io.Reader, fn func(Message) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), MaxLine)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		m, err := ParseLine(b)
		if err != nil {
			return fmt.Errorf("postqueue -j: line %d: %w", lineNo, err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("postqueue -j: line %d: %w", lineNo+1, err)
	}
	return nil
}

// Queues aggregates a whole `postqueue -j` stream with a Tally.
func Queues(r io.Reader, now time.Time) (map[string]facts.Queue, error) {
	t := NewTally()
	if err := Parse(r, func(m Message) error { t.Add(m); return nil }); err != nil {
		return nil, err
	}
	return t.Queues(now), nil
}

// Tally aggregates messages per queue as they stream by, in constant
// memory per queue.
type Tally struct {
	queues   map[string]facts.Queue
	oldest   map[string]int64
	messages int
}

// NewTally returns an empty Tally.
func NewTally() *Tally {
	return &Tally{queues: map[string]facts.Queue{}, oldest: map[string]int64{}}
}

// Add counts one message.
func (t *Tally) Add(m Message) {
	q := t.queues[m.Queue]
	q.Messages++
	q.Bytes += float64(m.Size)
	t.queues[m.Queue] = q
	if o, ok := t.oldest[m.Queue]; !ok || m.ArrivalTime < o {
		t.oldest[m.Queue] = m.ArrivalTime
	}
	t.messages++
}

// Messages is the number of messages added.
func (t *Tally) Messages() int { return t.messages }

// Queues returns, per queue, the number of messages, the total bytes and
// the age of the oldest message relative to now (clamped at 0 against
// clock skew; nil for an empty queue). StandardQueues are always present.
func (t *Tally) Queues(now time.Time) map[string]facts.Queue {
	out := make(map[string]facts.Queue, len(StandardQueues)+len(t.queues))
	for _, q := range StandardQueues {
		out[q] = facts.Queue{}
	}
	for name, q := range t.queues {
		age := float64(now.Unix() - t.oldest[name])
		if age < 0 {
			age = 0
		}
		q.OldestAgeSeconds = facts.Float(age)
		out[name] = q
	}
	return out
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
