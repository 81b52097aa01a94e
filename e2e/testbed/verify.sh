#!/bin/bash
# verify.sh — check that the running testbed works. Every check is bounded (timeouts / bounded retries);
# prints one PASS/FAIL/SKIP line per check and "N passed, N failed"; exit 0 only if nothing failed.
# All client traffic starts in the client namespace.
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root
pass=0 fail=0 skip=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
sk() { echo "SKIP $*"; skip=$((skip + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else ko "$what"; fi; }   # check TEXT CMD...
mc() { cx timeout 20 /usr/bin/python3 "$TB_DIR/mailclient.py" "$@"; }
mcq() { mc "$@" >/dev/null; }
scraped() { prom_query "up{instance=\"$1\"}" 2>/dev/null | jq -e '.data.result[0].value[1] == "1"' >/dev/null; }

# -- plumbing
check "guard routes in the root namespace (${GUARDED_NETS[*]})" guards_ok
for name in ka-node-a ka-node-b postfix-node-a dovecot-node-a dovecot-node-b prometheus alertmanager; do
  check "process $name running (pid $(pid_of "$name"))" running "$name"
done

# -- VRRP
check "VIP $VIP on node-a only (holders: $(vip_holders))" test "$(vip_holders)" = node-a
s=$(ka_state node-a); check "keepalived state node-a: $s" test "$(cut -d' ' -f3 <<<"$s")" = MASTER
s=$(ka_state node-b); check "keepalived state node-b: $s" test "$(cut -d' ' -f3 <<<"$s")" = BACKUP
check "keepalived state file format '<TYPE> <NAME> <STATE> <PRIORITY> <unix-time>'" \
  grep -qE '^(INSTANCE|GROUP) [^ ]+ (MASTER|BACKUP|FAULT|STOP) [0-9]+ [0-9]+$' "$ST/node-a/keepalived.state"

check "Postfix stopped on the standby node-b (appliance semantics)" eval '! running postfix-node-b'

# -- banners on the active node's address and on the VIP; the standby's mail ports are closed
for addr in "${ADDR[node-a]}" "$VIP"; do
  for port in $SMTP_PORT $IMAP_PORT $POP3_PORT; do
    l=$(mc banner "$addr" "$port" 2>&1 | head -1)
    case "$l" in "220 "* | "* OK"* | "+OK"*) ok "banner $addr:$port: $l" ;; *) ko "banner $addr:$port: $l" ;; esac
  done
done
for port in $SMTP_PORT $IMAP_PORT $POP3_PORT; do
  check "standby node-b: port $port closed" eval "! cx timeout 3 bash -c 'exec 3<>/dev/tcp/${ADDR[node-b]}/$port' 2>/dev/null"
done
l=$(mc banner "$VIP" $SMTP_PORT 2>&1 | head -1)
check "SMTP on the VIP is node-a's ($l)" grep -q node-a <<<"$l"
# STARTTLS as shipped, with the site certificate: it verifies against the test CA for $TLS_NAME
starttls_ok() {   # starttls_ok PROTO PORT
  cx timeout 5 openssl s_client -starttls "$1" -connect "$VIP:$2" -CAfile "$TLS_DIR/ca.pem" -verify_hostname "$TLS_NAME" \
    -verify_return_error </dev/null >/dev/null 2>&1
}
for sp in "smtp $SMTP_PORT" "imap $IMAP_PORT" "pop3 $POP3_PORT"; do
  # shellcheck disable=SC2086
  check "STARTTLS on the VIP ($sp) with a certificate for $TLS_NAME from the test CA" starttls_ok $sp
done
check "liveness port $DOVEADM_PORT open on node-b (standby)" cx timeout 5 bash -c "exec 3<>/dev/tcp/${ADDR[node-b]}/$DOVEADM_PORT"

# -- mail path: SMTP(VIP) -> Postfix(a) -> LMTP -> Dovecot(a) -> dsync -> Dovecot(b)
if id=$(deliver "$VIP" "$TEST_USER@$MAIL_DOMAIN" "verify $(date +%s)"); then
  ok "SMTP on the VIP accepted a message for $TEST_USER ($id)"
  check "message delivered on node-a" wait_for 100 0.1 has_message node-a "$TEST_USER" "$id"
  t=$(now)
  if wait_for 100 0.1 has_message node-b "$TEST_USER" "$id"; then ok "message replicated to node-b (+$(elapsed "$t"))"
  else ko "message not replicated to node-b within 10 s"; fi
  check "IMAP login on the VIP finds the message" mcq imap "$VIP" "$TEST_USER" "$TEST_PASS" "$id"
else
  ko "SMTP on the VIP rejected/failed the message"
fi
check "POP3 login on the VIP" mcq pop3 "$VIP" "$TEST_USER" "$TEST_PASS"
check "replication in sync on node-a (doveadm replicator status)" wait_for 50 0.2 repl_synced node-a
check "replication in sync on node-b (doveadm replicator status)" wait_for 50 0.2 repl_synced node-b

# -- monitoring
check "Prometheus ready" prom_ready
check "Alertmanager ready" am_ready
check "Prometheus API: up{job=\"prometheus\"} == 1 (first scrape within 10 s)" wait_for 10 1 scraped "$CLIENT_IP:$PROM_PORT"
check "Prometheus scrapes Alertmanager" wait_for 5 1 scraped "$CLIENT_IP:$AM_PORT"
r=$(http_get "http://$CLIENT_IP:$PROM_PORT/api/v1/rules" | jq '[.data.groups[].rules[]] | length' 2>/dev/null)
echo "INFO Prometheus loaded ${r:-?} rules from: $(tr '\n' ' ' <"$ST/client/rule_files.txt" 2>/dev/null)"
for who in "${NODES[@]}" client; do
  if [ ! -e "$(pidfile "exporter-$who")" ]; then sk "exporter-$who not started (no $EXPORTER_BIN)"; continue; fi
  if ! running "exporter-$who"; then ko "exporter-$who exited: $(tail -n1 "$LOGS/exporter-$who.log" 2>/dev/null)"; continue; fi
  [ "$who" = client ] && a=$CLIENT_IP || a=${ADDR[$who]}
  m=$(http_get "http://$a:$EXPORTER_PORT/metrics" 5 2>/dev/null)
  check "exporter-$who /metrics answers with mailcluster_ metrics ($(grep -c '^mailcluster_' <<<"$m") samples)" grep -q '^mailcluster_' <<<"$m"
  check "Prometheus scrapes exporter-$who (up == 1)" wait_for 5 2 scraped "$a:$EXPORTER_PORT"
done

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
