# proc.sh — process helpers shared by scripts/install-deps.sh and e2e/testbed/lib.sh. Source it.
# shellcheck shell=bash

alive() {   # alive PID: running and not a zombie (a zombie counts as stopped)
  [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
daemon_pids() {   # daemon_pids EXE...: pids of processes whose executable is one of the given paths
  local p exe want
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    for want in "$@"; do [ "$exe" = "$want" ] && echo "${p#/proc/}"; done
  done
  return 0
}
