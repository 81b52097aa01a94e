package drbd

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseEvents2 parses `drbdsetup events2 --now [--statistics]` of DRBD 9:
//
//	exists resource name:r0 role:Secondary suspended:no
//	exists connection name:r0 peer-node-id:1 conn-name:peer connection:Connected role:Secondary
//	exists device name:r0 volume:0 minor:7 disk:UpToDate
//	exists peer-device name:r0 peer-node-id:1 conn-name:peer volume:0 replication:Established peer-disk:UpToDate
//	exists -
//
// Events after the initial state (create, change, destroy; with or without
// a leading timestamp) are applied in order, so a recorded event stream
// yields the final state. An indented line continues the previous one
// (wrapped output). path and helper events and unknown keys are ignored.
// Errors name the line.
func ParseEvents2(r io.Reader) ([]Resource, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	st := &events2State{}
	var pending []string
	pendingLine := 0
	flush := func() error {
		if pending == nil {
			return nil
		}
		err := st.apply(pending)
		pending = nil
		if err != nil {
			return fmt.Errorf("drbd events2: line %d: %w", pendingLine, err)
		}
		return nil
	}
	lineNo := 0
	seen := false
	for sc.Scan() {
		lineNo++
		raw := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(raw) == "" {
			continue
		}
		if !seen && isPromptLine(raw) {
			continue
		}
		seen = true
		if raw[0] == ' ' || raw[0] == '\t' {
			if pending == nil {
				return nil, fmt.Errorf("drbd events2: line %d: continuation line before any event", lineNo)
			}
			pending = append(pending, strings.Fields(raw)...)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		pending, pendingLine = strings.Fields(raw), lineNo
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("drbd events2: line %d: %w", lineNo+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return st.resources(), nil
}

// isPromptLine says whether a line is the shell prompt and command that
// pasted outputs often start with ("$ drbdadm status", "# cat /proc/drbd").
func isPromptLine(line string) bool {
	return strings.HasPrefix(line, "$ ") || strings.HasPrefix(line, "# ")
}

// events2State is the state built from the events so far, in the order
// objects appeared.
type events2State struct {
	res []*Resource
}

func (s *events2State) resource(name string, create bool) *Resource {
	for _, r := range s.res {
		if r.Name == name {
			return r
		}
	}
	if !create {
		return nil
	}
	r := &Resource{Name: name}
	s.res = append(s.res, r)
	return r
}

func (s *events2State) resources() []Resource {
	out := make([]Resource, len(s.res))
	for i, r := range s.res {
		out[i] = *r
	}
	return out
}

// apply applies one event: [timestamp] verb object key:value...
func (s *events2State) apply(f []string) error {
	if len(f) > 0 && f[0] != "" && f[0][0] >= '0' && f[0][0] <= '9' {
		f = f[1:] // --timestamps
	}
	if len(f) == 0 {
		return nil
	}
	verb := f[0]
	switch verb {
	case "exists", "create", "change", "destroy":
	case "call", "response":
		return nil // helper scripts
	default:
		return fmt.Errorf("unknown event %q", clipWord(verb))
	}
	if len(f) < 2 || f[1] == "-" {
		return nil // "exists -": end of the initial state
	}
	obj := f[1]
	kv := map[string]string{}
	for _, w := range f[2:] {
		k, v, ok := strings.Cut(w, ":")
		if !ok || k == "" {
			return fmt.Errorf("field %q is not key:value", clipWord(w))
		}
		kv[k] = v
	}
	name := kv["name"]
	if name == "" && obj != "helper" {
		return fmt.Errorf("%s event without name:", obj)
	}
	create := verb != "destroy"
	switch obj {
	case "resource":
		if verb == "destroy" {
			for i, r := range s.res {
				if r.Name == name {
					s.res = append(s.res[:i], s.res[i+1:]...)
					break
				}
			}
			return nil
		}
		r := s.resource(name, true)
		if v, ok := kv["role"]; ok {
			r.Role = v
		}
		if v, ok := kv["suspended"]; ok {
			r.Suspended = v
		}
	case "device":
		r := s.resource(name, create)
		vol, err := volumeOf(kv)
		if err != nil || r == nil {
			return err
		}
		i := deviceIndex(r, vol)
		if verb == "destroy" {
			if i >= 0 {
				r.Devices = append(r.Devices[:i], r.Devices[i+1:]...)
			}
			return nil
		}
		if i < 0 {
			r.Devices = append(r.Devices, Device{Volume: vol, Minor: -1})
			i = len(r.Devices) - 1
		}
		d := &r.Devices[i]
		if v, ok := kv["minor"]; ok {
			if m, err := strconv.Atoi(v); err == nil {
				d.Minor = m
			}
		}
		if v, ok := kv["disk"]; ok {
			d.DiskState = v
		}
		if v, ok := kv["client"]; ok {
			d.Client = v == "yes"
		}
	case "connection", "peer-device":
		r := s.resource(name, create)
		if r == nil {
			return nil
		}
		peer := kv["conn-name"]
		if peer == "" {
			peer = "node-id-" + kv["peer-node-id"]
		}
		ci := connectionIndex(r, peer)
		if obj == "connection" && verb == "destroy" {
			if ci >= 0 {
				r.Connections = append(r.Connections[:ci], r.Connections[ci+1:]...)
			}
			return nil
		}
		if ci < 0 {
			if verb == "destroy" {
				return nil
			}
			r.Connections = append(r.Connections, Connection{Peer: peer})
			ci = len(r.Connections) - 1
		}
		c := &r.Connections[ci]
		if obj == "connection" {
			if v, ok := kv["connection"]; ok {
				c.ConnectionState = v
			}
			if v, ok := kv["role"]; ok {
				c.PeerRole = v
			}
			return nil
		}
		vol, err := volumeOf(kv)
		if err != nil {
			return err
		}
		pi := -1
		for j := range c.PeerDevices {
			if c.PeerDevices[j].Volume == vol {
				pi = j
			}
		}
		if verb == "destroy" {
			if pi >= 0 {
				c.PeerDevices = append(c.PeerDevices[:pi], c.PeerDevices[pi+1:]...)
			}
			return nil
		}
		if pi < 0 {
			c.PeerDevices = append(c.PeerDevices, PeerDevice{Volume: vol})
			pi = len(c.PeerDevices) - 1
		}
		pd := &c.PeerDevices[pi]
		if v, ok := kv["replication"]; ok {
			pd.ReplicationState = v
			if !syncingStates[v] {
				pd.Done = nil // a finished resync leaves no progress behind
			}
		}
		if v, ok := kv["peer-disk"]; ok {
			pd.PeerDiskState = v
		}
		if v, ok := kv["resync-suspended"]; ok {
			pd.ResyncSuspended = v
		}
		if v, ok := kv["peer-client"]; ok {
			pd.PeerClient = v == "yes"
		}
		if v, ok := kv["done"]; ok {
			f, err := number(v)
			if err != nil || f > 100 {
				return fmt.Errorf("bad done:%s", clipWord(v))
			}
			pd.Done = fptr(f)
		}
		if v, ok := kv["out-of-sync"]; ok {
			f, err := number(v)
			if err != nil {
				return fmt.Errorf("bad out-of-sync:%s", clipWord(v))
			}
			pd.OutOfSyncKiB = fptr(f)
		}
	}
	return nil
}

func volumeOf(kv map[string]string) (int, error) {
	v, ok := kv["volume"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad volume %q", clipWord(v))
	}
	return n, nil
}

func deviceIndex(r *Resource, vol int) int {
	for i := range r.Devices {
		if r.Devices[i].Volume == vol {
			return i
		}
	}
	return -1
}

func connectionIndex(r *Resource, peer string) int {
	for i := range r.Connections {
		if r.Connections[i].Peer == peer {
			return i
		}
	}
	return -1
}

func clipWord(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
