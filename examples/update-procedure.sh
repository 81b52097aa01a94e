#!/usr/bin/env bash
# update-procedure.sh — a software update of one mail cluster, step by step, where no step starts before
# the update gate that unlocks it is open (DESIGN §6; rules/README.md). The gates are read from Prometheus
# with `mailcluster_exporter gate wait`, which never says "go" on a failed query, no data or stale data.
#
#   update-procedure.sh CLUSTER
#
# The procedure (the seed systems' version-up order):
#   open the window → stop services → [services_stopped] → disable redundancy → [redundancy_disabled]
#   → update the software → [versions_match] → re-enable redundancy → [redundancy_enabled]
#   → [roles_restored] → [sync_complete] (or [early_start_ok] with EARLY_START=1) → start services
#   → [services_running] → [restart_flag_clear] → close the window
#
# The site-specific steps are shell functions in a hooks file (HOOKS=/path/to/hooks.sh, sourced):
#   stop_services  disable_redundancy  update_software  enable_redundancy  start_services   (required)
#   open_window  close_window   (optional; the defaults run `mailcluster_exporter window open|close`,
#                                and a hook can call default_open_window / default_close_window)
# Each hook gets the cluster name as $1 and must return non-zero on failure. Example:
#   stop_services()      { ssh mail-a systemctl stop postfix dovecot; }
#   disable_redundancy() { ssh mail-b systemctl stop keepalived; ssh mail-a systemctl stop keepalived; }
#
# Environment:
#   MAILCLUSTER_EXPORTER  the exporter binary (default: mailcluster_exporter on PATH)
#   GATE_ARGS             flags for `gate wait`, e.g. "--prometheus.url=https://prom:9090
#                         --prometheus.tls.ca-file=/etc/ssl/prom-ca.pem" (split on spaces)
#   WINDOW_ARGS           flags for `window open|close`, e.g. "--config.file=/etc/mailcluster.yml
#                         --windows.file=/var/lib/mailcluster_exporter/windows.json"
#   WINDOW_FOR (2h), WINDOW_REASON ("software update"), GATE_TIMEOUT (30m per gate), GATE_POLL (10s)
#   EARLY_START=1         start services once only syncing is left (early_start_ok) instead of sync_complete:
#                         no automatic failover until the sync completes, and higher load meanwhile
#
# Output: one line per event, "<UTC time with ms> step <name> start|done" and "<time> gate <name> open";
# a gate that does not open in time stops the procedure with the gate's explanation and the exit code of
# `gate wait` (1 still closed, 3 no trustworthy answer), leaving the window open so nobody is paged for a
# half-done update.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ $# -eq 1 ] && [ "$1" != "-h" ] && [ "$1" != "--help" ] || usage
CLUSTER=$1
EXPORTER=${MAILCLUSTER_EXPORTER:-mailcluster_exporter}
read -r -a GATE_FLAGS <<<"${GATE_ARGS:-}"
read -r -a WINDOW_FLAGS <<<"${WINDOW_ARGS:-}"

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
event() { printf '%s %s\n' "$(now)" "$*"; }
die() { printf '%s ERROR %s\n' "$(now)" "$*" >&2; exit "${2:-1}"; }

default_open_window() {
  "$EXPORTER" window open --cluster="$1" --for="${WINDOW_FOR:-2h}" --reason="${WINDOW_REASON:-software update}" "${WINDOW_FLAGS[@]}"
}
default_close_window() { "$EXPORTER" window close --cluster="$1" "${WINDOW_FLAGS[@]}"; }
open_window() { default_open_window "$@"; }
close_window() { default_close_window "$@"; }
for h in stop_services disable_redundancy update_software enable_redundancy start_services; do
  eval "$h() { die \"no $h hook: define it in the HOOKS file (see the header of \$0)\" 2; }"
done
if [ -n "${HOOKS:-}" ]; then
  # shellcheck source=/dev/null
  . "$HOOKS" || die "cannot source HOOKS=$HOOKS" 2
fi

# A hook runs in a subshell with errexit on: any failing command in it fails the step.
step() {
  local name=$1 rc
  event "step $name start"
  set +e
  ( set -e; "$name" "$CLUSTER" )
  rc=$?
  set -e
  [ $rc -eq 0 ] || die "step $name failed (rc=$rc); the update window stays open"
  event "step $name done"
}

gate() {
  local name=$1 rc=0
  "$EXPORTER" gate wait --cluster="$CLUSTER" --gate="$name" --timeout="${GATE_TIMEOUT:-30m}" \
    --poll-interval="${GATE_POLL:-10s}" "${GATE_FLAGS[@]}" >/dev/null || rc=$?
  [ $rc -eq 0 ] || die "gate $name did not open (gate wait exit $rc, its reasons above); the update window stays open" $rc
  event "gate $name open"
}

step open_window
step stop_services
gate services_stopped
step disable_redundancy
gate redundancy_disabled
step update_software
gate versions_match
step enable_redundancy
gate redundancy_enabled
gate roles_restored
if [ "${EARLY_START:-0}" = 1 ]; then gate early_start_ok; else gate sync_complete; fi
step start_services
gate services_running
gate restart_flag_clear
step close_window
