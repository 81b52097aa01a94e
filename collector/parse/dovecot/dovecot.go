// Package dovecot parses the output of Dovecot's replicator commands
// (Dovecot 2.2/2.3 dsync replication) and maps it onto the facts
// vocabulary (package facts):
//
//   - ParseOverview: `doveadm replicator status` (key/value table);
//   - ParseUsers: `doveadm replicator status '<mask>'` (per-user table);
//   - ParseUsersJSON / ParseOverviewJSON: the same with `doveadm -f json`;
//   - ParseDsyncStatus: `doveadm replicator dsync-status`.
//
// Usernames are parsed (they are needed to count) but never put into facts.
package dovecot

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

const maxLine = 64 * 1024

// Overview is `doveadm replicator status` without a mask.
type Overview struct {
	// Queued are the "Queued '<kind>' requests" counts by kind: sync, high,
	// low, failed, full resync.
	Queued map[string]int64
	// WaitingFailed is "Waiting 'failed' requests".
	WaitingFailed int64
	// TotalUsers is "Total number of known users" (-1 when absent).
	TotalUsers int64
	// Other holds numeric lines not listed above, by their text.
	Other map[string]int64
}

// ParseOverview parses lines "<text> <number>", the text padded to a
// common width. A line whose last word is not a number is an error naming
// the line.
func ParseOverview(r io.Reader) (*Overview, error) {
	ov := &Overview{Queued: map[string]int64{}, TotalUsers: -1, Other: map[string]int64{}}
	n := 0
	err := eachLine(r, func(lineNo int, line string) error {
		f := strings.Fields(line)
		if len(f) < 2 {
			return fmt.Errorf("expected \"<name> <number>\", got %q", parseutil.ClipASCII(line, 80))
		}
		v, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("field %q: value %q is not a count", parseutil.ClipASCII(strings.Join(f[:len(f)-1], " "), 80), parseutil.ClipASCII(f[len(f)-1], 80))
		}
		return ov.set(strings.Join(f[:len(f)-1], " "), v, &n)
	})
	if err != nil {
		return nil, fmt.Errorf("doveadm replicator status: %w", err)
	}
	if n == 0 {
		return nil, errors.New("doveadm replicator status: no data (empty output?)")
	}
	return ov, nil
}

func (ov *Overview) set(key string, v int64, n *int) error {
	*n++
	switch {
	case strings.HasPrefix(key, "Queued '") && strings.HasSuffix(key, "' requests"):
		ov.Queued[strings.TrimSuffix(strings.TrimPrefix(key, "Queued '"), "' requests")] = v
	case key == "Waiting 'failed' requests":
		ov.WaitingFailed = v
	case key == "Total number of known users":
		ov.TotalUsers = v
	default:
		ov.Other[key] = v
	}
	return nil
}

// ParseOverviewJSON parses `doveadm -f json replicator status`: an array
// of {"field": "...", "value": "..."} objects.
func ParseOverviewJSON(b []byte) (*Overview, error) {
	var rows []map[string]string
	if err := decodeJSON(b, &rows); err != nil {
		return nil, fmt.Errorf("doveadm -f json replicator status: %w", err)
	}
	ov := &Overview{Queued: map[string]int64{}, TotalUsers: -1, Other: map[string]int64{}}
	n := 0
	for i, row := range rows {
		k, ok1 := row["field"]
		s, ok2 := row["value"]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("doveadm -f json replicator status: element #%d: fields \"field\" and \"value\" required", i+1)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("doveadm -f json replicator status: element #%d: field %q: value %q is not a count", i+1, parseutil.ClipASCII(k, 80), parseutil.ClipASCII(s, 80))
		}
		_ = ov.set(k, v, &n)
	}
	if n == 0 {
		return nil, errors.New("doveadm -f json replicator status: no data")
	}
	return ov, nil
}

// User is one row of `doveadm replicator status '<mask>'`.
type User struct {
	Username string
	Priority string // none, low, high, sync
	// FastSync, FullSync and SuccessSync are how long ago the last
	// incremental, full and successful sync ran; nil for "-" (never) or
	// when the column is absent (SuccessSync in Dovecot 2.2).
	FastSync, FullSync, SuccessSync *time.Duration
	Failed                          bool
}

// ParseUsers parses the per-user table (see ScanUsers) into memory.
func ParseUsers(r io.Reader) ([]User, error) {
	var out []User
	if err := ScanUsers(r, func(u User) error { out = append(out, u); return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// ScanUsers calls fn for every row of the per-user table as it is read,
// so that a table of any length costs one line of memory. The header line
// selects the layout: "username priority fast sync full sync success sync
// failed" (2.3) or without "success sync" (2.2). Errors name the line and
// column; an error of fn is returned as is.
func ScanUsers(r io.Reader, fn func(User) error) error {
	cols := 0
	var fnErr error
	err := eachLine(r, func(lineNo int, line string) error {
		f := strings.Fields(line)
		if cols == 0 {
			if len(f) == 0 || f[0] != "username" {
				return fmt.Errorf("expected the header \"username priority fast sync ...\", got %q", parseutil.ClipASCII(line, 80))
			}
			cols = 5
			if strings.Contains(line, "success sync") {
				cols = 6
			}
			return nil
		}
		if len(f) != cols {
			return fmt.Errorf("%d columns, want %d", len(f), cols)
		}
		vals := map[string]string{"username": f[0], "priority": f[1], "fast sync": f[2], "full sync": f[3], "failed": f[cols-1]}
		if cols == 6 {
			vals["success sync"] = f[4]
		}
		u, err := userFrom(vals)
		if err != nil {
			return err
		}
		if err := fn(u); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("doveadm replicator status (users): %w", err)
	}
	if cols == 0 {
		return errors.New("doveadm replicator status (users): no header (empty output?)")
	}
	return nil
}

// ScanUsersJSON is ScanUsers for `doveadm -f json replicator status
// '<mask>'` (an array of objects), decoding one element at a time.
func ScanUsersJSON(r io.Reader, fn func(User) error) error {
	const what = "doveadm -f json replicator status (users)"
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("%s: expected an array, got %v", what, tok)
	}
	for i := 1; dec.More(); i++ {
		var row map[string]string
		if err := dec.Decode(&row); err != nil {
			return fmt.Errorf("%s: element #%d (byte %d): %w", what, i, dec.InputOffset(), err)
		}
		u, err := userFrom(row)
		if err != nil {
			return fmt.Errorf("%s: element #%d: %w", what, i, err)
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%s: end of array: %w", what, err)
	}
	return nil
}

// ScanUsersAny reads the per-user table in either layout: JSON when the
// output starts with '[' (after blanks), else the text table.
func ScanUsersAny(r io.Reader, fn func(User) error) error {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return ScanUsers(br, fn) // reports the missing header
			}
			return err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			continue
		case '[':
			return ScanUsersJSON(br, fn)
		}
		return ScanUsers(br, fn)
	}
}

// UserCounts is what the per-user table says about replication: how many
// users, how many of them failed, and whether counting stopped at a limit
// (the counts are then a lower bound).
type UserCounts struct {
	Users, Failed int
	Truncated     bool
}

// Count tallies a parsed user table.
func Count(us []User) *UserCounts {
	c := &UserCounts{}
	for _, u := range us {
		c.Add(u)
	}
	return c
}

// Add counts one user.
func (c *UserCounts) Add(u User) {
	c.Users++
	if u.Failed {
		c.Failed++
	}
}

// ParseUsersJSON parses `doveadm -f json replicator status '<mask>'`: an
// array of objects keyed by the column names (username, priority,
// "fast sync", "full sync", "success sync", failed), all strings.
func ParseUsersJSON(b []byte) ([]User, error) {
	var rows []map[string]string
	if err := decodeJSON(b, &rows); err != nil {
		return nil, fmt.Errorf("doveadm -f json replicator status (users): %w", err)
	}
	out := make([]User, 0, len(rows))
	for i, row := range rows {
		u, err := userFrom(row)
		if err != nil {
			return nil, fmt.Errorf("doveadm -f json replicator status (users): element #%d: %w", i+1, err)
		}
		out = append(out, u)
	}
	return out, nil
}

func userFrom(v map[string]string) (User, error) {
	u := User{Username: v["username"], Priority: v["priority"]}
	if _, ok := v["username"]; !ok {
		return u, errors.New("field \"username\" missing")
	}
	fl, ok := v["failed"]
	if !ok {
		return u, errors.New("field \"failed\" missing")
	}
	switch fl {
	case "y", "yes", "1", "true":
		u.Failed = true
	case "-", "n", "no", "0", "false", "":
	default:
		return u, fmt.Errorf("field \"failed\": %q is not y or -", parseutil.ClipASCII(fl, 80))
	}
	for _, c := range []struct {
		key string
		dst **time.Duration
	}{{"fast sync", &u.FastSync}, {"full sync", &u.FullSync}, {"success sync", &u.SuccessSync}} {
		s, ok := v[c.key]
		if !ok {
			continue
		}
		d, err := ago(s)
		if err != nil {
			return u, fmt.Errorf("field %q: %w", c.key, err)
		}
		*c.dst = d
	}
	return u, nil
}

// ago parses doveadm's "HH:MM:SS" (hours may exceed 24; "N days HH:MM:SS"
// is tolerated) and "-" (never).
func ago(s string) (*time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "-" || s == "" {
		return nil, nil
	}
	var days int64
	if d, rest, ok := strings.Cut(s, " "); ok {
		n, err := strconv.ParseInt(d, 10, 32)
		rest = strings.TrimSpace(rest)
		unit, hms, _ := strings.Cut(rest, " ")
		if err != nil || n < 0 || n > 100000 || !strings.HasPrefix(unit, "day") {
			return nil, fmt.Errorf("%q is not HH:MM:SS", parseutil.ClipASCII(s, 80))
		}
		days, s = n, strings.TrimSpace(hms)
	}
	p := strings.Split(s, ":")
	if len(p) != 3 {
		return nil, fmt.Errorf("%q is not HH:MM:SS", parseutil.ClipASCII(s, 80))
	}
	var n [3]int64
	for i, x := range p {
		v, err := strconv.ParseInt(x, 10, 32)
		if err != nil || v < 0 || (i > 0 && v > 59) || v > 10000000 {
			return nil, fmt.Errorf("%q is not HH:MM:SS", parseutil.ClipASCII(s, 80))
		}
		n[i] = v
	}
	d := time.Duration(days*86400+n[0]*3600+n[1]*60+n[2]) * time.Second
	return &d, nil
}

// DsyncSlot is one row of `doveadm replicator dsync-status`: one of the
// replication_max_conns connections to the peer.
type DsyncSlot struct {
	Username string // "" for an idle slot
	Type     string // incremental, normal, full, "-"
	Status   string // Idle, Not connected, Waiting for handshake, ...
}

// ParseDsyncStatus parses the dsync-status table (header "username type
// status"). A row starting with blanks has no username.
func ParseDsyncStatus(r io.Reader) ([]DsyncSlot, error) {
	var out []DsyncSlot
	header := false
	err := eachLine(r, func(lineNo int, line string) error {
		f := strings.Fields(line)
		if !header {
			if len(f) < 3 || f[0] != "username" || f[1] != "type" || f[2] != "status" {
				return fmt.Errorf("expected the header \"username type status\", got %q", parseutil.ClipASCII(line, 80))
			}
			header = true
			return nil
		}
		s := DsyncSlot{}
		if line[0] != ' ' && line[0] != '\t' {
			s.Username, f = f[0], f[1:]
		}
		if len(f) < 2 {
			return fmt.Errorf("expected \"[username] type status\", got %q", parseutil.ClipASCII(line, 80))
		}
		s.Type, s.Status = f[0], strings.Join(f[1:], " ")
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("doveadm replicator dsync-status: %w", err)
	}
	if !header {
		return nil, errors.New("doveadm replicator dsync-status: no header (empty output?)")
	}
	return out, nil
}

// inFlight counts the dsync slots busy with a user.
func inFlight(slots []DsyncSlot) int {
	busy := 0
	for _, s := range slots {
		if s.Username != "" {
			busy++
		}
	}
	return busy
}

// PeerReachable infers from the dsync slots whether the replica peer is
// reachable: true when a slot is connected (Idle, Waiting for handshake,
// Waiting for dsync to finish), else false when a slot reports "Failed to
// connect", else unknown (ok false: e.g. every slot "Not connected", which
// only means nothing is being synced now).
func PeerReachable(slots []DsyncSlot) (up, ok bool) {
	failed := false
	for _, s := range slots {
		switch {
		case s.Status == "Idle" || strings.HasPrefix(s.Status, "Waiting for"):
			return true, true
		case strings.HasPrefix(s.Status, "Failed to connect"):
			failed = true
		}
	}
	return false, failed
}

// Input is what NodeFacts maps; any part may be nil.
type Input struct {
	Overview *Overview
	Users    *UserCounts
	Dsync    []DsyncSlot
	// Peer is the node name of the replica (mail_replica) for PeerUp.
	Peer string
}

// NodeFacts maps replicator state onto the local node's sync facts:
//
//   - out_of_sync when a user's last replication failed (users table) or
//     the overview has failed requests (Queued 'failed' or Waiting
//     'failed' > 0);
//   - else syncing when requests are queued (sync + high + low + full
//     resync > 0); SyncPending["items"] is that sum;
//   - else synced; unknown when there is no overview and no user table.
//
// PeerUp[Peer] is set when the dsync slots tell (see PeerReachable).
// Dovecot replication is master/master, so no role is reported.
func NodeFacts(in Input) *facts.Node {
	n := &facts.Node{}
	var causes []string
	failedUsers := 0
	if in.Users != nil {
		failedUsers = in.Users.Failed
	}
	var pending int64
	failedReq := int64(0)
	if in.Overview != nil {
		for k, v := range in.Overview.Queued {
			if k == "failed" {
				failedReq += v
			} else {
				pending += v
			}
		}
		failedReq += in.Overview.WaitingFailed
		n.SyncPending = map[string]float64{"items": float64(pending)}
	}
	switch {
	case in.Overview == nil && in.Users == nil:
		n.SyncState = facts.SyncUnknown
		causes = append(causes, "no replicator status")
	case failedUsers > 0 || failedReq > 0:
		n.SyncState = facts.SyncOutOfSync
		if failedUsers > 0 {
			causes = append(causes, fmt.Sprintf("replication failed for %d users", failedUsers))
		}
		if failedReq > 0 {
			causes = append(causes, fmt.Sprintf("%d failed replication requests", failedReq))
		}
	case pending > 0 || inFlight(in.Dsync) > 0:
		// queued requests, or a dsync running right now (a slot busy with
		// a user: nothing is queued while the only change is being synced)
		n.SyncState = facts.SyncSyncing
	default:
		n.SyncState = facts.SyncSynced
	}
	if in.Peer != "" {
		if up, ok := PeerReachable(in.Dsync); ok {
			n.PeerUp = map[string]bool{in.Peer: up}
			if !up {
				causes = append(causes, "dsync cannot connect to "+in.Peer)
			}
		}
	}
	n.RoleCause = strings.Join(causes, "; ")
	return n
}

// eachLine calls fn with every non-blank line, right-trimmed, and names the
// line in fn's errors.
func eachLine(r io.Reader, fn func(int, string) error) error {
	return parseutil.ScanLines(r, "dovecot", maxLine, func(n int, text string) error {
		line := strings.TrimRight(text, " \t\r")
		if strings.TrimSpace(line) == "" {
			return nil
		}
		if err := fn(n, line); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		return nil
	})
}

func decodeJSON(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("line %d: %w", parseutil.LineOf(b, se.Offset), err)
		case errors.As(err, &te):
			return fmt.Errorf("line %d: %w", parseutil.LineOf(b, te.Offset), err)
		}
		return err
	}
	return nil
}
