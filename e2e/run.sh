#!/bin/bash
# run.sh — the end-to-end run (`make e2e` = `make build` + this): bring the testbed up (e2e/testbed/up.sh),
# run the scenarios (go test -tags e2e, bounded by -timeout), ALWAYS tear the testbed down (trap, by pid),
# exit with the tests' status. Builds nothing itself. Needs root (network namespaces); CI runs as root.
# Env: E2E_TIMEOUT (go test -timeout, default 40m), E2E_RUN (go test -run, default all),
#      E2E_KEEP=1 (leave the testbed running afterwards, for debugging; down with e2e/testbed/down.sh),
#      E2E_CAPTURE=1 (write each exporter's steady-state /metrics to e2e/captured/exporter/),
#      plus the testbed's (EXPORTER_BIN, RULES_DIR, MC_E2E_STATE; see e2e/testbed/README.md).
set -uo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$E2E_DIR")
if [ "$(id -u)" != 0 ]; then
  echo "e2e/run.sh: must run as root (the testbed builds network namespaces); e.g. sudo make e2e" >&2
  exit 1
fi
export EXPORTER_BIN=${EXPORTER_BIN:-$REPO_DIR/mailcluster_exporter}
[ -x "$EXPORTER_BIN" ] || { echo "e2e/run.sh: no exporter binary $EXPORTER_BIN (make build)" >&2; exit 1; }
GO=${GO:-go}
# One testbed per machine (fixed namespaces and addresses): wait for another run to finish.
exec 9>"${MC_E2E_LOCK:-/run/mc-e2e.lock}"
flock -w 3600 9 || { echo "e2e/run.sh: another e2e run holds the testbed lock" >&2; exit 1; }
t0=$(date +%s)
teardown() {
  local rc=$?
  if [ "${E2E_KEEP:-0}" = 1 ]; then
    echo "e2e/run.sh: E2E_KEEP=1: testbed left running (e2e/testbed/down.sh to stop it)" >&2
  else
    "$E2E_DIR/testbed/down.sh" || echo "e2e/run.sh: WARNING: down.sh failed" >&2
  fi
  echo "e2e/run.sh: exit $rc after $(( $(date +%s) - t0 )) s" >&2
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

"$E2E_DIR/testbed/up.sh" || { echo "e2e/run.sh: testbed did not come up" >&2; exit 1; }
cd "$REPO_DIR" || exit 1
"$GO" test -tags e2e -count=1 -v -timeout "${E2E_TIMEOUT:-40m}" ${E2E_RUN:+-run "$E2E_RUN"} ./e2e/...
