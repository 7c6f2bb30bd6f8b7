#!/usr/bin/env bash
# Instructions per small proxied request, counted by callgrind: the steady figure for A/B runs of serve's
# per-request path on a host whose CPU-time figures move by more than the change being measured.
#
#   bash bench/instructions.sh [BIN ...]      (default: .build/release/swproxy)
#
# Each BIN is copied with `strip --strip-debug` (callgrind reads DWARF slowly otherwise), started under
# `valgrind --tool=callgrind` with one loop (`--threads 1 --quiet`), warmed up with wrk for WARMUP, its
# counters zeroed, then driven by `wrk -t1 -c10 -d$DURATION` with absolute-form GETs of a 1 KiB file from
# nginx on loopback (KEEP=DIR keeps each counted window's callgrind file there; BROWSER=1 adds the fields a
# browser sends, as Chromium 120 sends them on a navigation). Reported: requests wrk completed in the counted window, instructions (user space: ours,
# libcurl, libc; the kernel is not counted) and their quotient. Knobs: DURATION (15s), WARMUP (3s).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. "$ROOT/bench/lib.sh"

DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=("$ROOT/.build/release/swproxy")

need nginx nginx-light; need wrk; need valgrind; need curl
install_needed
make_work instructions
mkdir -p "$WORK/www" "$WORK/tmp"
head -c 1024 /dev/urandom > "$WORK/www/small"
ORIGIN_PORT=$(free_port)
start_nginx "$ORIGIN_PORT" 1 10000 "listen 127.0.0.1:$ORIGIN_PORT; root $WORK/www;" "sendfile on;"
TARGET="http://127.0.0.1:$ORIGIN_PORT/small"
if [ "${BROWSER:-}" = 1 ]; then
  export WRK_HEADERS="Upgrade-Insecure-Requests: 1|User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36|Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8|Accept-Encoding: gzip, deflate|Accept-Language: en-US,en;q=0.9|Cache-Control: max-age=0|Sec-Purpose: prefetch;prerender|Purpose: prefetch"
fi

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(valgrind --version), wrk -t1 -c10 -d$DURATION${BROWSER:+, browser fields}"
printf '%-40s %10s %16s %12s\n' binary requests instructions "per request"
for bin in "${BINS[@]}"; do
  [ -x "$bin" ] || { echo "$SCRIPT: no binary at $bin" >&2; exit 1; }
  copy=$WORK/$(basename "$bin").$RANDOM
  strip --strip-debug -o "$copy" "$bin"
  port=$(free_port)
  out=$WORK/callgrind.out
  rm -f "$out"*
  valgrind --tool=callgrind --callgrind-out-file="$out" "$copy" serve --listen "127.0.0.1:$port" --threads 1 \
    --quiet --drain-timeout 1 >/dev/null 2>"$WORK/valgrind.log" &
  pid=$!
  track "$pid"
  ok=""
  for i in $(seq 200); do
    curl -s -o /dev/null -x "127.0.0.1:$port" "$TARGET" && { ok=1; break; }
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "$SCRIPT: $bin did not start under callgrind" >&2; cat "$WORK/valgrind.log" >&2; exit 1; }
  WRK_TARGET=$TARGET wrk -t1 -c10 -d"$WARMUP" -s bench/serve.lua "http://127.0.0.1:$port" >/dev/null 2>&1
  callgrind_control -z "$pid" >/dev/null 2>&1
  requests=$(WRK_TARGET=$TARGET wrk -t1 -c10 -d"$DURATION" -s bench/serve.lua "http://127.0.0.1:$port" 2>&1 |
    awk '/requests in/ {print $1}')
  callgrind_control -d "$pid" >/dev/null 2>&1
  stop_pid "$pid"
  # The dump holds the counted window; the file written at exit holds only what came after it.
  dump=$(ls "$out".* | head -1)
  instructions=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$dump" "$KEEP/$(basename "$copy").callgrind"; fi
  printf '%-40s %10s %16s %12s\n' "$bin" "$requests" "$instructions" "$((instructions / requests))"
done
