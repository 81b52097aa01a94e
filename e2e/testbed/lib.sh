# lib.sh — shared definitions and functions of the mailcluster e2e testbed. Source it; don't run it.
# Every script in this directory sources this file; nothing here is duplicated elsewhere.
# shellcheck shell=bash disable=SC2034  # the settings below are used by the scripts that source this file

# ------------------------------------------------------------------ layout (override by env if needed)
TB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_DIR=$(dirname "$TB_DIR")
REPO_DIR=$(dirname "$E2E_DIR")
ST=${MC_E2E_STATE:-/run/mc-e2e}                 # all runtime state: pids/, logs/, ns/, node-a/, node-b/, client/
PIDS=$ST/pids
LOGS=$ST/logs
EXPORTER_BIN=${EXPORTER_BIN:-$REPO_DIR/mailcluster_exporter}
WINDOWS_FILE=$ST/windows.json                   # ONE update-window file for every exporter (and the `window` CLI)
RULES_DIR=${RULES_DIR:-$REPO_DIR/rules}
PROMETHEUS_BIN=${PROMETHEUS_BIN:-/usr/bin/prometheus}   # Debian's (2.42); `make e2e-prom3` runs Prometheus 3

# ------------------------------------------------------------------ addresses (two private /24s, both guarded)
NET=10.213.47                                   # "public" LAN: client bridge, node addresses, VIP
SYNCNET=10.213.48                               # dedicated sync/heartbeat link node-a <-> node-b (VRRP + dsync)
GUARDED_NETS=("$NET.0/24" "$SYNCNET.0/24")
VIP=$NET.10
CLIENT_IP=$NET.1
NODES=(node-a node-b)
declare -A NS=([node-a]=mce2e-a [node-b]=mce2e-b)
CLIENT_NS=mce2e-c
declare -A ADDR=([node-a]=$NET.11 [node-b]=$NET.12)
declare -A SYNC_ADDR=([node-a]=$SYNCNET.11 [node-b]=$SYNCNET.12)
declare -A PEER=([node-a]=node-b [node-b]=node-a)
declare -A KA_PRIO=([node-a]=150 [node-b]=100)  # VRRP priority: node-a preferred master
declare -A CL_PRIO=([node-a]=1 [node-b]=2)      # exporter config priority (1 = first choice)

# ------------------------------------------------------------------ ports
SMTP_PORT=25 IMAP_PORT=143 POP3_PORT=110
DOVEADM_PORT=12345                              # dsync replication + doveadm; also the liveness port (open on the standby)
DOVEADM_HTTP_PORT=8080
EXPORTER_PORT=${EXPORTER_PORT:-19025}            # the exporter's default port
PROM_PORT=9090 AM_PORT=9093
VRID=47

# ------------------------------------------------------------------ mail
MAIL_DOMAIN=e2e.test
TEST_USER=testuser TEST_PASS=testpass
USER2=user2 USER2_PASS=pass2
# the round trip's probe mailbox (exporter roundtrip:, switched on by `ops.sh roundtrip on`); credentials in files
PROBE_USER=rtprobe PROBE_PASS=rtprobe-secret
IMAP_MONITOR_PORT=10143                          # IMAP on the node's own address, open on the standby too (round trip)
DOVEADM_SECRET=e2e-doveadm-secret DOVEADM_API_KEY=e2e-api-key
TLS_NAME=mail.$MAIL_DOMAIN                      # the name clients use; the nodes' certificate names it (test CA)
TLS_DIR=$ST/tls                                 # ca.pem (the exporters' ca_file), site.{crt,key}; per node: <node>/tls/

# ------------------------------------------------------------------ generic helpers
now() { date +%s.%N; }
elapsed() { printf '%.2fs' "$(echo "$(date +%s.%N) - $1" | bc)"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { log "WARNING: $*"; }
die() { log "ERROR: $*"; exit 1; }
require_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# wait_for TRIES DELAY CMD... : run CMD until it succeeds, at most TRIES times, DELAY s apart. rc 0 = succeeded.
wait_for() {
  local tries=$1 delay=$2 i; shift 2
  for ((i = 1; i <= tries; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    ((i < tries)) && sleep "$delay"
  done
  return 1
}

# ------------------------------------------------------------------ processes (by pid, never by name)
# alive PID, daemon_pids EXE...: shared with scripts/install-deps.sh (the staged copy of the testbed in the
# state dir, used by the keepalived notify script, carries its own proc.sh: see install_notify_script)
if [ -f "$TB_DIR/proc.sh" ]; then . "$TB_DIR/proc.sh"; else . "$REPO_DIR/scripts/proc.sh"; fi
# stop_pid PID [SECONDS]: TERM, wait up to SECONDS (default 5), then KILL. rc 0 when stopped.
stop_pid() {
  local pid=$1 secs=${2:-5} i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 20; i++)); do alive "$pid" || return 0; sleep 0.05; done
  warn "pid $pid ($(cat /proc/"$pid"/comm 2>/dev/null)) ignored TERM for ${secs}s: KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do alive "$pid" || return 0; sleep 0.05; done
  return 1
}
pkg_versions() {
  dpkg-query -W -f='${Package}=${Version} ' keepalived postfix dovecot-core prometheus prometheus-alertmanager 2>/dev/null
}

# ------------------------------------------------------------------ running things inside the testbed
# A node is a network namespace + a mount namespace (private /tmp = $ST/<node>/tmp, so keepalived's
# fixed-name dumps /tmp/keepalived.{data,stats,json} don't collide) + a UTS namespace (hostname = node name).
# Postfix, Dovecot, keepalived and the node's exporter all run in it; so does every node-side command.
# MC_E2E_NODE=<node> says "this process already runs on that node" (keepalived's notify script sets it): entering
# the node's namespaces again from inside is not possible (its mount namespace has no bind mount of its own ns files).
ns_argv() {   # ns_argv NODE|client: set NSARGV to the nsenter argv that enters it
  if [ -n "${MC_E2E_NODE:-}" ] && [ "$1" = "$MC_E2E_NODE" ]; then NSARGV=(env --)
  elif [ "$1" = client ]; then NSARGV=(nsenter "--net=/run/netns/$CLIENT_NS" --)
  else NSARGV=(nsenter "--net=/run/netns/${NS[$1]}" "--mount=$ST/ns/$1.mnt" "--uts=$ST/ns/$1.uts" --); fi
}
nx() { local NSARGV; ns_argv "$1"; shift; "${NSARGV[@]}" "$@"; }   # nx NODE CMD... : run CMD on NODE
cx() { local NSARGV; ns_argv client; "${NSARGV[@]}" "$@"; }         # cx CMD... : run CMD in the client namespace
pidfile() { echo "$PIDS/$1.pid"; }
pid_of() { local f; f=$(pidfile "$1"); [ -s "$f" ] && tr -d ' \n' <"$f"; return 0; }
running() { alive "$(pid_of "$1")"; }
# start_bg NAME WHERE CMD... : start CMD on WHERE (a node or client) detached (own session, stdin /dev/null,
# output to logs/NAME.log) and record its pid. setsid and nsenter exec, so the pid is the daemon's own.
start_bg() {
  local name=$1 where=$2 NSARGV; shift 2
  ns_argv "$where"
  setsid "${NSARGV[@]}" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}
stop_name() {   # stop_name NAME [SECONDS]: stop the process recorded under NAME and forget it
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] && stop_pid "$pid" "${2:-5}"
  rm -f "$(pidfile "$1")"
}
log_tail() { tail -n "${2:-5}" "$LOGS/$1.log" 2>/dev/null | sed 's/^/    | /' >&2; }

# ------------------------------------------------------------------ network
guard_routes() {   # the root namespace must never send the test subnets out through its default route
  local net cur
  for net in "${GUARDED_NETS[@]}"; do
    cur=$(ip -4 route show exact "$net" 2>/dev/null)
    case "$cur" in
      "") ip route add unreachable "$net" ;;
      unreachable*) ;;
      *) die "root namespace already routes $net ($cur): pick other test subnets in lib.sh" ;;
    esac
  done
}
guards_ok() { local net; for net in "${GUARDED_NETS[@]}"; do ip -4 route show exact "$net" | grep -q '^unreachable'; done; }

make_network() {
  local n ns
  for ns in "$CLIENT_NS" "${NS[@]}"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  # client side: a bridge "lan0" = the LAN the nodes and clients share (no uplink: nothing can leave)
  ip -n "$CLIENT_NS" link add lan0 type bridge
  ip -n "$CLIENT_NS" addr add "$CLIENT_IP/24" dev lan0
  ip -n "$CLIENT_NS" link set lan0 up
  for n in "${NODES[@]}"; do
    ns=${NS[$n]}
    ip link add eth0 netns "$ns" type veth peer name "port-$n" netns "$CLIENT_NS"
    ip -n "$CLIENT_NS" link set "port-$n" master lan0 up
    ip -n "$ns" addr add "${ADDR[$n]}/24" dev eth0
    ip -n "$ns" link set eth0 up
    # Postfix/Dovecot listen on the VIP while the peer holds it
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_nonlocal_bind=1
  done
  # dedicated sync link: a veth pair straight from node-a to node-b
  ip link add sync0 netns "${NS[node-a]}" type veth peer name sync0 netns "${NS[node-b]}"
  for n in "${NODES[@]}"; do
    ip -n "${NS[$n]}" addr add "${SYNC_ADDR[$n]}/24" dev sync0
    ip -n "${NS[$n]}" link set sync0 up
  done
}

make_node_namespaces() {   # per node: persistent mount + UTS namespace, bound under $ST/ns
  local n
  mkdir -p "$ST/ns"
  mountpoint -q "$ST/ns" || mount --bind "$ST/ns" "$ST/ns"
  mount --make-private "$ST/ns"
  for n in "${NODES[@]}"; do
    mkdir -p "$ST/$n/tmp"; chmod 1777 "$ST/$n/tmp"
    touch "$ST/ns/$n.mnt" "$ST/ns/$n.uts"
    unshare --mount="$ST/ns/$n.mnt" --uts="$ST/ns/$n.uts" --propagation private \
      sh -c "hostname $n && mount --bind '$ST/$n/tmp' /tmp"
  done
}

# ------------------------------------------------------------------ keepalived
write_keepalived() {   # write_keepalived NODE
  local n=$1 d=$ST/$1
  cat >"$d/keepalived.conf" <<KA
# keepalived for $n (generated by e2e/testbed). VRRP adverts go unicast over the sync link;
# the VIP lives on the LAN side (eth0). notify writes $d/keepalived.state.
global_defs {
    router_id $n
    enable_script_security
    script_user root
}
vrrp_instance VI_MAIL {
    state BACKUP
    interface sync0
    track_interface {
        eth0
    }
    virtual_router_id $VRID
    priority ${KA_PRIO[$n]}
    advert_int 1
    # after a split brain heals the master never transitions, so it sends no gratuitous ARP by itself and the
    # LAN keeps the ex-master's MAC for the VIP until ARP ages out (~25 s seen): refresh it every 5 s instead
    garp_master_refresh 5
    garp_master_refresh_repeat 1
    unicast_src_ip ${SYNC_ADDR[$n]}
    unicast_peer {
        ${SYNC_ADDR[${PEER[$n]}]}
    }
    authentication {
        auth_type PASS
        auth_pass e2e-vrrp
    }
    virtual_ipaddress {
        $VIP/24 dev eth0
    }
    notify "$ST/bin/keepalived-notify.sh $d/keepalived.state $n $ST/testbed"
}
KA
}
install_notify_script() {   # keepalived's script security wants a root-owned script in root-owned dirs
  install -d -m 755 "$ST/bin"
  install -m 755 "$TB_DIR/keepalived-notify.sh" "$ST/bin/keepalived-notify.sh"
  # What runs inside a node's mount namespace must not live under /tmp (each node has its own /tmp, and
  # the checkout may be under /tmp): stage the testbed scripts in the state dir for the notify script.
  rm -rf "$ST/testbed"; cp -a "$TB_DIR" "$ST/testbed"; cp "$REPO_DIR/scripts/proc.sh" "$ST/testbed/proc.sh"
}
ka_start() {   # ka_start NODE
  local n=$1 d=$ST/$1
  running "ka-$n" && { log "keepalived on $n already running"; return 0; }
  start_bg "ka-$n" "$n" /usr/sbin/keepalived -n -l -D --vrrp -f "$d/keepalived.conf" \
    -p "$d/keepalived.pid" -r "$d/keepalived-vrrp.pid" -c "$d/keepalived-checkers.pid" -b "$d/keepalived-bfd.pid"
}
ka_stop() {                                    # ka_stop NODE: TERM (keepalived sends priority 0, peer takes over)
  stop_name "ka-$1" 5
  mail_converge "$1"                           # like an ExecStopPost: the node's mail services follow (stopped)
}
ka_kill() {                                    # ka_kill NODE: KILL parent + VRRP child (crash: VIP stays behind)
  local p c; p=$(pid_of "ka-$1"); c=$(cat "$ST/$1/keepalived-vrrp.pid" 2>/dev/null || true)
  for x in $c $p; do alive "$x" && kill -KILL "$x"; done; rm -f "$(pidfile "ka-$1")"; return 0
}
ka_state() { cat "$ST/$1/keepalived.state" 2>/dev/null || echo "NONE"; }   # "<TYPE> <NAME> <STATE> <PRIO> <time>"
vip_on() { ip -n "${NS[$1]}" -4 -br addr show dev eth0 2>/dev/null | grep -qw "$VIP/24"; }
vip_holders() { local n out=(); for n in "${NODES[@]}"; do vip_on "$n" && out+=("$n"); done; echo "${out[*]:-none}"; }
# keepalived_dump NODE DATA|STATS|JSON: make keepalived write its dump, print the file (from the node's /tmp)
keepalived_dump() {
  local n=$1 what=$2 sig f pid
  pid=$(pid_of "ka-$n"); alive "$pid" || { echo "keepalived on $n not running" >&2; return 1; }
  sig=$(keepalived --signum="$what") || return 1
  f=$ST/$n/tmp/keepalived.$(tr '[:upper:]' '[:lower:]' <<<"$what")
  rm -f "$f"; kill -"$sig" "$pid"
  wait_for 40 0.05 test -s "$f" || { echo "no $f" >&2; return 1; }
  sleep 0.1; cat "$f"
}

# ------------------------------------------------------------------ postfix
write_postfix() {   # write_postfix NODE
  local n=$1 d=$ST/$1 P=$ST/$1/postfix
  install -d -m 755 "$P"
  install -d -o root -g root -m 755 "$d/pf-spool"
  install -d -o postfix -g postfix -m 700 "$d/pf-data"
  cp /usr/share/postfix/master.cf.dist "$P/master.cf"
  # queue directories exist before the first start (the standby's Postfix may never start; its exporter's
  # queue_dir and postqueue -j sources read the queue all the same): `postfix check` creates them below
  : >"$P/main.cf"
  postconf -c "$P" -e \
    "compatibility_level = 3.6" \
    "queue_directory = $d/pf-spool" \
    "data_directory = $d/pf-data" \
    "maillog_file = $LOGS/postfix-$n.log" \
    "maillog_file_prefixes = /var, /dev/stdout, $LOGS" \
    "myhostname = $n.$MAIL_DOMAIN" "mydomain = $MAIL_DOMAIN" 'myorigin = $myhostname' "mydestination =" \
    "inet_interfaces = ${ADDR[$n]}" "inet_protocols = ipv4" \
    "mynetworks = 127.0.0.0/8, $NET.0/24" \
    "smtpd_banner = \$myhostname ESMTP e2e $n" "smtpd_peername_lookup = no" \
    "smtp_dns_support_level = disabled" \
    "alias_maps =" "alias_database =" "local_recipient_maps =" \
    "virtual_mailbox_domains = $MAIL_DOMAIN" \
    "virtual_transport = lmtp:unix:$d/dovecot-run/lmtp" \
    "default_transport = smtp" "relay_transport = relay" \
    "relayhost = [127.0.0.1]:2525" \
    "defer_transports = smtp, relay" \
    "queue_run_delay = 300s" "maximal_queue_lifetime = 1d" \
    "smtpd_tls_cert_file = $d/tls/cert.pem" "smtpd_tls_key_file = $d/tls/key.pem" \
    "smtpd_tls_security_level = may"
  # outbound mail: defer_transports keeps it deferred; a forced flush (postqueue -f) would only try the node's
  # own loopback 127.0.0.1:2525 (nothing listens): nothing ever leaves the node.
  # nothing chrooted; the VIP gets its own smtpd listener (inet_interfaces cannot name a non-local address)
  postconf -c "$P" -F '*/*/chroot = n'
  postconf -c "$P" -Me "$VIP:smtp/inet = $VIP:smtp inet n - n - - smtpd"
  nx "$n" postfix -c "$P" check >>"$LOGS/postfix-$n.start.log" 2>&1 || warn "postfix check on $n failed"
}
pf_start() {   # pf_start NODE: postfix daemonizes; its master pid is recorded as postfix-NODE
  local n=$1
  running "postfix-$n" && { log "postfix on $n already running"; return 0; }
  nx "$n" postfix -c "$ST/$n/postfix" start >>"$LOGS/postfix-$n.start.log" 2>&1 || { log_tail "postfix-$n.start"; return 1; }
  wait_for 50 0.1 test -s "$ST/$n/pf-spool/pid/master.pid" || return 1
  awk '{print $1}' "$ST/$n/pf-spool/pid/master.pid" >"$(pidfile "postfix-$n")"
}
pf_stop() {   # pf_stop NODE: the admin's way (postfix stop), then make sure by pid
  local n=$1
  nx "$n" postfix -c "$ST/$n/postfix" stop >>"$LOGS/postfix-$n.start.log" 2>&1 || true
  stop_name "postfix-$n" 5
}
postqueue_json() { nx "$1" postqueue -c "$ST/$1/postfix" -j; }

# ------------------------------------------------------------------ TLS: a test CA, a certificate for $TLS_NAME
write_tls() {   # the CA and the site certificate (shared by both nodes, as a real site deploys one name)
  install -d -m 755 "$TLS_DIR"
  local c="openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
  $c -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" -days 30 -subj "/CN=mailcluster e2e test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>>"$LOGS/tls.log"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TLS_DIR/site.key" \
    -out "$TLS_DIR/site.csr" -subj "/CN=$TLS_NAME" 2>>"$LOGS/tls.log"
  openssl x509 -req -in "$TLS_DIR/site.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
    -days 20 -out "$TLS_DIR/site.crt" -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$TLS_NAME") \
    2>>"$LOGS/tls.log"
  chmod 644 "$TLS_DIR/ca.pem" "$TLS_DIR/site.crt"; chmod 600 "$TLS_DIR/ca.key" "$TLS_DIR/site.key"
  local n; for n in "${NODES[@]}"; do tls_install "$n" site; done
}
tls_install() {   # tls_install NODE site|selfsigned: the node's cert.pem/key.pem
  local n=$1 d=$ST/$1/tls
  install -d -m 755 "$d"
  case "$2" in
    site) cp "$TLS_DIR/site.crt" "$d/cert.pem.tmp"; cp "$TLS_DIR/site.key" "$d/key.pem.tmp" ;;
    selfsigned)   # what Debian's ssl-cert makes: self-signed, named after the host
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/key.pem.tmp" \
        -out "$d/cert.pem.tmp" -days 3650 -subj "/CN=$n" 2>>"$LOGS/tls.log" ;;
  esac
  chmod 644 "$d/cert.pem.tmp"; chmod 600 "$d/key.pem.tmp"
  mv -f "$d/key.pem.tmp" "$d/key.pem"; mv -f "$d/cert.pem.tmp" "$d/cert.pem"
}
tls_swap() {   # tls_swap NODE site|selfsigned: install, then make the running daemons present it
  local n=$1
  tls_install "$n" "$2"
  if running "postfix-$n"; then nx "$n" postfix -c "$ST/$n/postfix" reload >>"$LOGS/postfix-$n.start.log" 2>&1 || return 1; fi
  if running "dovecot-$n"; then doveadm_on "$n" reload || return 1; fi
}

# ------------------------------------------------------------------ dovecot
write_users() {
  install -d -m 755 "$ST/dovecot"
  printf '%s:{PLAIN}%s::::::\n' "$TEST_USER" "$TEST_PASS" "$USER2" "$USER2_PASS" "$PROBE_USER" "$PROBE_PASS" >"$ST/dovecot/users.passwd"
  chmod 644 "$ST/dovecot/users.passwd"
  printf '%s@%s\n' "$PROBE_USER" "$MAIL_DOMAIN" >"$ST/probe.user"
  printf '%s\n' "$PROBE_PASS" >"$ST/probe.pass"
  chmod 600 "$ST/probe.user" "$ST/probe.pass"
}
write_dovecot() {   # write_dovecot NODE
  local n=$1 d=$ST/$1 peer=${PEER[$1]} u g
  install -d -m 755 "$d/dovecot" "$d/dovecot-state"
  install -d -o mail -g mail -m 700 "$d/mail"
  cat >"$d/dovecot/dovecot.conf" <<DC
# Dovecot for $n (generated by e2e/testbed). Run on the node: dovecot -F -c $d/dovecot/dovecot.conf
instance_name = dovecot-$n
base_dir = $d/dovecot-run
state_dir = $d/dovecot-state
hostname = $n.$MAIL_DOMAIN
login_greeting = Dovecot $n ready.
log_path = $LOGS/dovecot-$n.mail.log
protocols = imap pop3 lmtp
listen = ${ADDR[$n]}, $VIP
# STARTTLS offered as Debian ships it (ssl = yes), with the node's certificate (test CA, $TLS_NAME;
# ops.sh tls selfsigned swaps in a self-signed one)
ssl = yes
ssl_cert = <$d/tls/cert.pem
ssl_key = <$d/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
first_valid_uid = 8
mail_location = maildir:~/Maildir
# IMAP/POP3 listeners: open on the active node, closed (port 0) on the standby; switched by mail_converge
# (dc_listeners) + doveadm reload. LMTP, the replicator and the doveadm/dsync listener below always run.
!include $d/dovecot/listeners.conf
mail_plugins = \$mail_plugins notify replication
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $ST/dovecot/users.passwd
}
userdb {
  driver = passwd-file
  args = username_format=%n $ST/dovecot/users.passwd
  default_fields = uid=mail gid=mail home=$d/mail/%n
}
# replication: dsync to the peer over the sync link (doveadm TCP); the same listener answers on the LAN
# address too, which makes it the liveness port the agentless exporter probes on a silent standby
doveadm_port = $DOVEADM_PORT
doveadm_password = $DOVEADM_SECRET
doveadm_api_key = $DOVEADM_API_KEY
replication_max_conns = 10
service doveadm {
  inet_listener {
    address = ${SYNC_ADDR[$n]}, ${ADDR[$n]}
    port = $DOVEADM_PORT
  }
  inet_listener http {
    address = ${ADDR[$n]}
    port = $DOVEADM_HTTP_PORT
  }
}
service replicator {
  process_min_avail = 1
  unix_listener replicator-doveadm {
    mode = 0600
    user = mail
  }
}
service aggregator {
  fifo_listener replication-notify-fifo {
    user = mail
  }
  unix_listener replication-notify {
    user = mail
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
plugin {
  mail_replica = tcp:${SYNC_ADDR[$peer]}:$DOVEADM_PORT
}
DC
  dc_write_listeners "$n" closed
  # The same INBOX GUID on both nodes before the first start: otherwise each node creates its own INBOX
  # and dsync swaps the two GUIDs forever.
  for u in "$TEST_USER" "$USER2" "$PROBE_USER"; do
    g=$(printf '%s' "e2e-inbox-$u" | md5sum | cut -c1-32)
    install -d -o mail -g mail -m 700 "$d/mail/$u" "$d/mail/$u/Maildir" \
      "$d/mail/$u/Maildir/cur" "$d/mail/$u/Maildir/new" "$d/mail/$u/Maildir/tmp"
    printf '3 V1700000000 N1 G%s\n' "$g" >"$d/mail/$u/Maildir/dovecot-uidlist"
    chown mail:mail "$d/mail/$u/Maildir/dovecot-uidlist"; chmod 600 "$d/mail/$u/Maildir/dovecot-uidlist"
  done
}
dc_start() {   # dc_start NODE (foreground master, so the recorded pid is Dovecot's master)
  local n=$1
  running "dovecot-$n" && { log "dovecot on $n already running"; return 0; }
  start_bg "dovecot-$n" "$n" /usr/sbin/dovecot -F -c "$ST/$n/dovecot/dovecot.conf"
  # sockets of a stopped Dovecot stay behind: ready = the replicator answers
  wait_for 50 0.1 doveadm_on "$n" replicator status || { log_tail "dovecot-$n"; return 1; }
}
dc_stop() { stop_name "dovecot-$1" 5; }
# dc_write_listeners NODE open|closed: the included listener config (replaced atomically); rc 1 = unchanged
dc_write_listeners() {
  local n=$1 port_imap=0 port_pop3=0 f=$ST/$1/dovecot/listeners.conf
  [ "$2" = open ] && { port_imap=$IMAP_PORT; port_pop3=$POP3_PORT; }
  # imap-monitor: always open, on the node's own address only (the round trip reads the standby's mailbox)
  printf '# %s (written by e2e/testbed/lib.sh dc_write_listeners; port 0 = listener closed)\nservice imap-login {\n  inet_listener imap {\n    port = %s\n  }\n  inet_listener imap-monitor {\n    address = %s\n    port = %s\n  }\n}\nservice pop3-login {\n  inet_listener pop3 {\n    port = %s\n  }\n}\n' \
    "$2" "$port_imap" "${ADDR[$n]}" "$IMAP_MONITOR_PORT" "$port_pop3" >"$f.tmp"
  if cmp -s "$f.tmp" "$f"; then rm -f "$f.tmp"; return 1; fi
  mv -f "$f.tmp" "$f"
}
listening() { [ -n "$(nx "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ]; }   # listening NODE PORT
# dc_listeners NODE open|closed: IMAP/POP3 on (or off) the node and VIP addresses; Dovecot keeps running
# (LMTP, replicator, doveadm/dsync port). Reloads only when the sockets differ from what is wanted, then waits
# (bounded) until they match.
not_listening() { ! listening "$@"; }
dc_listeners() {
  local n=$1 want=$2 check=listening
  [ "$want" = open ] || check=not_listening
  dc_write_listeners "$n" "$want" || true
  running "dovecot-$n" || return 0
  "$check" "$n" "$IMAP_PORT" && "$check" "$n" "$POP3_PORT" && return 0
  doveadm_on "$n" reload >/dev/null 2>&1 || { warn "doveadm reload on $n failed"; return 1; }
  wait_for 100 0.1 "$check" "$n" "$IMAP_PORT" && wait_for 50 0.1 "$check" "$n" "$POP3_PORT" ||
    { warn "$n: IMAP/POP3 listeners not $want 10 s after doveadm reload"; return 1; }
}
doveadm_on() { local n=$1; shift; nx "$n" doveadm -c "$ST/$n/dovecot/dovecot.conf" "$@"; }
# replication of every user on NODE done and not failed (doveadm replicator status '*': priority none, not failed)
repl_synced() {
  doveadm_on "$1" replicator status '*' 2>/dev/null |
    awk 'NR>1 { n++; if ($2!="none" || $(NF-1)=="-" || $NF=="y") bad=1 } END { exit (bad || n==0) }'
}
# repl_heal NODE: after NODE's Dovecot came back: let NODE's start-up sync finish, then re-queue every user on
# the peer (whose failed users would otherwise wait 5 min); never both sides at once (30 s lock deadlock)
repl_heal() {
  local n=$1 p=${PEER[$1]}
  wait_for 100 0.2 repl_synced "$n" || warn "$n: start-up sync not finished after 20 s"
  doveadm_on "$p" replicator replicate '*' >/dev/null
  wait_for 100 0.2 repl_synced "$p"
}
# repl_users NODE N: N more users (bulkNNNNN, no mail) in the shared passwd-file, all added to NODE's replicator
# (`doveadm replicator add '*'`): a replicator status as long as the box allows. repl_users_reset undoes it.
repl_users() {
  local n=$1 count=$2
  write_users
  awk -v c="$count" 'BEGIN { for (i = 1; i <= c; i++) printf "bulk%05d:{PLAIN}x::::::\n", i }' >>"$ST/dovecot/users.passwd"
  doveadm_on "$n" replicator add '*'
}
repl_users_reset() {   # the two test users only, replicator state of both nodes cleared (Dovecot restarted)
  local n
  write_users
  for n in "${NODES[@]}"; do dc_stop "$n"; rm -f "$ST/$n/dovecot-state/replicator.db"; rm -rf "$ST/$n/mail"/bulk*; done
  dc_start node-b && dc_start node-a || return 1
  wait_for 150 0.1 repl_synced node-b || true
  doveadm_on node-a replicator replicate '*' >/dev/null
  wait_for 150 0.1 repl_synced node-a
}
has_message() { doveadm_on "$1" search -u "$2" mailbox INBOX header Message-ID "$3" 2>/dev/null | grep -q .; }

# ------------------------------------------------------------------ appliance semantics: mail follows the VRRP role
# The active node serves mail (Postfix running, Dovecot IMAP/POP3 listeners open); the standby's mail services
# are stopped (Postfix stopped, IMAP/POP3 listeners closed) while Dovecot keeps running for LMTP and dsync
# replication, so its doveadm port (the liveness port) stays open. keepalived-notify.sh calls
# `ops.sh converge NODE` on every transition; ka_stop calls it after keepalived exited.
# A node "should serve" when its keepalived runs, its state file says MASTER and it is not in maintenance
# ($ST/NODE/maintenance exists: the update procedure stops and starts services by hand, see ops.sh maint).
mail_should_serve() {
  running "ka-$1" && [ "$(ka_state "$1" | cut -d' ' -f3)" = MASTER ] && [ ! -e "$ST/$1/maintenance" ]
}
# mail_converge NODE: bring NODE's mail services to what its role says. Serialized per node (flock, bounded
# wait) and it re-reads the state under the lock, so racing notifications always end in the latest state.
mail_converge() (
  n=$1
  exec 9>"$ST/$n/converge.lock"
  flock -w 40 9 || { warn "converge $n: lock busy for 40 s"; exit 1; }
  if mail_should_serve "$n"; then svc_start "$n"; else svc_stop "$n"; fi
)
svc_start() { pf_start "$1" && dc_listeners "$1" open; }                        # svc_start NODE: mail services on
svc_stop() { local rc=0; pf_stop "$1" || rc=1; dc_listeners "$1" closed || rc=1; return $rc; }   # ... off
maint() { case "$2" in on) : >"$ST/$1/maintenance" ;; off) rm -f "$ST/$1/maintenance" ;; esac; }   # maint NODE on|off

# ------------------------------------------------------------------ exporters, Prometheus, Alertmanager
. "$TB_DIR/exporter-config.sh"
exporter_targets() { local n; for n in "${NODES[@]}"; do echo "${ADDR[$n]}:$EXPORTER_PORT"; done; echo "$CLIENT_IP:$EXPORTER_PORT"; }
exp_start() {   # exp_start NODE|client (a config --config.check rejects is fatal: nothing is left out)
  local who=$1 cfg=$ST/$1/exporter.yml out
  [ -x "$EXPORTER_BIN" ] || die "exporter binary $EXPORTER_BIN not found (make build)"
  running "exporter-$who" && return 0
  mkdir -p "$ST/$who"
  local common=(--config.file="$cfg" --windows.file="$WINDOWS_FILE")
  exporter_config "$who" >"$cfg"
  # staged in the state dir: a node's mount namespace has its own /tmp, and the checkout may be under /tmp
  local bin=$ST/bin/mailcluster_exporter
  install -d -m 755 "$ST/bin" && install -m 755 "$EXPORTER_BIN" "$bin.new" && mv -f "$bin.new" "$bin"
  out=$("$bin" "${common[@]}" --config.check 2>&1) || die "exporter-$who: --config.check rejects $cfg: $out"
  if [ "$who" = client ]; then
    start_bg "exporter-$who" client "$bin" "${common[@]}" --web.listen-address="$CLIENT_IP:$EXPORTER_PORT"
  else
    start_bg "exporter-$who" "$who" "$bin" "${common[@]}" --cluster.node="$who" \
      --web.listen-address="${ADDR[$who]}:$EXPORTER_PORT"
  fi
}
exp_stop() { stop_name "exporter-$1" 5; }
# the node's "software version" (the exporter's `version` source cats it): set_version NODE VERSION
set_version() { printf '%s\n' "$2" >"$ST/$1/version.tmp" && mv -f "$ST/$1/version.tmp" "$ST/$1/version"; }

rule_files() {   # every $RULES_DIR/mailcluster.*.yml; one that promtool rejects is fatal (nothing is skipped)
  local f
  for f in "$RULES_DIR"/mailcluster.*.yml; do
    [ -f "$f" ] || continue
    promtool check rules "$f" >/dev/null 2>&1 || { promtool check rules "$f" >&2; die "promtool check rules rejects $f"; }
    echo "$f"
  done
}
write_prometheus_config() {   # examples/prometheus/prometheus.yml with the testbed's addresses: the guide is what is tested
  local ex=$REPO_DIR/examples/prometheus/prometheus.yml f t CLUSTER_NAME=e2e   # the cluster of exporter-config.sh
  [ -f "$ex" ] || die "$ex not found: the testbed's Prometheus configuration is generated from it"
  mkdir -p "$ST/client"
  t=$(rule_files) || exit 1; echo "$t" >"$ST/client/rule_files.txt"
  {
    echo "# generated by e2e/testbed/lib.sh (write_prometheus_config) from $ex; reload: e2e/testbed/ops.sh prom-reload"
    # node names, then addresses; the `exporter` label names each exporter for the e2e queries
    sed -e "s|'mail1.example.net:19025'\]|'${ADDR[node-a]}:$EXPORTER_PORT']\n        labels: {exporter: node-a}|" \
        -e "s|'mail2.example.net:19025'\]|'${ADDR[node-b]}:$EXPORTER_PORT']\n        labels: {exporter: node-b}|" \
        -e "s|targets: \[mail-a\]|targets: [$CLUSTER_NAME]\n        labels: {exporter: agentless}|" \
        -e "s|monitor.example.net:19025|$CLIENT_IP:$EXPORTER_PORT|g" \
        -e "s|mail1.example.net:|${ADDR[node-a]}:|g; s|mail2.example.net:|${ADDR[node-b]}:|g" \
        -e "s|cluster: mail-a, node: mail1|cluster: $CLUSTER_NAME, node: node-a|; s|cluster: mail-a, node: mail2|cluster: $CLUSTER_NAME, node: node-b|" \
        -e "s|alertmanager.example.net:9093|$CLIENT_IP:$AM_PORT|; s|localhost:9090|$CLIENT_IP:$PROM_PORT|" \
        -e "s|/etc/prometheus/rules/|$RULES_DIR/|" \
        -e "s|^\(  scrape_interval:\).*|\1 3s|; s|^\(  scrape_timeout:\).*|\1 3s|; s|^\(  evaluation_interval:\).*|\1 3s|" \
        "$ex"
  } >"$ST/client/prometheus.yml"
  # every rule file the testbed validated must be one the example loads, and the reverse
  for f in $t; do grep -qxF "  - $f" "$ST/client/prometheus.yml" || die "$ex does not load $(basename "$f")"; done
  for f in $(sed -n 's|^  - \('"$RULES_DIR"'/.*\)$|\1|p' "$ST/client/prometheus.yml"); do
    [ -f "$f" ] || die "$ex loads $(basename "$f"), which is not in $RULES_DIR"
  done
  promtool check config --syntax-only "$ST/client/prometheus.yml" >/dev/null 2>&1 ||
    { promtool check config --syntax-only "$ST/client/prometheus.yml" >&2; die "generated prometheus.yml rejected"; }
}
write_alertmanager_config() {   # the rules engineer's example if amtool accepts it, else a do-nothing config
  local ex=$RULES_DIR/alertmanager.example.yml
  mkdir -p "$ST/client"
  if [ -f "$ex" ] && amtool check-config "$ex" >/dev/null 2>&1; then
    echo "$ex" >"$ST/client/alertmanager.path"
  else
    [ -f "$ex" ] && warn "$ex rejected by amtool check-config: using a minimal config"
    cat >"$ST/client/alertmanager.yml" <<AM
# minimal Alertmanager config (generated by e2e/testbed): alerts are kept and visible in the API only
route:
  receiver: blackhole
  group_by: [alertname, cluster]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: blackhole
AM
    echo "$ST/client/alertmanager.yml" >"$ST/client/alertmanager.path"
  fi
}
prom_start() {
  running prometheus && return 0
  write_prometheus_config
  mkdir -p "$ST/client/prometheus-data"
  log "prometheus: $PROMETHEUS_BIN ($("$PROMETHEUS_BIN" --version 2>&1 | head -n 1))"
  start_bg prometheus client "$PROMETHEUS_BIN" --config.file="$ST/client/prometheus.yml" \
    --storage.tsdb.path="$ST/client/prometheus-data" --storage.tsdb.retention.time=1d \
    --web.listen-address="$CLIENT_IP:$PROM_PORT" --web.enable-lifecycle
}
am_start() {
  running alertmanager && return 0
  write_alertmanager_config
  mkdir -p "$ST/client/alertmanager-data"
  start_bg alertmanager client /usr/bin/prometheus-alertmanager --config.file="$(cat "$ST/client/alertmanager.path")" \
    --storage.path="$ST/client/alertmanager-data" --web.listen-address="$CLIENT_IP:$AM_PORT" \
    --cluster.listen-address= --web.external-url="http://$CLIENT_IP:$AM_PORT/"
}
http_get() { cx curl -fsS --max-time "${2:-5}" "$1"; }   # http_get URL [SECONDS] from the client namespace
prom_ready() { http_get "http://$CLIENT_IP:$PROM_PORT/-/ready" 2 >/dev/null; }
am_ready() { http_get "http://$CLIENT_IP:$AM_PORT/-/ready" 2 >/dev/null; }
prom_query() { cx curl -fsS --max-time 5 "http://$CLIENT_IP:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"; }
prom_reload() { write_prometheus_config && cx curl -fsS --max-time 10 -X POST "http://$CLIENT_IP:$PROM_PORT/-/reload"; }

# ------------------------------------------------------------------ mail clients (in the client namespace)
# deliver ADDR RCPT [SUBJECT]: one message over SMTP; prints its Message-ID (without <>)
deliver() {
  local addr=${1:-$VIP} rcpt=${2:-$TEST_USER@$MAIL_DOMAIN} subj=${3:-e2e test} id
  id="e2e-$(date +%s%N)-$RANDOM@$MAIL_DOMAIN"
  cx timeout 15 /usr/bin/python3 "$TB_DIR/mailclient.py" smtp "$addr" "$rcpt" "$id" "$subj" >/dev/null || return 1
  echo "$id"
}

# ------------------------------------------------------------------ fault injection (nftables in the node)
vrrp_cut() {   # vrrp_cut [NODE...]: drop VRRP in and out (default both nodes): both become MASTER = split brain
  local n nodes=("$@"); [ $# -gt 0 ] || nodes=("${NODES[@]}")
  for n in "${nodes[@]}"; do
    nx "$n" nft -f - <<NFT
table inet mce2e_vrrp
delete table inet mce2e_vrrp
table inet mce2e_vrrp {
  chain in { type filter hook input priority 0; policy accept; ip protocol 112 drop; }
  chain out { type filter hook output priority 0; policy accept; ip protocol 112 drop; }
}
NFT
  done
}
vrrp_restore() {
  local n nodes=("$@"); [ $# -gt 0 ] || nodes=("${NODES[@]}")
  for n in "${nodes[@]}"; do nx "$n" nft delete table inet mce2e_vrrp 2>/dev/null || true; done
}
# repl_block NODE [drop|reject]: the doveadm/dsync port on the sync link, both directions, on NODE
repl_block() {
  local n=$1 verdict=${2:-reject} rj
  [ "$verdict" = reject ] && rj="reject with tcp reset" || rj=drop
  nx "$n" nft -f - <<NFT
table inet mce2e_repl
delete table inet mce2e_repl
table inet mce2e_repl {
  chain in { type filter hook input priority 0; policy accept; iifname "sync0" tcp dport $DOVEADM_PORT $rj; }
  chain out { type filter hook output priority 0; policy accept; oifname "sync0" tcp dport $DOVEADM_PORT $rj; }
}
NFT
}
repl_unblock() { nx "$1" nft delete table inet mce2e_repl 2>/dev/null || true; }
# repl_stall NODE: on NODE's sync link, let TCP handshakes and bare ACK/FIN to the doveadm port through but drop
# every inbound segment carrying data: the port stays reachable (peer_tcp, liveness: up) while the peer's dsync
# hangs with its request queued = "syncing" (yellow), not failed. repl_unblock NODE undoes it.
repl_stall() {
  nx "$1" nft -f - <<NFT
table inet mce2e_repl
delete table inet mce2e_repl
table inet mce2e_repl {
  chain in { type filter hook input priority 0; policy accept; iifname "sync0" tcp dport $DOVEADM_PORT ip length > 64 drop; }
}
NFT
}
link_set() { ip -n "${NS[$1]}" link set "$2" "$3"; }   # link_set NODE eth0|sync0 up|down

# ------------------------------------------------------------------ teardown (also used by up.sh for stale state)
teardown() (   # a subshell: best effort, never aborts half-way under set -e
  set +e
  local pid n ns p f i
  # 1. everything recorded, by pid, in parallel (TERM now, KILL after a bounded wait)
  local pids=()
  for f in "$PIDS"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(tr -d ' \n' <"$f"); alive "$pid" && { kill -TERM "$pid" 2>/dev/null; pids+=("$pid"); }
  done
  for n in "${NODES[@]}"; do   # daemonized Postfix master, keepalived VRRP child (if their pidfiles exist)
    for f in "$ST/$n/pf-spool/pid/master.pid" "$ST/$n/keepalived-vrrp.pid"; do
      pid=$(awk '{print $1}' "$f" 2>/dev/null); alive "$pid" && { kill -TERM "$pid" 2>/dev/null; pids+=("$pid"); }
    done
  done
  for ((i = 0; i < 100; i++)); do
    local left=(); for p in "${pids[@]}"; do alive "$p" && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && break; sleep 0.05
  done
  for p in "${left[@]}"; do warn "pid $p ($(cat /proc/"$p"/comm 2>/dev/null)) ignored TERM: KILL"; stop_pid "$p" 1; done
  # 2. whatever still runs inside our network namespaces is ours by construction: stop it by pid
  for ns in "${NS[@]}" "$CLIENT_NS"; do
    [ -e "/run/netns/$ns" ] || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      warn "leftover in $ns: pid $p ($(cat /proc/"$p"/comm 2>/dev/null))"; stop_pid "$p" 2
    done
  done
  rm -f "$PIDS"/*.pid
  # 3. namespaces (veths, bridge and the sync link vanish with them), then the node mount/UTS namespaces
  for ns in "${NS[@]}" "$CLIENT_NS"; do [ -e "/run/netns/$ns" ] && ip netns delete "$ns"; done
  for n in "${NODES[@]}"; do
    for f in "$ST/ns/$n.mnt" "$ST/ns/$n.uts"; do mountpoint -q "$f" 2>/dev/null && umount "$f"; done
  done
  mountpoint -q "$ST/ns" 2>/dev/null && umount "$ST/ns"
  return 0
)
