#!/usr/bin/env bash
# Installs what the load benchmarks need besides the build (make bench-gate): nginx, the peer
# the gate is measured against, and wrk, the load generator; both from Debian's packages.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y "${missing[@]}" || { as_root apt-get update && as_root apt-get install -y "${missing[@]}"; }
  # The package may start a system nginx on port 80; the benchmark runs its own.
  as_root service nginx stop >/dev/null 2>&1 || true
fi
