package drbd

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

// PeerName8 is the peer name used for /proc/drbd, which does not name it.
const PeerName8 = "peer"

// connected8 are the 8.x cs: states in which the replication link is up.
var connected8 = map[string]bool{
	"Connected": true, "StartingSyncS": true, "StartingSyncT": true,
	"WFBitMapS": true, "WFBitMapT": true, "WFSyncUUID": true,
	"SyncSource": true, "SyncTarget": true, "PausedSyncS": true, "PausedSyncT": true,
	"VerifyS": true, "VerifyT": true, "Ahead": true, "Behind": true,
}

// ParseProc parses /proc/drbd of DRBD 8.0 to 8.4:
//
//	version: 8.4.2 (api:1/proto:86-101)
//	 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----
//	    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
//	        [=======>............] sync'ed: 44.4% (588416/1048576)K
//	        finish: 0:00:08 speed: 65,736 (65,736) want: 61,440 K/sec
//
// 8.0 prints st: instead of ro:. The finish: text may be glued to the
// sync'ed line (a kernel 2.6.39 quirk). Every minor becomes a Resource named
// by its number; a configured minor has one connection to PeerName8, whose
// ConnectionState is "Connected" when cs: implies a live link and the cs:
// value otherwise, and whose peer device carries cs: as ReplicationState
// ("Established" for cs:Connected). Unknown indented lines are ignored; an
// unknown line at column 0 is an error naming the line.
func ParseProc(r io.Reader) ([]Resource, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var out []Resource
	var cur *Resource
	lineNo := 0
	seenVersion := false
	for sc.Scan() {
		lineNo++
		raw := strings.ReplaceAll(sc.Text(), "\x00", "")
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if !seenVersion && len(out) == 0 && isPromptLine(line) {
			continue // "# cat /proc/drbd" at the top of a paste
		}
		indented := raw[0] == ' ' || raw[0] == '\t'
		fields := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "version:"):
			seenVersion = true
		case strings.HasPrefix(line, "GIT-hash:"), strings.HasPrefix(line, "srcversion:"):
		case isMinor(fields[0]):
			res, err := procMinor(fields)
			if err != nil {
				return nil, fmt.Errorf("/proc/drbd: line %d: %w", lineNo, err)
			}
			out = append(out, res)
			cur = &out[len(out)-1]
		case !indented:
			return nil, fmt.Errorf("/proc/drbd: line %d: unexpected line %q", lineNo, parseutil.ClipASCII(line, 80))
		case cur == nil:
			return nil, fmt.Errorf("/proc/drbd: line %d: indented line before any minor", lineNo)
		case strings.Contains(line, "sync'ed:") || strings.Contains(line, "verified:"):
			if err := procProgress(cur, line); err != nil {
				return nil, fmt.Errorf("/proc/drbd: line %d: %w", lineNo, err)
			}
		case strings.HasPrefix(line, "ns:") || strings.Contains(line, " oos:"):
			for _, f := range fields {
				if v, ok := strings.CutPrefix(f, "oos:"); ok {
					n, err := number(v)
					if err != nil {
						return nil, fmt.Errorf("/proc/drbd: line %d: bad oos:%s", lineNo, v)
					}
					if pd := peerDevice(cur); pd != nil {
						pd.OutOfSyncKiB = fptr(n)
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/proc/drbd: line %d: %w", lineNo+1, err)
	}
	if !seenVersion && len(out) == 0 {
		return nil, fmt.Errorf("/proc/drbd: no version line and no minor (empty input?)")
	}
	return out, nil
}

func isMinor(f string) bool {
	n, ok := strings.CutSuffix(f, ":")
	if !ok || n == "" || len(n) > 9 {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func procMinor(fields []string) (Resource, error) {
	minor, _ := strconv.Atoi(strings.TrimSuffix(fields[0], ":"))
	res := Resource{Name: strconv.Itoa(minor)}
	var cs, lrole, prole, ldisk, pdisk string
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			continue // protocol letter and flags
		}
		switch k {
		case "cs":
			cs = v
		case "ro", "st":
			lrole, prole, ok = strings.Cut(v, "/")
			if !ok {
				return res, fmt.Errorf("minor %d: field %s:%s is not local/peer", minor, k, v)
			}
		case "ds":
			ldisk, pdisk, ok = strings.Cut(v, "/")
			if !ok {
				return res, fmt.Errorf("minor %d: field ds:%s is not local/peer", minor, v)
			}
		}
	}
	if cs == "" {
		return res, fmt.Errorf("minor %d: no cs: field", minor)
	}
	if cs == "Unconfigured" {
		res.Unconfigured = true
		return res, nil
	}
	res.Role = lrole
	res.Devices = []Device{{Volume: 0, Minor: minor, DiskState: ldisk}}
	conn := Connection{Peer: PeerName8, ConnectionState: cs, PeerRole: prole}
	repl := cs
	if connected8[cs] {
		conn.ConnectionState = "Connected"
		if cs == "Connected" {
			repl = "Established"
		}
	} else {
		repl = "Off"
	}
	conn.PeerDevices = []PeerDevice{{Volume: 0, ReplicationState: repl, PeerDiskState: pdisk}}
	res.Connections = []Connection{conn}
	return res, nil
}

func peerDevice(r *Resource) *PeerDevice {
	if len(r.Connections) == 0 || len(r.Connections[0].PeerDevices) == 0 {
		return nil
	}
	return &r.Connections[0].PeerDevices[0]
}

// procProgress reads "[==>...] sync'ed: 68.5% (335744/1048576)K".
func procProgress(r *Resource, line string) error {
	_, rest, ok := strings.Cut(line, "sync'ed:")
	if !ok {
		_, rest, _ = strings.Cut(line, "verified:")
	}
	rest = strings.TrimSpace(rest)
	pct, _, ok := strings.Cut(rest, "%")
	if !ok {
		return fmt.Errorf("progress %q has no %%", parseutil.ClipASCII(rest, 80))
	}
	f, err := number(strings.TrimSpace(pct))
	if err != nil || f > 100 {
		return fmt.Errorf("bad progress percentage %q", parseutil.ClipASCII(pct, 80))
	}
	if pd := peerDevice(r); pd != nil {
		pd.Done = fptr(f)
	}
	return nil
}
