#!/bin/bash
# install.sh — install everything the e2e testbed needs from Debian 12 (idempotent, non-interactive).
#
# * runs `apt-get update` only when a package has no install candidate (fresh machine, stale lists);
# * preseeds Postfix "No configuration" (the testbed writes its own per-node config dirs);
# * keeps Debian's maintainer scripts from starting daemons (a temporary policy-rc.d, only if none exists)
#   and afterwards stops, by pid, any testbed daemon that was not running before the install.
# Usage: install.sh        (root)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
require_root

PKGS=(iproute2 util-linux procps nftables keepalived
      postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd
      prometheus prometheus-alertmanager curl jq python3)
# daemons a maintainer script could start; anything new running from these paths is stopped after the install
DAEMONS=(/usr/sbin/keepalived /usr/lib/postfix/sbin/master /usr/sbin/dovecot
         /usr/bin/prometheus /usr/bin/prometheus-alertmanager /usr/bin/prometheus-node-exporter)

export DEBIAN_FRONTEND=noninteractive
t0=$(now)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all ${#PKGS[@]} packages already installed ($(elapsed "$t0"))"
else
  log "to install: ${missing[*]}"
  # update only if needed: a package without candidate means the lists are missing or stale
  if apt-cache policy "${missing[@]}" 2>/dev/null | grep -q 'Candidate: (none)' ||
     [ "$(apt-cache policy "${missing[@]}" 2>/dev/null | grep -c 'Candidate:')" -lt ${#missing[@]} ]; then
    log "apt-get update"; apt-get update -qq
  fi
  debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string e2e.test
SEL
  before=$(daemon_pids "${DAEMONS[@]}")
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, written by mailcluster e2e install.sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" || rc=$?
  [ $made_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || die "apt-get install failed (rc=$rc)"
  # a daemon Debian started anyway (no init here, but be sure): stop it by pid
  for pid in $(daemon_pids "${DAEMONS[@]}"); do
    grep -qw "$pid" <<<"$before" && continue
    log "stopping daemon started by the install: pid $pid $(readlink /proc/$pid/exe 2>/dev/null)"
    stop_pid "$pid" 5
  done
  log "installed in $(elapsed "$t0")"
fi
for b in ip nft keepalived postfix postconf dovecot doveadm prometheus promtool prometheus-alertmanager amtool curl jq /usr/bin/python3 nsenter unshare; do
  command -v "$b" >/dev/null || die "missing after install: $b"
done
log "versions: $(pkg_versions)"
