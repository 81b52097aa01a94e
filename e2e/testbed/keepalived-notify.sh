#!/bin/sh
# keepalived notify script of the e2e testbed (installed root-owned into $MC_E2E_STATE/bin by up.sh).
#   keepalived.conf:  notify "<this script> <state file> <node> <testbed dir>"
#   keepalived appends: TYPE (INSTANCE|GROUP)  NAME  STATE (MASTER|BACKUP|FAULT|STOP)  PRIORITY
# 1. The state file gets exactly one line, replaced atomically on every transition:
#      <TYPE> <NAME> <STATE> <PRIORITY> <unix-time>      e.g. "INSTANCE VI_MAIL MASTER 150 1732240000"
# 2. Appliance semantics: the node's mail services follow the role (`ops.sh converge NODE`: Postfix runs and
#    Dovecot's IMAP/POP3 listeners are open on MASTER only; Dovecot itself keeps running for replication).
#    converge re-reads the state file under a per-node lock, so racing notifications end in the latest state;
#    it is bounded (timeout 60 s) and logs to logs/converge-<node>.log.
[ $# -ge 7 ] || exit 1
f=$1 node=$2 tb=$3
printf '%s %s %s %s %s\n' "$4" "$5" "$6" "$7" "$(date +%s)" >"$f.tmp" && mv -f "$f.tmp" "$f"
st=$(dirname "$(dirname "$f")")
PATH=/usr/sbin:/usr/bin:/sbin:/bin MC_E2E_STATE=$st MC_E2E_NODE=$node \
  timeout 60 /bin/bash "$tb/ops.sh" converge "$node" >>"$st/logs/converge-$node.log" 2>&1 </dev/null
exit 0
