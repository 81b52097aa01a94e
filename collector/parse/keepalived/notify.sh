#!/bin/sh
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
