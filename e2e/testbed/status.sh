#!/bin/bash
# status.sh — one screen about the running testbed: processes, VRRP, replication, queues, monitoring. Read-only.
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root
echo "state dir $ST   guard routes: $(guards_ok && echo present || echo MISSING)"
echo "namespaces: $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^mce2e-' | tr '\n' ' ')"
echo "== processes"
for f in "$PIDS"/*.pid; do
  [ -f "$f" ] || { echo "  (none recorded)"; break; }
  name=$(basename "$f" .pid); pid=$(pid_of "$name")
  printf '  %-20s pid %-8s %s\n' "$name" "$pid" "$(alive "$pid" && echo running || echo DEAD)"
done
echo "== VRRP: VIP $VIP on: $(vip_holders)"
for n in "${NODES[@]}"; do printf '  %-7s %s\n' "$n" "$(ka_state "$n")"; done
for n in "${NODES[@]}"; do
  echo "== $n: doveadm replicator status '*'"
  running "dovecot-$n" && doveadm_on "$n" replicator status '*' 2>&1 | sed 's/^/  /' || echo "  dovecot not running"
  echo "== $n: postfix queue: $(running "postfix-$n" && postqueue_json "$n" 2>/dev/null | jq -rs 'group_by(.queue_name) | map("\(.[0].queue_name)=\(length)") | join(" ") | if .=="" then "empty" else . end' || echo 'postfix not running')"
  nx "$n" nft list tables 2>/dev/null | grep -q mce2e && echo "  fault injection active: $(nx "$n" nft list tables | grep mce2e | tr '\n' ' ')"
done
echo "== monitoring (client ns)"
echo "  Prometheus   http://$CLIENT_IP:$PROM_PORT  $(prom_ready && echo ready || echo NOT ready)"
echo "  Alertmanager http://$CLIENT_IP:$AM_PORT  $(am_ready && echo ready || echo NOT ready)"
prom_ready && prom_query 'up' 2>/dev/null | jq -r '.data.result[] | "  up{job=\"\(.metric.job)\",instance=\"\(.metric.instance)\"} \(.value[1])"'
