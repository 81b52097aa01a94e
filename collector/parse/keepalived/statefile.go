package keepalived

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailcluster/mailcluster_exporter/collector/parse/parseutil"
)

// NotifyScript is a keepalived notify script that maintains the state file
// read by ParseStateFile. Install it (mode 0755), e.g. as
// /usr/local/libexec/mailcluster/keepalived-notify, and name it in each
// vrrp_instance (or vrrp_sync_group) of keepalived.conf:
//
//	notify /usr/local/libexec/mailcluster/keepalived-notify
//
// keepalived runs it as `notify TYPE NAME STATE PRIORITY` on every
// transition. It keeps one line per instance/group and replaces the file
// atomically (write to a temporary file, then rename), under flock(1) when
// available since keepalived may run several notify scripts at once.
// MAILCLUSTER_KEEPALIVED_STATE overrides the path. The script is
// collector/parse/keepalived/notify.sh in the source tree.
//
//go:embed notify.sh
var NotifyScript string

// ParseStateFile parses the state file written by NotifyScript. Each
// non-blank line that does not start with '#' is
//
//	TYPE NAME STATE PRIORITY UNIX_TIME     e.g. INSTANCE VI_MAIL MASTER 150 1700000000
//
// where TYPE is INSTANCE or GROUP (keepalived's first notify argument),
// STATE is MASTER, BACKUP, FAULT, STOP or DELETED, PRIORITY an integer and
// UNIX_TIME the time of the transition (seconds, fractions allowed). Only
// INSTANCE lines become instances; GROUP lines are checked and skipped.
// The last line for a name wins. Errors name the line and field.
func ParseStateFile(r io.Reader) ([]Instance, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxLine)
	var out []Instance
	index := map[string]int{}
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			return nil, fmt.Errorf("keepalived state file: line %d: %d fields, want 5 (TYPE NAME STATE PRIORITY UNIX_TIME)", lineNo, len(f))
		}
		typ := strings.ToUpper(f[0])
		if typ != "INSTANCE" && typ != "GROUP" {
			return nil, fmt.Errorf("keepalived state file: line %d: field TYPE: %q is not INSTANCE or GROUP", lineNo, parseutil.ClipASCII(f[0], 80))
		}
		prio, err := strconv.Atoi(f[3])
		if err != nil {
			return nil, fmt.Errorf("keepalived state file: line %d: field PRIORITY: %q is not an integer", lineNo, parseutil.ClipASCII(f[3], 80))
		}
		ts, err := strconv.ParseFloat(f[4], 64)
		if err != nil || ts < 0 || ts > 1e11 || ts != ts {
			return nil, fmt.Errorf("keepalived state file: line %d: field UNIX_TIME: bad time %q", lineNo, parseutil.ClipASCII(f[4], 80))
		}
		if typ == "GROUP" {
			continue
		}
		in := Instance{Name: f[1], State: strings.ToUpper(f[2]), Priority: prio, LastTransition: ts}
		if i, ok := index[in.Name]; ok {
			out[i] = in
			continue
		}
		index[in.Name] = len(out)
		out = append(out, in)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keepalived state file: line %d: %w", lineNo+1, err)
	}
	return out, nil
}
