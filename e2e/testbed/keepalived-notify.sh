#!/bin/sh
# keepalived notify script of the e2e testbed.
#   keepalived.conf:  notify "<this script> <state file>"
#   keepalived appends: TYPE (INSTANCE|GROUP)  NAME  STATE (MASTER|BACKUP|FAULT|STOP)  PRIORITY
# The state file gets exactly one line, replaced atomically on every transition:
#   <TYPE> <NAME> <STATE> <PRIORITY> <unix-time>
#   e.g. "INSTANCE VI_MAIL MASTER 150 1732240000"
[ $# -ge 5 ] || exit 1
f=$1
printf '%s %s %s %s %s\n' "$2" "$3" "$4" "$5" "$(date +%s)" >"$f.tmp" && mv -f "$f.tmp" "$f"
