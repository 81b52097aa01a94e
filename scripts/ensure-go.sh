#!/usr/bin/env bash
# Make sure a Go toolchain that can build this module is on PATH. Go >= 1.21
# fetches the exact toolchain go.mod asks for from the Go module proxy
# (GOTOOLCHAIN=auto), so any Go from 1.21 on will do.
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"
if command -v go >/dev/null 2>&1; then
  exit 0
fi
echo "ensure-go: no Go found; installing Debian's golang (backports carry >= 1.21)" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-go: run as root, or install Go >= 1.21 first" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if apt-cache policy golang-1.23-go | grep -q Candidate: && ! apt-cache policy golang-1.23-go | grep -q 'Candidate: (none)'; then
  apt-get install -y -qq golang-1.23-go
  ln -sf /usr/lib/go-1.23/bin/go /usr/local/bin/go
else
  echo "ensure-go: no Go >= 1.21 package available; enable bookworm-backports or install Go from go.dev" >&2
  exit 1
fi
