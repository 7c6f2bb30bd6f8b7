#!/usr/bin/env bash
# Soak: a mixed, faulty load through one release-build `swproxy serve` (bench/soak.py says what load and
# what it checks).   bash bench/soak.sh   or   make soak
# Knobs: SOAK_SECONDS=600, SOAK_WARMUP=60, PROXY_THREADS=nproc, SWPROXY_BIN=path, SKIP_BUILD=1.
# Results: a table on stdout and in bench/out/soak/result.md, samples in bench/out/soak/samples.tsv.
# Everything listens on and talks to 127.0.0.1 only; every loop is bounded by SOAK_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
unset http_proxy https_proxy all_proxy no_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY || true
need=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx-light"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v curl >/dev/null 2>&1 || need="$need curl"
if [ -n "$need" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"
if [ -z "${SWPROXY_BIN:-}" ]; then
  [ "${SKIP_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
  SWPROXY_BIN=$PWD/.build/release/swproxy
fi
ulimit -n 65536 2>/dev/null || true
echo "soak: $(date -u '+%Y-%m-%d %H:%M UTC'), ${SOAK_SECONDS:-600} s, $SWPROXY_BIN" >&2
SWPROXY_BIN=$SWPROXY_BIN exec python3 bench/soak.py
