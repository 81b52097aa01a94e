#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: promtool and
# amtool (rules), crm_mon/crm_simulate (Pacemaker parser), and the mail
# cluster of the end-to-end testbed. Idempotent; leaves no daemon running.
set -euo pipefail
need=()
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || need+=("$1"); }
for p in prometheus prometheus-alertmanager pacemaker-cli-utils iproute2 procps curl \
         keepalived postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd; do
  want "$p"
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${need[*]}); run as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string mailcluster.invalid" | debconf-set-selections
apt-get update -qq
# policy-rc.d keeps Debian's maintainer scripts from starting the daemons.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
