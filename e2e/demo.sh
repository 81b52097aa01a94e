#!/bin/bash
# demo.sh — `make demo`: bring the two-node testbed up (keepalived + Postfix + Dovecot replication, the exporter on
# each node and an agentless one, Prometheus with the bundled rules, Alertmanager), wait until the cluster is
# green, print where to look and how to break things. Leaves everything running: `make demo-down` stops it.
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" = 0 ] || { echo "demo: must run as root (network namespaces); e.g. sudo make demo" >&2; exit 1; }
"$E2E_DIR/testbed/up.sh"
. "$E2E_DIR/testbed/lib.sh"
status_code() { prom_query 'mailcluster:status:code{cluster="e2e"}' 2>/dev/null | jq -r '.data.result[0].value[1] // empty'; }
is_green() { [ "$(status_code)" = 1 ]; }
wait_for 30 1 is_green || warn "cluster not green after 30 s (status code: '$(status_code)')"
C="ip netns exec $CLIENT_NS"
Q="$C curl -s --get $(printf %q "http://$CLIENT_IP:$PROM_PORT/api/v1/query") --data-urlencode"
cat <<TXT

== mailcluster demo is running (stop it with: make demo-down)

Everything listens inside network namespaces; reach it from the client namespace ($CLIENT_NS), e.g. with
'$C <command>', or interactively: $TB_DIR/ops.sh sh

  Prometheus    http://$CLIENT_IP:$PROM_PORT     (rules: mailcluster:* ; alerts: /alerts)
  Alertmanager  http://$CLIENT_IP:$AM_PORT
  exporters     http://${ADDR[node-a]}:$EXPORTER_PORT/metrics (node-a)   http://${ADDR[node-b]}:$EXPORTER_PORT/metrics (node-b)
                http://$CLIENT_IP:$EXPORTER_PORT/metrics (agentless)
  mail (VIP)    SMTP/IMAP/POP3 on $VIP (node-a active, node-b standby with its mail services stopped)

The colours (0 gray, 1 green, 2 yellow, 3 red):
  $Q 'query=mailcluster:status:code' | jq -c '.data.result[]|[.metric.cluster,.value[1]]'
  $Q 'query=mailcluster:redundancy_status:reason' | jq -c '.data.result[]|.metric.reason'
  $Q 'query=mailcluster:service_status:code' | jq -c '.data.result[]|[.metric.node,.metric.service,.value[1]]'
  $Q 'query=mailcluster:virtual_service_status:code' | jq -c '.data.result[]|[.metric.service,.value[1]]'
  $Q 'query=max by(node,role)(mailcluster_node_role==1)' | jq -c '.data.result[]|.metric'
  $Q 'query=mailcluster:update_gate:ok' | jq -c '.data.result[]|[.metric.order,.metric.gate,.value[1]]'
  $Q 'query=ALERTS' | jq -c '.data.result[]|.metric|[.alertname,.alertstate]'
  $C curl -s http://$CLIENT_IP:$AM_PORT/api/v2/alerts | jq -c '.[]|.labels.alertname'
  or simply: $TB_DIR/ops.sh query 'mailcluster:status:code'

Break something (all bounded; see $TB_DIR/ops.sh help):
  $TB_DIR/ops.sh keepalived stop node-a     # failover to node-b (start it again: node-a preempts)
  $TB_DIR/ops.sh dovecot stop node-b        # peer down; then ops.sh deliver -> out_of_sync
  $TB_DIR/ops.sh postfix stop node-a        # smtp red on the active node and the VIP
  $TB_DIR/ops.sh vrrp cut                   # split brain (ops.sh vrrp restore)
  $TB_DIR/ops.sh repl stall node-b; $TB_DIR/ops.sh deliver; $TB_DIR/ops.sh deliver   # syncing (yellow)
  $EXPORTER_BIN window open --cluster e2e --for 1h --reason demo \\
      --config.file=$ST/client/exporter.yml --windows.file=$WINDOWS_FILE        # update window (gates)
  $C $EXPORTER_BIN gate status --cluster e2e --prometheus.url http://$CLIENT_IP:$PROM_PORT   # the gates, with reasons

Status screen: $TB_DIR/status.sh    Checks: $TB_DIR/verify.sh    Logs: $LOGS/
TXT
