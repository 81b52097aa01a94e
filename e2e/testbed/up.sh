#!/bin/bash
# up.sh — bring the two-node HA mail testbed up from nothing (stale state from a crash is cleaned first).
#
#   root ns:   unreachable guard routes for 10.213.47.0/24 and 10.213.48.0/24 (added before any namespace)
#   mce2e-c    client side: bridge lan0 10.213.47.1, Prometheus :9090, Alertmanager :9093, agentless exporter :19025
#   mce2e-a    node-a 10.213.47.11 (sync0 10.213.48.11): keepalived (prio 150), Postfix, Dovecot, exporter :19025
#   mce2e-b    node-b 10.213.47.12 (sync0 10.213.48.12): keepalived (prio 100), Postfix, Dovecot, exporter :19025
#   VIP 10.213.47.10 (VRRP vrid 47, unicast over the sync link)
#   Appliance semantics: mail services (Postfix, Dovecot IMAP/POP3) run on the VRRP MASTER only (keepalived-notify.sh)
# Env: EXPORTER_BIN (default <repo>/mailcluster_exporter, required), RULES_DIR (default <repo>/rules), MC_E2E_STATE (/run/mc-e2e)
# State: $MC_E2E_STATE/{pids,logs,ns,bin,dovecot,node-a,node-b,client}. Undo with down.sh.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root
t0=$(now); lap() { log "$(printf '%-34s %s' "$1" "$(elapsed "$t0")")"; }

# ------------------------------------------------ stale state (after a crash or an unfinished run)
if [ -d "$ST" ] || ip netns list | grep -qE "^(${NS[node-a]}|${NS[node-b]}|$CLIENT_NS)( |$)"; then
  log "cleaning previous testbed state"; teardown
  [ -d "$LOGS" ] && { rm -rf "$ST/logs.prev"; mv "$LOGS" "$ST/logs.prev"; }
  find "$ST" -mindepth 1 -maxdepth 1 ! -name logs.prev -exec rm -rf {} +
fi
mkdir -p "$PIDS" "$LOGS"; chmod 755 "$ST"
guard_routes            # FIRST: before any namespace or address exists
lap "guard routes"

make_network
make_node_namespaces
lap "namespaces, bridge, sync link"

install_notify_script
write_users
write_tls
for n in "${NODES[@]}"; do write_keepalived "$n"; write_postfix "$n"; write_dovecot "$n"; set_version "$n" 1.0.0; done
rm -f "$WINDOWS_FILE"
lap "configs written"

# Dovecot first (IMAP/POP3 listeners closed: nobody is active yet). node-a first. Its start-up sync fails (node-b is
# not up yet) and would be retried only after 5 min; node-b's start-up sync (b -> a) succeeds. Wait for that, THEN
# re-queue on node-a (syncing the same user from both sides at once deadlocks on the mailbox sync lock for 30 s).
dc_start node-a || die "dovecot on node-a failed"
dc_start node-b || die "dovecot on node-b failed"
wait_for 150 0.1 repl_synced node-b || warn "node-b: replication not in sync after 15 s"
doveadm_on node-a replicator replicate '*' >/dev/null
wait_for 150 0.1 repl_synced node-a || warn "node-a: replication not in sync after 15 s"
lap "dovecot started, replication in sync"

# keepalived: node-a (priority 150) becomes MASTER; its notify script starts Postfix and opens the IMAP/POP3
# listeners there (appliance semantics: the standby's mail services stay stopped). Postfix's first start ~2 s.
for n in "${NODES[@]}"; do ka_start "$n"; done
wait_for 100 0.1 vip_on node-a || die "VIP not on node-a after 10 s (holders: $(vip_holders))"
wait_for 200 0.1 running postfix-node-a || die "Postfix not started on node-a by the notify script (see $LOGS/converge-node-a.log)"
wait_for 100 0.1 listening node-a "$IMAP_PORT" || die "IMAP not open on node-a (see $LOGS/converge-node-a.log)"
lap "keepalived: node-a MASTER, mail services up"

for n in "${NODES[@]}" client; do exp_start "$n"; done
am_start
prom_start
wait_for 100 0.1 prom_ready || { log_tail prometheus 10; die "prometheus not ready"; }
wait_for 100 0.1 am_ready || { log_tail alertmanager 10; die "alertmanager not ready"; }
lap "exporters, prometheus, alertmanager"
for n in "${NODES[@]}" client; do
  running "exporter-$n" || { log_tail "exporter-$n"; die "exporter-$n exited"; }
done

log "up: VIP $VIP on $(vip_holders); keepalived: node-a=$(ka_state node-a | cut -d' ' -f3) node-b=$(ka_state node-b | cut -d' ' -f3)"
log "Prometheus http://$CLIENT_IP:$PROM_PORT  Alertmanager http://$CLIENT_IP:$AM_PORT  (from the client ns: $TB_DIR/ops.sh sh)"
