// Package contract parses the generic JSON contract of DESIGN.md §4: what
// a command or HTTP adapter prints for systems without a native parser
// (appliances). Parsing is strict: an unknown field or an invalid value is
// an error naming it; a missing field means "not reported".
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

// Document is the top-level object.
type Document struct {
	Nodes []Node `json:"nodes"`
}

// Node is what the adapter knows about one node.
type Node struct {
	Node              string           `json:"node"`
	Role              *string          `json:"role"`
	RedundancyEnabled *bool            `json:"redundancy_enabled"`
	PeerUp            json.RawMessage  `json:"peer_up"` // true/false (every other node) or {"peer": bool}
	SyncState         *string          `json:"sync_state"`
	SyncProgress      *float64         `json:"sync_progress"`
	SyncLagSeconds    *float64         `json:"sync_lag_seconds"`
	SyncPendingBytes  *float64         `json:"sync_pending_bytes"`
	SyncPendingItems  *float64         `json:"sync_pending_items"`
	Version           *string          `json:"version"`
	RestartRequired   *bool            `json:"restart_required"`
	Queues            map[string]Queue `json:"queues"`
	LastRoleChange    *float64         `json:"last_role_change_timestamp"`
}

// Queue is one queue's size.
type Queue struct {
	Messages         float64  `json:"messages"`
	Bytes            float64  `json:"bytes"`
	OldestAgeSeconds *float64 `json:"oldest_age_seconds"`
}

var roles = map[string]facts.Role{}
var syncStates = map[string]facts.SyncState{}

func init() {
	for _, r := range facts.Roles {
		roles[string(r)] = r
	}
	for _, s := range facts.SyncStates {
		syncStates[string(s)] = s
	}
}

// Parse reads a document. allNodes are the cluster's node names, used to
// expand a boolean peer_up into one fact per other node.
func Parse(data []byte, allNodes []string) (facts.Set, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, describe(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON document")
	}
	if doc.Nodes == nil {
		return nil, errors.New(`field "nodes": required`)
	}
	set := facts.Set{}
	for i, n := range doc.Nodes {
		if err := n.into(set, allNodes); err != nil {
			return nil, fmt.Errorf("nodes[%d]: %w", i, err)
		}
	}
	return set, nil
}

func (n Node) into(set facts.Set, allNodes []string) error {
	if n.Node == "" {
		return errors.New(`field "node": required`)
	}
	if _, dup := set[n.Node]; dup {
		return fmt.Errorf(`field "node": %q is reported twice`, n.Node)
	}
	f := set.Node(n.Node)
	if n.Role != nil {
		r, ok := roles[*n.Role]
		if !ok {
			r, ok = OperatingStatusRole(*n.Role)
		}
		if !ok {
			return fmt.Errorf(`field "role": unknown role %q`, *n.Role)
		}
		f.Role = r
	}
	f.RedundancyEnabled = n.RedundancyEnabled
	if len(n.PeerUp) > 0 && string(n.PeerUp) != "null" {
		var b bool
		var m map[string]bool
		switch {
		case json.Unmarshal(n.PeerUp, &b) == nil:
			f.PeerUp = map[string]bool{}
			for _, other := range allNodes {
				if other != n.Node {
					f.PeerUp[other] = b
				}
			}
		case json.Unmarshal(n.PeerUp, &m) == nil:
			f.PeerUp = m
		default:
			return fmt.Errorf(`field "peer_up": want true/false or {"peer": true/false}, got %s`, parseutil.Clip(string(n.PeerUp), 40))
		}
	}
	if n.SyncState != nil {
		s, ok := syncStates[*n.SyncState]
		if !ok {
			return fmt.Errorf(`field "sync_state": unknown state %q`, *n.SyncState)
		}
		f.SyncState = s
	}
	if p := n.SyncProgress; p != nil {
		if *p < 0 || *p > 1 {
			return fmt.Errorf(`field "sync_progress": must be between 0 and 1, got %g`, *p)
		}
		f.SyncProgress = p
	}
	for field, v := range map[string]*float64{"sync_lag_seconds": n.SyncLagSeconds, "sync_pending_bytes": n.SyncPendingBytes,
		"sync_pending_items": n.SyncPendingItems, "last_role_change_timestamp": n.LastRoleChange} {
		if v != nil && *v < 0 {
			return fmt.Errorf(`field %q: must not be negative, got %g`, field, *v)
		}
	}
	f.SyncLagSeconds = n.SyncLagSeconds
	if n.SyncPendingBytes != nil || n.SyncPendingItems != nil {
		f.SyncPending = map[string]float64{}
		if n.SyncPendingBytes != nil {
			f.SyncPending["bytes"] = *n.SyncPendingBytes
		}
		if n.SyncPendingItems != nil {
			f.SyncPending["items"] = *n.SyncPendingItems
		}
	}
	if n.Version != nil {
		f.Version = strings.TrimSpace(*n.Version)
	}
	f.RestartRequired = n.RestartRequired
	if n.LastRoleChange != nil {
		f.LastRoleChange = *n.LastRoleChange
	}
	for name, q := range n.Queues {
		if name == "" {
			return errors.New(`field "queues": empty queue name`)
		}
		if q.Messages < 0 || q.Bytes < 0 || q.OldestAgeSeconds != nil && *q.OldestAgeSeconds < 0 {
			return fmt.Errorf(`field "queues": queue %q: messages, bytes and oldest_age_seconds must not be negative`, name)
		}
		if f.Queues == nil {
			f.Queues = map[string]facts.Queue{}
		}
		f.Queues[name] = facts.Queue{Messages: q.Messages, Bytes: q.Bytes, OldestAgeSeconds: q.OldestAgeSeconds}
	}
	return nil
}

// OperatingStatusRole maps an appliance's operating status (the Active
// Monitor's 稼働状態 line, seed 000 §3.5: "アクティブで動作しています" /
// "スタンバイで動作しています") to a role, so an adapter may pass the screen
// text through as `role` unchanged.
func OperatingStatusRole(text string) (facts.Role, bool) {
	t := strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(t, "アクティブ"):
		return facts.RoleActive, true
	case strings.HasPrefix(t, "スタンバイ"):
		return facts.RoleStandby, true
	}
	return "", false
}

// describe turns encoding/json errors into messages with a line number.
func describe(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("line %d: invalid JSON: %w", parseutil.LineOf(data, syn.Offset), err)
	case errors.As(err, &typ):
		return fmt.Errorf("line %d: field %q: want %s, got JSON %s", parseutil.LineOf(data, typ.Offset), typ.Field, typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fmt.Errorf("%s (known: node, role, redundancy_enabled, peer_up, sync_state, sync_progress, sync_lag_seconds, sync_pending_bytes, sync_pending_items, version, restart_required, queues, last_role_change_timestamp)", strings.TrimPrefix(err.Error(), "json: "))
	}
	return err
}
