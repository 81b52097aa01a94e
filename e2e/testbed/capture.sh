#!/bin/bash
# capture.sh [OUTDIR] — record real outputs of the running testbed as parser fixtures (default e2e/captured/),
# with README.md saying for every file exactly how it was produced. Needs a testbed brought up by up.sh in
# steady state; leaves it in steady state again (failover / stopped Dovecot / blocked port are all undone).
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root
OUT=${1:-$E2E_DIR/captured}
mkdir -p "$OUT"
README=$OUT/README.md
running dovecot-node-a && running dovecot-node-b && running ka-node-a || die "testbed not up (run up.sh)"
[ "$(vip_holders)" = node-a ] || die "VIP not on node-a only: not steady"

cat >"$README" <<MD
# Captured outputs of the e2e testbed (parser fixtures)

Produced by \`e2e/testbed/capture.sh\` on $(date -u +%Y-%m-%d) from the two-node testbed of \`e2e/testbed/up.sh\`
(Debian $(cat /etc/debian_version), kernel $(uname -r); packages: $(pkg_versions)).
Every command ran as root **on the node** (its network + mount + UTS namespaces: \`e2e/testbed/ops.sh node NODE CMD…\`);
paths under /run/mc-e2e are the testbed's. Users: \`$TEST_USER\`, \`$USER2\`; node-a = VRRP priority 150 (MASTER in
steady state), node-b = 100. Files ending in \`.stderr\` hold the error output, and README gives the exit code.
The files are byte-exact command output (no trailing newline is added or removed).

| file | state | command (on the node) | rc |
|---|---|---|---|
MD

# cap FILE WHERE STATE CMD... : stdout -> FILE (stderr -> FILE.stderr if any), one README row
cap() {
  local file=$1 where=$2 state=$3 rc=0; shift 3
  mkdir -p "$(dirname "$OUT/$file")"
  if [ "$where" = client ]; then cx "$@" >"$OUT/$file" 2>"$OUT/$file.stderr" || rc=$?
  else nx "$where" "$@" >"$OUT/$file" 2>"$OUT/$file.stderr" || rc=$?; fi
  [ -s "$OUT/$file.stderr" ] || rm -f "$OUT/$file.stderr"
  printf '| `%s` | %s: %s | `%s` | %s |\n' "$file" "$where" "$state" "$(printf '%q ' "$@" | sed 's/ $//; s/|/\\|/g')" "$rc" >>"$README"
  log "captured $file (rc $rc)"
}
# keepalived dumps: signal the running instance, then copy the file it wrote into the node's private /tmp
cap_ka() {   # cap_ka NODE STATE PREFIX
  local n=$1 state=$2 pre=$3 what sig f pid
  pid=$(pid_of "ka-$n")
  for what in DATA STATS JSON; do
    sig=$(keepalived --signum=$what); f=keepalived.$(tr '[:upper:]' '[:lower:]' <<<"$what")
    rm -f "$ST/$n/tmp/$f" "$ST/$n/tmp/keepalived_parent.data"
    kill -"$sig" "$pid"; wait_for 40 0.05 test -s "$ST/$n/tmp/$f"; sleep 0.2
    cp "$ST/$n/tmp/$f" "$OUT/keepalived/$pre.$f"
    printf '| `keepalived/%s` | %s: %s | `kill -$(keepalived --signum=%s) <keepalived parent pid>`; then `/tmp/%s` | 0 |\n' \
      "$pre.$f" "$n" "$state" "$what" "$f" >>"$README"
    if [ "$what" = DATA ] && [ -s "$ST/$n/tmp/keepalived_parent.data" ]; then
      cp "$ST/$n/tmp/keepalived_parent.data" "$OUT/keepalived/$pre.keepalived_parent.data"
      printf '| `keepalived/%s` | %s: %s | written with the above by the parent process: `/tmp/keepalived_parent.data` | 0 |\n' \
        "$pre.keepalived_parent.data" "$n" "$state" >>"$README"
    fi
  done
  cp "$ST/$n/keepalived.state" "$OUT/keepalived/$pre.keepalived.state"
  printf '| `keepalived/%s` | %s: %s | the testbed notify script'"'"'s state file (`%s`) | - |\n' \
    "$pre.keepalived.state" "$n" "$state" "$ST/$n/keepalived.state" >>"$README"
}
cap_dc() {   # cap_dc NODE STATE PREFIX
  local n=$1 state=$2 pre=$3 c=$ST/$1/dovecot/dovecot.conf
  cap "dovecot/$pre.replicator-status.txt" "$n" "$state" doveadm -c "$c" replicator status
  cap "dovecot/$pre.replicator-status-all.txt" "$n" "$state" doveadm -c "$c" replicator status '*'
  cap "dovecot/$pre.replicator-status-all.json" "$n" "$state" doveadm -c "$c" -f json replicator status '*'
  cap "dovecot/$pre.replicator-dsync-status.txt" "$n" "$state" doveadm -c "$c" replicator dsync-status
  cap "dovecot/$pre.replicator-dsync-status.json" "$n" "$state" doveadm -c "$c" -f json replicator dsync-status
}
rm -rf "$OUT/keepalived" "$OUT/dovecot" "$OUT/postfix"; mkdir -p "$OUT/keepalived" "$OUT/dovecot" "$OUT/postfix"

# ---------------------------------------------------------------- 1. steady state
wait_for 50 0.2 repl_synced node-a; wait_for 50 0.2 repl_synced node-b
deliver "$VIP" >/dev/null; sleep 1; wait_for 50 0.2 repl_synced node-a
for n in "${NODES[@]}"; do
  st=$(ka_state "$n" | cut -d' ' -f3)
  cap_ka "$n" "steady, $st" "$n.steady"
  cap_dc "$n" "steady, in sync" "$n.steady"
done
api() {   # api FILE DOVEADM-HTTP-COMMAND PARAMS-JSON: the doveadm HTTP API of node-a, from the client ns
  cap "dovecot/$1" client "steady (doveadm HTTP API of node-a)" curl -sS --max-time 5 \
    -H "Authorization: X-Dovecot-API $(printf %s "$DOVEADM_API_KEY" | base64)" -H 'Content-Type: application/json' \
    -d "[[\"$2\",$3,\"t1\"]]" "http://${ADDR[node-a]}:$DOVEADM_HTTP_PORT/doveadm/v1"
}
api node-a.steady.http-api-replicator-status.json replicatorStatus '{"userMask":"*"}'
api node-a.steady.http-api-replicator-dsync-status.json replicatorDsyncStatus '{}'
cap "postfix/node-a.steady.postqueue-j.json" node-a "steady, empty queue" postqueue -c "$ST/node-a/postfix" -j

# ---------------------------------------------------------------- 2. Postfix queue: deferred + held messages
for r in alice@example.net bob@example.org carol@example.com; do deliver "${ADDR[node-a]}" "$r" "to the outside (deferred)" >/dev/null; done
deliver "${ADDR[node-a]}" "dave@example.net" "held" >/dev/null
qdef() { [ "$(postqueue_json node-a | jq -s '[.[] | select(.queue_name=="deferred")] | length')" -ge 4 ]; }
wait_for 50 0.2 qdef || warn "not all 4 messages deferred yet"
hid=$(postqueue_json node-a | jq -rs '[.[] | select(.recipients[0].address=="dave@example.net")][0].queue_id')
nx node-a postsuper -c "$ST/node-a/postfix" -h "$hid" 2>/dev/null
printf '\nPostfix queue (node-a): 4 messages to outside domains sent over SMTP to node-a (%s) from the client ns; defer_transports = smtp, relay keeps them deferred ("deferred transport"); then `postsuper -h %s` put the one for dave@example.net on hold.\n\n| file | state | command (on the node) | rc |\n|---|---|---|---|\n' "${ADDR[node-a]}" "$hid" >>"$README"
cap "postfix/node-a.deferred-held.postqueue-j.json" node-a "3 deferred + 1 held" postqueue -c "$ST/node-a/postfix" -j
cap "postfix/node-a.deferred-held.postqueue-p.txt" node-a "3 deferred + 1 held" postqueue -c "$ST/node-a/postfix" -p
cap "postfix/node-a.deferred-held.queue-files.txt" node-a "3 deferred + 1 held" \
  find "$ST/node-a/pf-spool/incoming" "$ST/node-a/pf-spool/active" "$ST/node-a/pf-spool/deferred" "$ST/node-a/pf-spool/hold" "$ST/node-a/pf-spool/corrupt" -type f
nx node-a postsuper -c "$ST/node-a/postfix" -d ALL 2>/dev/null

# ---------------------------------------------------------------- 3. peer's Dovecot stopped while mail arrives
printf '\nnode-b Dovecot stopped (TERM), then 3 messages for %s delivered via the VIP to node-a; captured once node-a marks the user failed.\n\n| file | state | command (on the node) | rc |\n|---|---|---|---|\n' "$TEST_USER" >>"$README"
dc_stop node-b
for i in 1 2 3; do deliver "$VIP" "$TEST_USER@$MAIL_DOMAIN" "peer down $i" >/dev/null; done
failed() { doveadm_on node-a replicator status '*' | awk -v u="$TEST_USER" '$1==u && $NF=="y" {f=1} END {exit !f}'; }
wait_for 50 0.2 failed || warn "node-a did not mark $TEST_USER failed"
cap_dc node-a "peer Dovecot stopped, 3 new messages" node-a.peer-dovecot-down
cap "dovecot/node-b.dovecot-stopped.replicator-status.txt" node-b "its own Dovecot stopped" doveadm -c "$ST/node-b/dovecot/dovecot.conf" replicator status
dc_start node-b; repl_heal node-b || warn "replication did not heal"
cap_dc node-a "peer Dovecot restarted, healed" node-a.peer-recovered

# ---------------------------------------------------------------- 4. replication port silently dropped: pending
printf '\nnode-b drops TCP %s on its sync link (nft, both directions), then 2 messages via the VIP: node-a'"'"'s dsync hangs in connect (pending, not failed).\n\n| file | state | command (on the node) | rc |\n|---|---|---|---|\n' "$DOVEADM_PORT" >>"$README"
repl_block node-b drop
for i in 1 2; do deliver "$VIP" "$TEST_USER@$MAIL_DOMAIN" "blocked $i" >/dev/null; done
sleep 1.5
cap_dc node-a "replication port dropped by peer, 2 new messages" node-a.repl-blocked
repl_unblock node-b
wait_for 100 0.2 repl_synced node-a || warn "node-a not synced after unblock"

# ---------------------------------------------------------------- 5. keepalived: failover and split brain
printf '\nkeepalived after `kill -TERM` of node-a'"'"'s keepalived (failover to node-b), and during a split brain (VRRP dropped by nft on both nodes: both MASTER, VIP on both).\n\n| file | state | command (on the node) | rc |\n|---|---|---|---|\n' >>"$README"
ka_stop node-a; wait_for 50 0.1 vip_on node-b; sleep 0.5
cap_ka node-b "failover: MASTER after the peer stopped" node-b.failover
cp "$ST/node-a/keepalived.state" "$OUT/keepalived/node-a.stopped.keepalived.state"
printf '| `keepalived/node-a.stopped.keepalived.state` | node-a: keepalived stopped | state file after TERM | - |\n' >>"$README"
ka_start node-a; wait_for 100 0.1 vip_on node-a; sleep 3
vrrp_cut; wait_for 60 0.1 vip_on node-b; sleep 1
for n in "${NODES[@]}"; do cap_ka "$n" "split brain, both MASTER" "$n.split-brain"; done
vrrp_restore; wait_for 100 0.1 bash -c '! ip -n '"${NS[node-b]}"' -br addr show dev eth0 | grep -qw '"$VIP"; sleep 1
[ "$(vip_holders)" = node-a ] && log "back to steady state: VIP on node-a" || warn "VIP holders after capture: $(vip_holders)"
log "fixtures in $OUT"
