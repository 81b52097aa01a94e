#!/usr/bin/env bash
# install-deps.sh — THE package installer of the project (Debian 12), idempotent and non-interactive.
# `make deps` calls it; e2e/testbed/install.sh is a thin wrapper around it. It installs what the test suite
# runs for real:
#   rules:        promtool, amtool (prometheus, prometheus-alertmanager)
#   parsers:      crm_mon / crm_simulate (pacemaker-cli-utils)
#   e2e testbed:  keepalived, Postfix, Dovecot (core, imapd, pop3d, lmtpd), Prometheus + Alertmanager, and the
#                 tools its scripts use: ip/bridge (iproute2), nsenter/unshare/flock/mountpoint (util-linux),
#                 ss (iproute2), nft (nftables), pgrep-free process checks (procps), curl, jq, bc (lib.sh
#                 elapsed), python3 (mailclient.py), timeout/setsid (coreutils, util-linux)
#
# * `apt-get update` first when a missing package has no install candidate (fresh machine), and again, with
#   one retry of the install, when a download fails (stale lists name files the archive no longer has: 404);
# * preseeds Postfix "No configuration" (the testbed writes its own per-node config dirs);
# * keeps Debian's maintainer scripts from starting daemons (a temporary policy-rc.d, only if none exists) and
#   afterwards stops, by pid, any of these daemons that was not running before the install.
# Exit 0 when everything is present afterwards. Without root it only reports what is missing.
set -euo pipefail

PKGS=(prometheus prometheus-alertmanager pacemaker-cli-utils
      iproute2 util-linux procps coreutils nftables curl jq bc python3
      keepalived postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd)
# daemons a maintainer script could start; anything new running from these paths is stopped after the install
DAEMONS=(/usr/sbin/keepalived /usr/lib/postfix/sbin/master /usr/sbin/dovecot
         /usr/bin/prometheus /usr/bin/prometheus-alertmanager /usr/bin/prometheus-node-exporter
         /usr/sbin/pacemakerd /usr/sbin/corosync)
# what must be on PATH afterwards (the binaries the tests and the testbed scripts call)
BINARIES=(promtool amtool crm_mon crm_simulate ip ss nft nsenter unshare flock mountpoint setsid timeout
          keepalived postfix postconf postqueue postsuper dovecot doveadm prometheus prometheus-alertmanager
          curl jq bc python3)

# the policy file Debian's invoke-rc.d consults (a variable only so that the installer's test can redirect it)
POLICY_RC_D=${POLICY_RC_D:-/usr/sbin/policy-rc.d}

log() { printf '[install-deps] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"   # alive, daemon_pids
stop_pid() {   # TERM, up to 5 s, then KILL (bounded)
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do alive "$pid" || return 0; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
}

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root"
  export DEBIAN_FRONTEND=noninteractive
  log "to install: ${missing[*]}"
  if apt-cache policy "${missing[@]}" 2>/dev/null | grep -q 'Candidate: (none)' ||
     [ "$(apt-cache policy "${missing[@]}" 2>/dev/null | grep -c 'Candidate:')" -lt ${#missing[@]} ]; then
    log "apt-get update"; apt-get update -qq
  fi
  debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string mailcluster.invalid
SEL
  before=$(daemon_pids "${DAEMONS[@]}")
  made_policy=0
  if [ ! -e "$POLICY_RC_D" ]; then
    printf '#!/bin/sh\n# temporary, written by mailcluster_exporter scripts/install-deps.sh\nexit 101\n' >"$POLICY_RC_D"
    chmod 755 "$POLICY_RC_D"; made_policy=1
    trap 'rm -f "$POLICY_RC_D"' EXIT
  fi
  install() {
    apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
  }
  rc=0
  install || rc=$?
  if [ $rc -ne 0 ]; then
    # Stale package lists point at files the archive has replaced (404): refresh them and try once more.
    log "apt-get install failed (rc=$rc); apt-get update and one retry"
    rc=0
    apt-get update -qq || log "apt-get update failed (rc=$?); retrying the install anyway"
    install || rc=$?
  fi
  [ $made_policy -eq 1 ] && { rm -f "$POLICY_RC_D"; trap - EXIT; }
  [ $rc -eq 0 ] || die "apt-get install failed (rc=$rc)"
  # a daemon Debian started anyway (no init here, but be sure): stop it by pid
  for pid in $(daemon_pids "${DAEMONS[@]}"); do
    grep -qw "$pid" <<<"$before" && continue
    log "stopping daemon started by the install: pid $pid $(readlink "/proc/$pid/exe" 2>/dev/null)"
    stop_pid "$pid"
  done
  log "installed: ${missing[*]}"
fi
for b in "${BINARIES[@]}"; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || die "missing after install: $b"
done
