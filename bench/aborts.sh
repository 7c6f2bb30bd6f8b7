#!/usr/bin/env bash
# The abort crash's reproduction at scale: ABORTS (default 10000) aborted 10 MiB downloads through one
# `swproxy serve`, 8 curl clients at once each giving up after 20 ms, for --threads 1 and for the default;
# after each run the proxy must be alive and serve the whole file byte for byte.
#   bash bench/aborts.sh   or   make aborts      (SWPROXY_BIN=path, SKIP_BUILD=1, ABORTS=N, CLIENTS=8)
# Loopback only; each run is bounded by ABORTS and by 30 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
unset http_proxy https_proxy all_proxy no_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY || true
export PATH="$PATH:/usr/sbin:/sbin"
ABORTS=${ABORTS:-10000}
CLIENTS=${CLIENTS:-8}
if [ -z "${SWPROXY_BIN:-}" ]; then
  [ "${SKIP_BUILD:-0}" = 1 ] || make --no-print-directory build >/dev/null
  SWPROXY_BIN=$PWD/.build/release/swproxy
fi
WORK=$(mktemp -d /tmp/swproxy-aborts.XXXXXX)
chmod 755 "$WORK"
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$WORK/www"
head -c $((10 << 20)) /dev/urandom > "$WORK/www/ten"
SUM=$(sha256sum < "$WORK/www/ten")
O=$(free_port)
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/err.log warn; user root;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $WORK/b; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f;
  uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s; server { listen 127.0.0.1:$O backlog=4096; root $WORK/www; } }
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS="$PIDS $!"
sleep 0.5
status=0
for threads in 1 default; do
  P=$(free_port)
  args=(serve --port "$P" --quiet)
  [ "$threads" = default ] || args+=(--threads "$threads")
  "$SWPROXY_BIN" "${args[@]}" 2> "$WORK/proxy-$threads.log" & PROXY=$!; PIDS="$PIDS $PROXY"
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
  kill "$PROXY" 2>/dev/null || true
done
exit $status
