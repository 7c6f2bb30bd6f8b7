#!/usr/bin/env bash
# The abort crash's reproduction at scale: ABORTS (default 10000) aborted 10 MiB downloads through one
# `swproxy serve`, 8 curl clients at once each giving up after 20 ms, for --threads 1 and for the default;
# after each run the proxy must be alive and serve the whole file byte for byte.
#   bash bench/aborts.sh   or   make aborts      (SWPROXY_BIN=path, SKIP_BUILD=1, ABORTS=N, CLIENTS=8)
# Loopback only; each run is bounded by ABORTS and by 30 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. "$ROOT/bench/lib.sh"
unset http_proxy https_proxy all_proxy no_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY || true
export PATH="$PATH:/usr/sbin:/sbin"
ABORTS=${ABORTS:-10000}
CLIENTS=${CLIENTS:-8}
if [ -z "${SWPROXY_BIN:-}" ]; then
  [ "${SKIP_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
  SWPROXY_BIN=$PWD/.build/release/swproxy
fi
make_work aborts
mkdir -p "$WORK/www"
head -c $((10 << 20)) /dev/urandom > "$WORK/www/ten"
SUM=$(sha256sum < "$WORK/www/ten")
O=$(free_port)
start_nginx "$O" 1 4096 "listen 127.0.0.1:$O backlog=4096; root $WORK/www;"
status=0
for threads in 1 default; do
  P=$(free_port)
  args=(serve --port "$P" --quiet)
  [ "$threads" = default ] || args+=(--threads "$threads")
  "$SWPROXY_BIN" "${args[@]}" 2> "$WORK/proxy-$threads.log" & PROXY=$!; track "$PROXY"
  for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$P/" && break; sleep 0.1; done
  start=$(date +%s)
  seq "$ABORTS" | xargs -P "$CLIENTS" -I{} sh -c \
    "kill -0 $PROXY 2>/dev/null && curl -s -x http://127.0.0.1:$P -o /dev/null --max-time 0.02 -w '%{exitcode}\n' http://127.0.0.1:$O/ten" \
    > "$WORK/codes-$threads" 2>/dev/null || true
  secs=$(( $(date +%s) - start ))
  runs=$(wc -l < "$WORK/codes-$threads"); aborted=$(grep -c '^28$' "$WORK/codes-$threads" || true)
  if kill -0 "$PROXY" 2>/dev/null && [ "$(curl -s -x "http://127.0.0.1:$P" "http://127.0.0.1:$O/ten" | sha256sum)" = "$SUM" ]; then
    verdict="alive, whole download byte-exact"
  else
    verdict="DEAD or wrong answer"; status=1
    tail -20 "$WORK/proxy-$threads.log" >&2
  fi
  echo "| --threads $threads | $runs downloads, $aborted aborted mid-body | ${secs} s | $verdict |"
  stop_pid "$PROXY"
done
exit $status
