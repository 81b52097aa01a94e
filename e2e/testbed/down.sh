#!/bin/bash
# down.sh — stop everything up.sh started (by pid: TERM, bounded wait, KILL; a zombie counts as stopped),
# delete the namespaces (veths, bridge and sync link go with them) and unmount the node namespaces.
# Idempotent. The state dir $MC_E2E_STATE (/run/mc-e2e) keeps logs/ for post-mortems; --purge removes it.
# The guard routes stay unless --unguard is given: they are harmless (the test subnets are not used for
# anything else), and keeping them means a stray client in the root namespace can never leak test traffic.
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root
purge=0 unguard=0
for a in "$@"; do case "$a" in --purge) purge=1 ;; --unguard) unguard=1 ;; *) die "usage: down.sh [--purge] [--unguard]" ;; esac; done
t0=$(now)
teardown
[ $purge -eq 1 ] && rm -rf "$ST"
if [ $unguard -eq 1 ]; then for net in "${GUARDED_NETS[@]}"; do ip route del unreachable "$net" 2>/dev/null; done; fi
log "down in $(elapsed "$t0")"
