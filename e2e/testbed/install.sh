#!/bin/bash
# install.sh — install what the e2e testbed needs. A thin wrapper: the package list, the policy-rc.d guard and
# the stop-daemons-the-install-started logic live in ONE place, scripts/install-deps.sh (also `make deps`).
# Usage: install.sh        (root)
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
require_root
t0=$(date +%s.%N)
"$REPO_DIR/scripts/install-deps.sh"
log "dependencies present ($(elapsed "$t0")); versions: $(pkg_versions)"
