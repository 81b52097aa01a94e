package keepalived

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
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
// MAILCLUSTER_KEEPALIVED_STATE overrides the path.
const NotifyScript = `#!/bin/sh
# keepalived notify script for mailcluster_exporter: records the VRRP state
# of each instance/group in a state file, one line per instance:
#   TYPE NAME STATE PRIORITY UNIX_TIME
# keepalived.conf:  notify /usr/local/libexec/mailcluster/keepalived-notify
set -eu
STATE_FILE=${MAILCLUSTER_KEEPALIVED_STATE:-/run/mailcluster/keepalived.state}
type=${1:?TYPE} name=${2:?NAME} state=${3:?STATE} prio=${4:-0}
case "$type $name $state $prio" in
*[!A-Za-z0-9_.:\ -]*) echo "keepalived-notify: refusing odd argument" >&2; exit 1 ;;
esac
dir=$(dirname "$STATE_FILE")
mkdir -p "$dir"
exec 9>"$dir/.keepalived.state.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
tmp=$(mktemp "$dir/.keepalived.state.XXXXXX")
{
	echo "# written by keepalived-notify: TYPE NAME STATE PRIORITY UNIX_TIME"
	if [ -f "$STATE_FILE" ]; then
		awk -v t="$type" -v n="$name" '$1 !~ /^#/ && !($1 == t && $2 == n)' "$STATE_FILE"
	fi
	printf '%s %s %s %s %s\n' "$type" "$name" "$state" "$prio" "$(date +%s)"
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$STATE_FILE"
`

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
			return nil, fmt.Errorf("keepalived state file: line %d: field TYPE: %q is not INSTANCE or GROUP", lineNo, clip(f[0]))
		}
		prio, err := strconv.Atoi(f[3])
		if err != nil {
			return nil, fmt.Errorf("keepalived state file: line %d: field PRIORITY: %q is not an integer", lineNo, clip(f[3]))
		}
		ts, err := strconv.ParseFloat(f[4], 64)
		if err != nil || ts < 0 || ts > 1e11 || ts != ts {
			return nil, fmt.Errorf("keepalived state file: line %d: field UNIX_TIME: bad time %q", lineNo, clip(f[4]))
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
