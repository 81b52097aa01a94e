package drbd

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// maxLine bounds one input line (bufio.Scanner fails cleanly beyond it).
const maxLine = 64 * 1024

// ParseStatus parses the text of `drbdadm status` or `drbdsetup status`
// (also with --verbose --statistics) of DRBD 9:
//
//	<res> role:<Role> [suspended:<why>] ...           (column 0)
//	  [volume:<n>] disk:<state> ...                    local volume
//	  <peer> role:<Role> | <peer> connection:<State>   a connection
//	    [volume:<n>] [replication:<state>] peer-disk:<state> [done:<pct>]
//
// A line that starts with key:value continues the innermost open object
// (that is how --verbose output wraps its long lines). Unknown keys are
// ignored. Errors name the line.
func ParseStatus(r io.Reader) ([]Resource, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var out []Resource
	var (
		res  *Resource
		dev  *Device
		conn *Connection
		pd   *PeerDevice
	)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(out) == 0 && isPromptLine(line) {
			continue // "# drbdadm status home" at the top of a paste
		}
		fields := strings.Fields(line)
		first := fields[0]
		indented := line[0] == ' ' || line[0] == '\t'
		kv := fields
		switch {
		case !indented:
			if strings.Contains(first, ":") {
				return nil, fmt.Errorf("drbd status: line %d: expected a resource name at column 0, got %q", lineNo, first)
			}
			out = append(out, Resource{Name: first})
			res = &out[len(out)-1]
			dev, conn, pd = nil, nil, nil
			kv = fields[1:]
		case res == nil:
			return nil, fmt.Errorf("drbd status: line %d: indented line before any resource", lineNo)
		case !strings.Contains(first, ":"):
			res.Connections = append(res.Connections, Connection{Peer: first})
			conn = &res.Connections[len(res.Connections)-1]
			dev, pd = nil, nil
			kv = fields[1:]
		}
		for _, f := range kv {
			k, v, ok := strings.Cut(f, ":")
			if !ok || k == "" {
				return nil, fmt.Errorf("drbd status: line %d: field %q is not key:value", lineNo, f)
			}
			switch {
			case k == "volume":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("drbd status: line %d: bad volume %q", lineNo, v)
				}
				if conn != nil {
					conn.PeerDevices = append(conn.PeerDevices, PeerDevice{Volume: n})
					pd = &conn.PeerDevices[len(conn.PeerDevices)-1]
				} else {
					res.Devices = append(res.Devices, Device{Volume: n, Minor: -1})
					dev = &res.Devices[len(res.Devices)-1]
				}
			case conn != nil:
				if err := setConn(conn, &pd, k, v); err != nil {
					return nil, fmt.Errorf("drbd status: line %d: %w", lineNo, err)
				}
			default:
				if err := setLocal(res, &dev, k, v); err != nil {
					return nil, fmt.Errorf("drbd status: line %d: %w", lineNo, err)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("drbd status: line %d: %w", lineNo+1, err)
	}
	for i := range out {
		for j := range out[i].Connections {
			c := &out[i].Connections[j]
			// drbdadm prints connection: only when not Connected, and
			// replication: only when not Established.
			if c.ConnectionState == "" {
				c.ConnectionState = "Connected"
			}
			if c.ConnectionState == "Connected" {
				for k := range c.PeerDevices {
					if c.PeerDevices[k].ReplicationState == "" {
						c.PeerDevices[k].ReplicationState = "Established"
					}
				}
			}
		}
	}
	return out, nil
}

// number parses a non-negative finite decimal number ("1,234" allowed).
func number(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("%q is not a finite non-negative number", s)
	}
	return f, nil
}

func setLocal(res *Resource, dev **Device, k, v string) error {
	switch k {
	case "role":
		res.Role = v
	case "suspended":
		res.Suspended = v
	case "disk", "minor", "client":
		if *dev == nil {
			res.Devices = append(res.Devices, Device{Volume: 0, Minor: -1})
			*dev = &res.Devices[len(res.Devices)-1]
		}
		switch k {
		case "disk":
			(*dev).DiskState = v
		case "minor":
			if n, err := strconv.Atoi(v); err == nil {
				(*dev).Minor = n
			}
		case "client":
			(*dev).Client = v == "yes"
		}
	}
	return nil
}

// peer-device keys open an implicit volume 0 when no volume: was given.
var peerDeviceKeys = map[string]bool{
	"replication": true, "peer-disk": true, "disk": true, "done": true,
	"resync-suspended": true, "out-of-sync": true, "peer-client": true,
}

func setConn(conn *Connection, pd **PeerDevice, k, v string) error {
	if peerDeviceKeys[k] && *pd == nil {
		conn.PeerDevices = append(conn.PeerDevices, PeerDevice{Volume: 0})
		*pd = &conn.PeerDevices[len(conn.PeerDevices)-1]
	}
	switch k {
	case "role":
		conn.PeerRole = v
	case "connection":
		conn.ConnectionState = v
	case "replication":
		(*pd).ReplicationState = v
	case "peer-disk", "disk": // older drbdadm prints disk: for the peer
		(*pd).PeerDiskState = v
	case "resync-suspended":
		(*pd).ResyncSuspended = v
	case "peer-client":
		(*pd).PeerClient = v == "yes"
	case "done":
		f, err := number(v)
		if err != nil || f > 100 {
			return fmt.Errorf("bad done:%s", v)
		}
		(*pd).Done = fptr(f)
	case "out-of-sync":
		f, err := number(v)
		if err != nil {
			return fmt.Errorf("bad out-of-sync:%s", v)
		}
		(*pd).OutOfSyncKiB = fptr(f)
	}
	return nil
}
