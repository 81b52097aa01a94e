// Package roundtrip is the end-to-end mail check of a cluster: a message
// with a unique token is submitted through the virtual address (SMTP or
// submission with a login) to a dedicated probe mailbox, then looked for
// over IMAP on every configured node. The time until the token is visible
// on the first node is the delivery time; on each node, the replication
// time. It is the one replication measurement that works for every system,
// agentless appliances included.
//
// A round runs in the background under its own deadline and never blocks a
// scrape: a scrape only starts a round when one is due (Tick) and reports
// the last finished round (Status). The protocols are spoken by
// github.com/emersion/go-smtp and github.com/emersion/go-imap/v2, the
// maintained Go mail libraries (go-imap v1 is no longer developed).
package roundtrip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailcluster/mailcluster_exporter/config"
)

// Header carries the token of a probe message; the round trip finds and
// deletes its messages by it.
const Header = "X-Mailcluster-Roundtrip"

// cleanupTimeout bounds the deletion of probe messages after a round.
const cleanupTimeout = 20 * time.Second

// Endpoint is where one protocol is spoken: host:port, TLS and the login.
type Endpoint struct {
	Address   string
	TLS       string // none, starttls, implicit
	TLSConfig *tls.Config
	Auth      *config.Auth // nil: no login (submission only)
	Mailbox   string       // imap only
}

// Node is one mailbox to look into.
type Node struct {
	Name string
	IMAP Endpoint
}

// Settings is everything a Runner needs; the collector builds it from the
// configuration.
type Settings struct {
	Cluster    string
	Config     *config.RoundTrip
	Submission Endpoint
	Nodes      []Node
	HeloName   string
	Logger     *slog.Logger
	Now        func() time.Time
}

// NodeResult is what one round found on one node.
type NodeResult struct {
	// Seen: the round's token became visible on the node before the
	// round's deadline.
	Seen bool
	// Replication is the time from submission until the token was visible
	// on the node; for a node not reached, how long the oldest message the
	// node has not shown since its last success has been on its way (a
	// lower bound that keeps growing while the node stays behind).
	Replication time.Duration
	// LastSuccess is the submission time of the last round that reached the
	// node (zero if none has since the exporter started).
	LastSuccess time.Time
}

// Result is one finished round.
type Result struct {
	Submitted time.Time // when the message was handed to the submission server
	Finished  time.Time
	// Delivered: the token became visible on some node. Delivery is the
	// time until the first node showed it, or the time waited in vain.
	Delivered bool
	Delivery  time.Duration
	Nodes     map[string]NodeResult
}

// Status is what a scrape reports.
type Status struct {
	Last   *Result // nil before the first round finished
	Rounds int     // rounds started
	Skips  int     // rounds not started because the mail services were stopped on purpose
}

// Runner starts rounds and keeps the last finished one.
type Runner struct {
	s        Settings
	instance string // identifies this runner's messages among other exporters'

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	running     bool
	scrapes     int
	lastStart   time.Time
	last        *Result
	lastSuccess map[string]time.Time
	behindSince map[string]time.Time // submission of the first round a node missed since its last success
	rounds      int
	skips       int
}

// New builds a Runner; nothing runs until Tick.
func New(s Settings) *Runner {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{s: s, instance: randomHex(6), ctx: ctx, cancel: cancel,
		lastSuccess: map[string]time.Time{}, behindSince: map[string]time.Time{}}
}

// Tick is called once per scrape. It starts a round in the background when
// one is due and none is running. skip says that the round trip must not
// run now: the mail services it needs are stopped on purpose (an update
// window with the submission service down); the last result stays.
func (r *Runner) Tick(skip bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scrapes++
	if r.running || r.ctx.Err() != nil {
		return
	}
	now := r.s.Now()
	cfg := r.s.Config
	due := r.lastStart.IsZero() ||
		cfg.EveryScrapes > 0 && r.scrapes >= cfg.EveryScrapes ||
		cfg.EveryScrapes == 0 && now.Sub(r.lastStart) >= time.Duration(cfg.Interval)
	if !due {
		return
	}
	if skip { // counts as this interval's round: one skip per round not run
		r.skips++
		r.scrapes, r.lastStart = 0, now
		return
	}
	r.running, r.scrapes, r.lastStart = true, 0, now
	r.rounds++
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		res := r.round()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.running = false
		if res != nil {
			r.last = res
		}
	}()
}

// Status returns the last finished round (a copy) and the counters.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{Rounds: r.rounds, Skips: r.skips}
	if r.last != nil {
		c := *r.last
		c.Nodes = make(map[string]NodeResult, len(r.last.Nodes))
		for k, v := range r.last.Nodes {
			c.Nodes[k] = v
		}
		st.Last = &c
	}
	return st
}

// Close stops a running round and waits for it (on reload and shutdown).
func (r *Runner) Close() {
	r.cancel()
	r.wg.Wait()
}

// Wait blocks until no round is running (for tests).
func (r *Runner) Wait() { r.wg.Wait() }

// round submits one message and looks for it on every node until all have
// it or the deadline passes, then deletes the probe messages. It returns
// nil when the runner was closed meanwhile.
func (r *Runner) round() *Result {
	cfg := r.s.Config
	log := r.s.Logger.With("cluster", r.s.Cluster)
	ctx, cancel := context.WithTimeout(r.ctx, time.Duration(cfg.Timeout))
	defer cancel()

	submitted := r.s.Now()
	token := fmt.Sprintf("%s.%d.%s", r.instance, submitted.UnixNano(), randomHex(4))
	res := &Result{Submitted: submitted, Nodes: map[string]NodeResult{}}
	seen := map[string]time.Time{}
	if err := submit(ctx, r.s.Submission, r.s.HeloName, cfg.From, cfg.To, message(token, cfg.From, cfg.To, r.s.HeloName, submitted)); err != nil {
		log.Warn("round trip: submission through the virtual address failed", "err", err)
	} else {
		seen = r.lookEverywhere(ctx, token, log)
	}
	finished := r.s.Now()
	if r.ctx.Err() != nil {
		return nil
	}
	res.Finished = finished
	res.Delivery = finished.Sub(submitted)
	for _, t := range seen {
		if d := t.Sub(submitted); !res.Delivered || d < res.Delivery {
			res.Delivered, res.Delivery = true, d
		}
	}
	r.mu.Lock()
	for _, n := range r.s.Nodes {
		nr := NodeResult{}
		if t, ok := seen[n.Name]; ok {
			nr.Seen, nr.Replication = true, t.Sub(submitted)
			r.lastSuccess[n.Name] = submitted
			delete(r.behindSince, n.Name)
		} else {
			if _, behind := r.behindSince[n.Name]; !behind {
				r.behindSince[n.Name] = submitted
			}
			nr.Replication = finished.Sub(r.behindSince[n.Name])
		}
		nr.LastSuccess = r.lastSuccess[n.Name]
		res.Nodes[n.Name] = nr
	}
	r.mu.Unlock()

	cctx, ccancel := context.WithTimeout(r.ctx, cleanupTimeout)
	defer ccancel()
	r.cleanup(cctx, submitted, log)
	return res
}

// lookEverywhere polls every node concurrently until each has shown the
// token or ctx ends; it returns when each node first showed it.
func (r *Runner) lookEverywhere(ctx context.Context, token string, log *slog.Logger) map[string]time.Time {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		seen = map[string]time.Time{}
	)
	poll := time.Duration(r.s.Config.PollInterval)
	for _, n := range r.s.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lastErr error
			for {
				found, err := lookFor(ctx, n.IMAP, token)
				if found {
					mu.Lock()
					seen[n.Name] = r.s.Now()
					mu.Unlock()
					return
				}
				if err != nil {
					lastErr = err
				}
				select {
				case <-ctx.Done():
					if lastErr != nil {
						log.Info("round trip: token not seen on the node", "node", n.Name, "last_err", lastErr)
					} else {
						log.Info("round trip: token not seen on the node before the deadline", "node", n.Name)
					}
					return
				case <-time.After(poll):
				}
			}
		}()
	}
	wg.Wait()
	return seen
}

// cleanup deletes, on every node, this runner's messages up to the round
// just finished and any probe message older than cleanup_after (leftovers
// of a restarted exporter). Newer messages of other exporters stay: their
// rounds may still be looking for them.
func (r *Runner) cleanup(ctx context.Context, upTo time.Time, log *slog.Logger) {
	maxAge := time.Duration(r.s.Config.CleanupAfter)
	now := r.s.Now()
	var wg sync.WaitGroup
	for _, n := range r.s.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deleted, err := deleteProbeMessages(ctx, n.IMAP, func(token string) bool {
				inst, at, ok := parseToken(token)
				if !ok {
					return false
				}
				return inst == r.instance && !at.After(upTo) || now.Sub(at) > maxAge
			})
			if err != nil {
				log.Debug("round trip: cleanup incomplete", "node", n.Name, "err", err)
			} else if deleted > 0 {
				log.Debug("round trip: probe messages deleted", "node", n.Name, "count", deleted)
			}
		}()
	}
	wg.Wait()
}

// parseToken splits "instance.unixnano.random".
func parseToken(token string) (instance string, at time.Time, ok bool) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return "", time.Time{}, false
	}
	ns, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return parts[0], time.Unix(0, ns), true
}

// message is the probe message: plain text, the token in its own header
// and in the Message-ID.
func message(token, from, to, helo string, at time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Subject: mailcluster round trip %s\r\n", token)
	fmt.Fprintf(&b, "Date: %s\r\n", at.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", token, helo)
	fmt.Fprintf(&b, "%s: %s\r\n", Header, token)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	b.WriteString("Sent by mailcluster_exporter to measure delivery and replication; deleted automatically.\r\n")
	return []byte(b.String())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
