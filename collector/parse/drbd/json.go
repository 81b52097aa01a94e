package drbd

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

type jsonResource struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	Suspended any    `json:"suspended"`
	Devices   []struct {
		Volume    int    `json:"volume"`
		Minor     *int   `json:"minor"`
		DiskState string `json:"disk-state"`
		Client    bool   `json:"client"`
	} `json:"devices"`
	Connections []struct {
		Name            string `json:"name"`
		PeerNodeID      *int   `json:"peer-node-id"`
		ConnectionState string `json:"connection-state"`
		PeerRole        string `json:"peer-role"`
		PeerDevices     []struct {
			Volume           int      `json:"volume"`
			ReplicationState string   `json:"replication-state"`
			PeerDiskState    string   `json:"peer-disk-state"`
			PeerClient       bool     `json:"peer-client"`
			ResyncSuspended  string   `json:"resync-suspended"`
			OutOfSync        *float64 `json:"out-of-sync"`
			PercentInSync    *float64 `json:"percent-in-sync"`
			HasSyncDetails   bool     `json:"has-sync-details"`
			PercentDone      *float64 `json:"percent-resync-done"`
		} `json:"peer_devices"`
	} `json:"connections"`
}

// ParseJSON parses `drbdsetup status --json`. Bare nan/inf tokens, which
// drbdsetup prints for unknown values (e.g. estimated-seconds-to-finish
// during a resync), are read as null.
func ParseJSON(b []byte) ([]Resource, error) {
	var in []jsonResource
	if err := json.Unmarshal(sanitizeJSON(b), &in); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := parseutil.Position(b, se.Offset)
			return nil, fmt.Errorf("drbdsetup status --json: line %d column %d: %w", line, col, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			line, col := parseutil.Position(b, te.Offset)
			return nil, fmt.Errorf("drbdsetup status --json: line %d column %d: field %q: %w", line, col, te.Field, err)
		}
		return nil, fmt.Errorf("drbdsetup status --json: %w", err)
	}
	out := make([]Resource, 0, len(in))
	for i, r := range in {
		if r.Name == "" {
			return nil, fmt.Errorf("drbdsetup status --json: resource #%d: field \"name\" missing", i+1)
		}
		res := Resource{Name: r.Name, Role: r.Role, Suspended: suspended(r.Suspended)}
		for _, d := range r.Devices {
			dev := Device{Volume: d.Volume, Minor: -1, DiskState: d.DiskState, Client: d.Client}
			if d.Minor != nil {
				dev.Minor = *d.Minor
			}
			res.Devices = append(res.Devices, dev)
		}
		for _, c := range r.Connections {
			conn := Connection{Peer: c.Name, ConnectionState: c.ConnectionState, PeerRole: c.PeerRole}
			if conn.Peer == "" && c.PeerNodeID != nil {
				conn.Peer = fmt.Sprintf("node-id:%d", *c.PeerNodeID)
			}
			for _, pd := range c.PeerDevices {
				p := PeerDevice{
					Volume: pd.Volume, ReplicationState: pd.ReplicationState,
					PeerDiskState: pd.PeerDiskState, PeerClient: pd.PeerClient,
					ResyncSuspended: pd.ResyncSuspended,
					OutOfSyncKiB:    finite(pd.OutOfSync), PercentInSync: finite(pd.PercentInSync),
				}
				if pd.HasSyncDetails {
					p.Done = finite(pd.PercentDone)
				}
				conn.PeerDevices = append(conn.PeerDevices, p)
			}
			res.Connections = append(res.Connections, conn)
		}
		out = append(out, res)
	}
	return out, nil
}

func suspended(v any) string {
	switch s := v.(type) {
	case bool:
		if s {
			return "yes"
		}
		return "no"
	case string:
		return s
	}
	return ""
}

func finite(f *float64) *float64 {
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) {
		return nil
	}
	return f
}

// sanitizeJSON replaces the bare words nan, -nan, inf, -inf, infinity
// (any case) outside strings with null, in one linear pass. Other bytes are
// kept, so offsets of syntax errors stay close to the original.
func sanitizeJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
			out = append(out, c)
			continue
		}
		if c == '-' || c == 'n' || c == 'N' || c == 'i' || c == 'I' {
			j := i
			if c == '-' {
				j++
			}
			k := j
			for k < len(b) && k-j <= 8 && isLetter(b[k]) { // bounded: no quadratic scans
				k++
			}
			switch lower(b[j:k]) {
			case "nan", "inf", "infinity":
				out = append(out, "null"...)
				i = k - 1
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func lower(b []byte) string {
	if len(b) > 8 {
		return ""
	}
	s := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		s[i] = c
	}
	return string(s)
}
