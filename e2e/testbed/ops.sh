#!/bin/bash
# ops.sh — operations on the running testbed, for scenario tests and by hand. All bounded; exit 0 = done.
#
#   ops.sh keepalived stop|start|kill NODE    TERM (graceful: peer takes over) / start / KILL (crash: VIP stays)
#   ops.sh postfix    stop|start NODE
#   ops.sh dovecot    stop|start NODE           the whole Dovecot (replication too)
#   ops.sh tls        selfsigned|site NODE      NODE's Postfix/Dovecot certificate: a self-signed one, or the site's (test CA)
#   ops.sh services   stop|start NODE           mail services by hand: Postfix + Dovecot IMAP/POP3 listeners
#   ops.sh listeners  open|close NODE           Dovecot IMAP/POP3 listeners only (doveadm reload)
#   ops.sh converge   NODE                      mail services to what the role says (keepalived notify calls it)
#   ops.sh maint      on|off NODE               maintenance: converge keeps the services stopped even on MASTER
#   ops.sh version    NODE VERSION              the version the node's exporter reports (`version` source)
#   ops.sh exporter   stop|start NODE|client
#   ops.sh roundtrip  on|off                    the agentless exporter's round trip (restarts that exporter)
#   ops.sh vrrp       cut|restore [NODE...]   drop VRRP on the sync link (default both nodes): split brain
#   ops.sh repl       block|unblock NODE [drop|reject]   doveadm/dsync port $DOVEADM_PORT on NODE's sync link
#   ops.sh repl       stall NODE                port stays reachable, data dropped: the peer's dsync hangs (syncing)
#   ops.sh link       NODE eth0|sync0 up|down
#   ops.sh partition  cut|restore NODE        the monitoring host (client ns) loses its route to NODE's own address
#                                             (nft drop both ways; the VIP and the node's peers are not affected)
#   ops.sh deliver    [ADDR] [RCPT] [SUBJECT] SMTP from the client ns (default VIP, testuser@e2e.test); prints Message-ID
#   ops.sh bulk       [ADDR] [N] [RCPT] [CONNS] N messages over SMTP from the client ns (default: 100 to a remote address: deferred)
#   ops.sh has-message NODE MESSAGE-ID [USER] exit 0 if NODE's INBOX has it
#   ops.sh repl-users NODE N | reset          N extra users in NODE's replicator (a long replicator status) / undo
#   ops.sh wait-synced NODE [SECONDS]         wait until doveadm replicator status shows everything synced
#   ops.sh repl-heal  NODE                    after NODE's Dovecot restarted: wait for its sync, re-queue the peer
#   ops.sh replicate  NODE                    doveadm replicator replicate '*' (re-queue all users)
#   ops.sh doveadm    NODE ARGS...            doveadm on NODE with NODE's config
#   ops.sh postqueue  NODE [ARGS...]          postqueue -c NODE's config (default -j)
#   ops.sh postsuper  NODE ARGS...            postsuper -c NODE's config
#   ops.sh vip                                which node(s) hold the VIP
#   ops.sh state      NODE                    keepalived state file line
#   ops.sh wait-vip   NODE [SECONDS]          wait until NODE holds the VIP
#   ops.sh ka-dump    NODE DATA|STATS|JSON    keepalived dump (signal + read the node's private /tmp)
#   ops.sh query      PROMQL                  Prometheus instant query (JSON)
#   ops.sh alerts                             Alertmanager's current alerts (JSON)
#   ops.sh prom-reload                        regenerate prometheus.yml (picks up new rule files) and reload
#   ops.sh node       NODE CMD...             run CMD on NODE (its net + mount + UTS namespaces)
#   ops.sh client     CMD...                  run CMD in the client namespace
#   ops.sh sh         [NODE]                  interactive shell in the client namespace (or on NODE)
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root
usage() { sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed '$d;s/^# \{0,1\}//' >&2; exit 2; }
node_arg() { [ -n "${ADDR[${1:-}]+x}" ] || die "unknown node '${1:-}' (nodes: ${NODES[*]})"; }
[ $# -ge 1 ] || usage
op=$1; shift
case "$op" in
  keepalived)
    node_arg "${2:-}"
    case "$1" in stop) ka_stop "$2" ;; start) ka_start "$2" ;; kill) ka_kill "$2" ;; *) usage ;; esac ;;
  postfix)
    node_arg "${2:-}"
    case "$1" in stop) pf_stop "$2" ;; start) pf_start "$2" ;; *) usage ;; esac ;;
  dovecot)
    node_arg "${2:-}"
    case "$1" in stop) dc_stop "$2" ;; start) dc_start "$2" ;; *) usage ;; esac ;;
  exporter)
    [ "${2:-}" = client ] || node_arg "${2:-}"
    case "$1" in stop) exp_stop "$2" ;; start) exp_start "$2" ;; *) usage ;; esac ;;
  services)
    node_arg "${2:-}"
    case "$1" in stop) svc_stop "$2" ;; start) svc_start "$2" ;; *) usage ;; esac ;;
  tls)
    node_arg "${2:-}"
    case "$1" in selfsigned | site) tls_swap "$2" "$1" ;; *) usage ;; esac ;;
  listeners)
    node_arg "${2:-}"
    case "$1" in open) dc_listeners "$2" open ;; close) dc_listeners "$2" closed ;; *) usage ;; esac ;;
  converge) node_arg "${1:-}"; mail_converge "$1" ;;
  maint)
    node_arg "${2:-}"
    case "$1" in on | off) maint "$2" "$1" ;; *) usage ;; esac ;;
  version) node_arg "${1:-}"; [ -n "${2:-}" ] || usage; set_version "$1" "$2" ;;
  roundtrip)
    case "${1:-}" in on) : >"$ST/roundtrip.on" ;; off) rm -f "$ST/roundtrip.on" ;; *) usage ;; esac
    exp_stop client && exp_start client ;;
  vrrp)
    a=$1; shift; for n in "$@"; do node_arg "$n"; done
    case "$a" in cut) vrrp_cut "$@" ;; restore) vrrp_restore "$@" ;; *) usage ;; esac ;;
  repl)
    node_arg "${2:-}"
    case "$1" in block) repl_block "$2" "${3:-reject}" ;; unblock) repl_unblock "$2" ;; stall) repl_stall "$2" ;; *) usage ;; esac ;;
  partition)
    node_arg "${2:-}"
    case "$1" in
      cut) cx nft -f - <<NFT
table inet mce2e_part
delete table inet mce2e_part
table inet mce2e_part {
  chain out { type filter hook output priority 0; policy accept; ip daddr ${ADDR[$2]} drop; }
  chain in { type filter hook input priority 0; policy accept; ip saddr ${ADDR[$2]} drop; }
}
NFT
      ;;
      restore) cx nft delete table inet mce2e_part 2>/dev/null || true ;;
      *) usage ;;
    esac ;;
  link) node_arg "${1:-}"; [[ "${2:-}" =~ ^(eth0|sync0)$ && "${3:-}" =~ ^(up|down)$ ]] || usage; link_set "$1" "$2" "$3" ;;
  deliver) deliver "${1:-$VIP}" "${2:-$TEST_USER@$MAIL_DOMAIN}" "${3:-e2e test}" ;;
  has-message) node_arg "${1:-}"; has_message "$1" "${3:-$TEST_USER}" "$2" ;;
  repl-users)
    if [ "${1:-}" = reset ]; then repl_users_reset; else node_arg "${1:-}"; [[ "${2:-}" =~ ^[0-9]+$ ]] || usage; repl_users "$1" "$2"; fi ;;
  bulk) cx python3 "$TB_DIR/mailclient.py" bulk "${1:-$VIP}" "${2:-100}" "${3:-bulk@remote.invalid}" "${4:-8}" ;;
  wait-synced) node_arg "${1:-}"; wait_for "$(( ${2:-15} * 5 ))" 0.2 repl_synced "$1" ;;
  repl-heal) node_arg "${1:-}"; repl_heal "$1" ;;
  replicate) node_arg "${1:-}"; doveadm_on "$1" replicator replicate '*' ;;
  doveadm) node_arg "${1:-}"; n=$1; shift; doveadm_on "$n" "$@" ;;
  postqueue) node_arg "${1:-}"; n=$1; shift; [ $# -gt 0 ] || set -- -j; nx "$n" postqueue -c "$ST/$n/postfix" "$@" ;;
  postsuper) node_arg "${1:-}"; n=$1; shift; nx "$n" postsuper -c "$ST/$n/postfix" "$@" ;;
  vip) vip_holders ;;
  state) node_arg "${1:-}"; ka_state "$1" ;;
  wait-vip) node_arg "${1:-}"; wait_for "$(( ${2:-10} * 10 ))" 0.1 vip_on "$1" ;;
  ka-dump) node_arg "${1:-}"; keepalived_dump "$1" "${2:-JSON}" ;;
  query) prom_query "$1" ;;
  alerts) http_get "http://$CLIENT_IP:$AM_PORT/api/v2/alerts" ;;
  prom-reload) prom_reload ;;
  node) node_arg "${1:-}"; n=$1; shift; nx "$n" "$@" ;;
  client) cx "$@" ;;
  sh) if [ $# -ge 1 ]; then node_arg "$1"; nx "$1" bash -i; else cx bash -i; fi ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
