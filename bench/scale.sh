#!/bin/bash
# bench/scale.sh — `make bench-scale` parts (b) and (c): N clusters × 2 nodes × 6 services against
# bench/fakemail in a private network namespace (nothing leaves it), with a real Prometheus loaded
# with the bundled rules, then a soak of /probe scrapes. Needs root (unshare --net) and Debian's
# prometheus. Prints Markdown tables (docs/performance.md keeps one run's results).
# Env: CLUSTERS (1000), COLLECTIONS (5), SOAK (10000), PROM_TIME (75s), MAX_CONCURRENCY (0 = default), NO_PROMETHEUS=1,
#      EXPORTER_BIN (another build to measure, e.g. an older commit's; default: build this tree).
#      RULES_DIR (rule files to load in Prometheus; default: rules/).
#      PROMETHEUS_BIN (the Prometheus server to run; default: Debian's; e.g. .build/prom3/prometheus from make prometheus3),
#      PROMETHEUS_ARGS (more Prometheus flags, e.g. --enable-feature=concurrent-rule-eval).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/scale.sh: must run as root (private network namespace)" >&2; exit 1; }
PROMETHEUS_BIN=${PROMETHEUS_BIN:-$(command -v prometheus || true)}
PROM_ARG=$PROMETHEUS_BIN; [ -z "${NO_PROMETHEUS:-}" ] || PROM_ARG=""
[ -z "$PROM_ARG" ] || [ -x "$PROM_ARG" ] || { echo "bench/scale.sh: prometheus not found (make deps installs Debian's)" >&2; exit 1; }
BIN=$(mktemp -d /tmp/mc-bench-bin.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
cd "$REPO"
GO=${GO:-go}
if [ -n "${EXPORTER_BIN:-}" ]; then
  cp "$EXPORTER_BIN" "$BIN/mailcluster_exporter"
else
  CGO_ENABLED=0 $GO build -trimpath -o "$BIN/mailcluster_exporter" .
fi
$GO build -o "$BIN/fakemail" ./bench/fakemail
$GO build -o "$BIN/scale" ./bench/scale
echo "# bench-scale on $(hostname): $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ), $($GO version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
[ -n "${EXPORTER_BIN:-}" ] && echo "exporter measured: $EXPORTER_BIN (not this tree)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# A new network namespace with only loopback: the fake servers, the exporter and Prometheus
# live and die with it (the driver stops its children by pid).
unshare --net -- sh -c 'ip link set lo up && exec "$0" "$@"' "$BIN/scale" \
  -exporter "$BIN/mailcluster_exporter" -fakemail "$BIN/fakemail" -rules "${RULES_DIR:-$REPO/rules}" \
  -clusters "${CLUSTERS:-1000}" -collections "${COLLECTIONS:-5}" -soak "${SOAK:-10000}" \
  -prometheus-time "${PROM_TIME:-75s}" -max-concurrency "${MAX_CONCURRENCY:-0}" -prometheus "$PROM_ARG" -prometheus-args "${PROMETHEUS_ARGS:-}"
