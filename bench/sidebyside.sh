#!/bin/bash
# bench/sidebyside.sh — `make bench-scale` part (a): mailcluster_exporter and Debian's blackbox_exporter
# check the same 11 dialogues of the real e2e testbed in interleaved rounds; prints the CPU ratio in two modes
# measured in the same rounds: plain text on both sides, and STARTTLS with a verified certificate on both sides.
# Needs root and the testbed's packages (make deps). Installs prometheus-blackbox-exporter if missing
# (never while another apt-get runs). Takes the testbed lock, brings the testbed up and always down.
# Env: ROUNDS (400), EXPORTER_BIN (a build to measure; default: build this tree),
#      COMPARE_BIN (another build measured in the same rounds, e.g. an older commit's).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/sidebyside.sh: must run as root (testbed namespaces)" >&2; exit 1; }
BB=/usr/bin/prometheus-blackbox-exporter
if [ ! -x "$BB" ]; then
  for _ in $(seq 60); do pgrep -x apt-get >/dev/null || break; sleep 5; done
  pgrep -x apt-get >/dev/null && { echo "bench/sidebyside.sh: apt-get is busy; try again later" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-blackbox-exporter >/dev/null
  # the package starts a service on :9115 where an init system runs; the benchmark starts its own
fi
BIN=$(mktemp -d /tmp/mc-bench-bin.XXXXXX)
cd "$REPO"
GO=${GO:-go}
if [ -n "${EXPORTER_BIN:-}" ]; then cp "$EXPORTER_BIN" "$BIN/mailcluster_exporter"
else CGO_ENABLED=0 $GO build -trimpath -o "$BIN/mailcluster_exporter" .; fi
$GO build -o "$BIN/sidebyside" ./bench/sidebyside
# One testbed per machine (fixed namespaces and addresses).
exec 9>"${MC_E2E_LOCK:-/run/mc-e2e.lock}"
flock -w 3600 9 || { echo "bench/sidebyside.sh: the testbed lock stayed taken" >&2; exit 1; }
cleanup() { EXPORTER_BIN="$REPO/mailcluster_exporter" e2e/testbed/down.sh >/dev/null 2>&1 || true; rm -rf "$BIN"; }
trap cleanup EXIT
[ -x "$REPO/mailcluster_exporter" ] || CGO_ENABLED=0 $GO build -trimpath -o "$REPO/mailcluster_exporter" .
EXPORTER_BIN="$REPO/mailcluster_exporter" e2e/testbed/up.sh >/dev/null
echo "# side by side on $(hostname): $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), blackbox_exporter $("$BB" --version 2>&1 | head -1 | awk '{print $3}'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
[ -n "${EXPORTER_BIN:-}" ] && echo "exporter measured: $EXPORTER_BIN (not this tree)"
[ -n "${COMPARE_BIN:-}" ] && echo "compared with: $COMPARE_BIN"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
ip netns exec mce2e-c "$BIN/sidebyside" -exporter "$BIN/mailcluster_exporter" -blackbox "$BB" \
  -config "${MC_E2E_STATE:-/run/mc-e2e}/client/exporter.yml" -rounds "${ROUNDS:-400}" ${COMPARE_BIN:+-compare "$COMPARE_BIN"}
