#!/usr/bin/env bash
# Benchmark: cache hits of `swproxy serve --cache-dir`, on loopback, in front of a real nginx origin that
# serves its files with `Cache-Control: max-age=3600` (so every measured request is a fresh hit):
#   small  1 KiB object, wrk -c50 (absolute-form requests, bench/serve.lua), against nginx serving the same
#          file directly (the ceiling) and squid with its memory cache on (cache_mem); req/s, latency,
#          proxy CPU µs per request, and the share of hits each cache counted during the run;
#   big    100 MiB object, BIG_CLIENTS parallel curls each fetching it BIG_FETCHES times through the cache:
#          MB/s (the aim is ≥ 2 GB/s, hits go out with sendfile) and the proxy's peak RSS (VmHWM), which
#          should stay where the fill left it; nginx direct beside it as the ceiling.
# Both caches are filled and warmed before anything is measured, and checked to answer hits (swproxy:
# `Cache-Status: swproxy; hit`, and its swproxy_cache_requests_total counters over the run; squid: `X-Cache:
# HIT`, TCP_MEM_HIT in an access log that records the check requests only, and its cache manager's
# client_http.hits / client_http.requests over the run).
# The apt scenario (apt-get update/install through the cache) is not here: it needs a local Debian
# repository, which Tests/integration/test_serve_cache_apt.py builds (bench/cache_apt.py times it).
#   bash bench/cache.sh      (from anywhere; installs nginx-light, wrk, squid, curl when missing; does not build)
# Writes the medians and ratios to bench/RESULTS.md (the "serve: cache" section) and prints them; raw wrk
# and curl outputs, the proxies' logs and results.tsv go to bench/out/cache/ (gitignored).
#
# Knobs (environment):
#   ROUNDS=3            rounds; every round runs every measurement for every contender (order rotated per
#                       round), each on a freshly started proxy with an empty cache; the tables show medians
#   DURATION=10s        length of each wrk run (a bare number means seconds)
#   SWPROXY=path        swproxy binary (default .build/release/swproxy; SWPROXY_BIN is read too; `make build`
#                       first, this script never builds)
#   CONTENDERS="direct swproxy squid"   the 1 KiB contenders ("direct" = wrk straight to nginx)
#   BIG_CONTENDERS="direct swproxy"     the 100 MiB contenders (squid allowed: cache_mem holds it too)
#   CONNS=50            wrk connections;  WRK_THREADS=2;  WARMUP=1 (seconds of wrk before each measured run)
#   BIG_CLIENTS=8       parallel curls for the 100 MiB object;  BIG_FETCHES=4 (fetches per curl, one
#                       keep-alive connection each)
#   PROXY_THREADS=nproc swproxy --threads (squid -N runs one worker whatever this is)
#   NGINX_WORKERS=1     origin worker processes
#   RESULTS_MD=bench/RESULTS.md   where the section goes; set it empty to print the tables only
#
# Everything listens on 127.0.0.1 only and every request targets 127.0.0.1 (no name is resolved);
# every process the script starts is stopped by its PID; every wait is bounded.
set -euo pipefail
ORIG_PWD=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD
ORIG_ARGS=("$@")
. "$ROOT/bench/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
[[ $DURATION =~ ^[0-9]+$ ]] && DURATION="${DURATION}s"
GIVEN_BIN=${SWPROXY:-${SWPROXY_BIN:-}}
SWPROXY=${GIVEN_BIN:-$ROOT/.build/release/swproxy}
[[ $SWPROXY == /* ]] || SWPROXY=$ORIG_PWD/$SWPROXY
CONTENDERS=${CONTENDERS:-"direct swproxy squid"}
BIG_CONTENDERS=${BIG_CONTENDERS:-"direct swproxy"}
CONNS=${CONNS:-50}
WRK_THREADS=${WRK_THREADS:-2}
WARMUP=${WARMUP:-1}
BIG_CLIENTS=${BIG_CLIENTS:-8}
BIG_FETCHES=${BIG_FETCHES:-4}
PROXY_THREADS=${PROXY_THREADS:-$(nproc)}
NGINX_WORKERS=${NGINX_WORKERS:-1}
RESULTS_MD=${RESULTS_MD-$ROOT/bench/RESULTS.md}
CLK_TCK=$(getconf CLK_TCK)
BIG_BYTES=$((100 * 1024 * 1024))

for c in $CONTENDERS $BIG_CONTENDERS; do
  case $c in direct|swproxy|squid) ;; *) echo "cache.sh: unknown contender '$c'" >&2; exit 2;; esac
done
for v in ROUNDS CONNS WRK_THREADS BIG_CLIENTS BIG_FETCHES PROXY_THREADS NGINX_WORKERS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "cache.sh: $v must be a positive integer" >&2; exit 2; }
done
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "cache.sh: WARMUP must be a number of seconds" >&2; exit 2; }
[ "$ROUNDS" -ge 3 ] || echo "cache.sh: ROUNDS=$ROUNDS < 3: the medians are indicative only" >&2
ALL=" $CONTENDERS $BIG_CONTENDERS "
has() { [[ $ALL == *" $1 "* ]]; }

# No proxy from the environment may redirect our own clients (or swproxy's libcurl) anywhere.
unset http_proxy https_proxy all_proxy no_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY || true

# --- packages ---------------------------------------------------------------------------------
need nginx nginx-light
need wrk
need curl
has squid && need squid
install_needed
export PATH="$PATH:/usr/sbin:/sbin"
if has swproxy && [ ! -x "$SWPROXY" ]; then
  echo "cache.sh: no swproxy binary at $SWPROXY (run \`make build\`, or set SWPROXY=path)" >&2; exit 1
fi

raise_nofile
make_work cache-bench cache
on_cleanup() { save_logs squid-; }
now() { date +%s.%N; }

# --- origin ---------------------------------------------------------------------------------------
mkdir -p "$WORK/www" "$WORK/tmp"
head -c 1024 /dev/urandom > "$WORK/www/small"
head -c "$BIG_BYTES" /dev/urandom > "$WORK/www/big"
ORIGIN_PORT=$(free_port)
start_nginx "$ORIGIN_PORT" "$NGINX_WORKERS" 10000 \
  "listen 127.0.0.1:$ORIGIN_PORT backlog=4096; root $WORK/www; add_header Cache-Control \"max-age=3600\";" \
  "${ORIGIN_HTTP[@]}"
ORIGIN="http://127.0.0.1:$ORIGIN_PORT"
curl -s --noproxy '*' -D - -o /dev/null "$ORIGIN/small" | grep -qi '^cache-control: max-age=3600' \
  || { echo "cache.sh: the origin does not send Cache-Control: max-age=3600" >&2; exit 1; }

# --- contenders -------------------------------------------------------------------------------
# start_contender NAME: sets CUR_PID, CUR_PORT and MPORT (swproxy's metrics port); for "direct", CUR_PORT is
# the origin's and CUR_PID empty. Every start gets an empty cache.
start_contender() {
  local name=$1
  CUR_PID=""; MPORT=""
  if [ "$name" = direct ]; then CUR_PORT=$ORIGIN_PORT; return 0; fi
  CUR_PORT=$(free_port)
  case $name in
    swproxy)
      MPORT=$(free_port)
      rm -rf "$WORK/cache"
      "$SWPROXY" serve --listen "127.0.0.1:$CUR_PORT" --threads "$PROXY_THREADS" --quiet --drain-timeout 1 \
        --cache-dir "$WORK/cache" --metrics-listen "127.0.0.1:$MPORT" >>"$WORK/swproxy.log" 2>&1 &
      ;;
    squid)
      # A memory-only cache (no cache_dir): cache_mem, objects up to 128 MB in memory; refresh_pattern as
      # squid's default, the origin's max-age=3600 decides. Only requests carrying X-Bench-Check (the
      # script's own checks, not wrk's) are logged, to read their TCP_MEM_HIT.
      mkdir -p "$WORK/squid"
      : > "$WORK/squid/access.log"
      start_squid "http_port 127.0.0.1:$CUR_PORT" "acl bench_check req_header X-Bench-Check ." \
        "cache_mem 512 MB" "maximum_object_size_in_memory 128 MB" "maximum_object_size 128 MB" \
        "memory_cache_mode always" "refresh_pattern . 0 20% 4320" "access_log stdio:$WORK/squid/access.log bench_check"
      ;;
  esac
  CUR_PID=$!
  track "$CUR_PID"
  # /ping is not a file on the origin (a 404, which no cache here stores: no freshness, no validator)
  wait_contender "$name" "$ORIGIN/ping" 404 -x "http://127.0.0.1:$CUR_PORT"
}
stop_contender() { [ -n "$CUR_PID" ] && stop_pid "$CUR_PID"; CUR_PID=""; rm -rf "$WORK/cache"; sleep 0.5; }

# The processes whose CPU counts: the proxy, or for "direct" nginx's workers.
server_pids() { if [ -n "$CUR_PID" ]; then echo "$CUR_PID"; else pgrep -P "$NGINX_PID" || true; fi; }
server_ticks() { local p t=0; for p in $(server_pids); do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }

# proxy_get PATH [curl args...]: one request through the current contender (or straight to nginx),
# headers to stdout, body dropped; X-Bench-Check marks it for squid's access log.
proxy_get() {
  local path=$1; shift
  if [ -z "$CUR_PID" ]; then curl -s --noproxy '*' --max-time 300 -D - -o /dev/null "$@" "$ORIGIN$path" || true
  else curl -s -x "http://127.0.0.1:$CUR_PORT" --max-time 300 -H 'X-Bench-Check: 1' -D - -o /dev/null "$@" "$ORIGIN$path" || true; fi
}
# is_hit HEADERS: the response came from the cache
is_hit() {
  case $CUR_NAME in
    swproxy) grep -qiE '^cache-status:.*swproxy; hit' <<<"$1" ;;
    squid) grep -qiE '^x-cache: hit' <<<"$1" ;;
    *) return 0 ;;
  esac
}
# fill_and_check PATH [curl args]: fetch once (the fill), then until a request is a hit (at most 5 s; the
# entry may be renamed into place a little after its last byte went out). Records the check's outcome.
fill_and_check() {
  local path=$1 key=$2; shift 2
  local h i hit=0
  proxy_get "$path" >/dev/null
  [ "$CUR_NAME" = direct ] && return 0
  for i in $(seq 50); do
    h=$(proxy_get "$path" "$@")
    if is_hit "$h"; then hit=1; break; fi
    sleep 0.1
  done
  local tag="" fields
  if [ "$CUR_NAME" = squid ]; then   # squid writes the line just after the response: wait for it (1 s at most)
    for i in $(seq 10); do
      tag=$(awk 'END {print $4}' "$WORK/squid/access.log" 2>/dev/null || true)
      [[ $tag == *HIT* ]] && break
      sleep 0.1
    done
  fi
  record "$CUR_NAME" "hitcheck_$key" "$hit"
  if [ "$hit" != 1 ]; then
    echo "cache.sh: $CUR_NAME does not answer $path from its cache; last response:" >&2
    echo "$h" | sed 's/^/    /' >&2
  fi
  fields=$(grep -iE '^(cache-status|x-cache):' <<<"$h" | tr -d '\r' | paste -sd ';' - || true)
  CHECK_NOTE="hit check $([ "$hit" = 1 ] && echo ok || echo FAILED): ${fields:-no cache field}${tag:+; access log $tag}"
}
# hit_counters: "HITS TOTAL" on the current cache's own counters (swproxy: /metrics, squid: cache manager)
hit_counters() {
  case $CUR_NAME in
    swproxy)
      curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk '
        /^swproxy_cache_requests_total\{/ { t += $2; if ($1 ~ /status="hit"/) h += $2 }
        END { printf "%d %d\n", h, t }' ;;
    squid)
      curl -s --max-time 5 "http://127.0.0.1:$CUR_PORT/squid-internal-mgr/counters" | awk '
        $1 == "client_http.requests" { t = $3 } $1 == "client_http.hits" { h = $3 }
        END { printf "%d %d\n", h, t }' ;;   # counts one of the two reads: hit_share takes it off
    *) echo "0 0" ;;
  esac
}

# hit_share H0 T0 H1 T1: hits as % of the cache's requests between two hit_counters reads (squid's count
# includes one of its own cache manager requests); empty for direct
hit_share() {
  local dh=$(($3 - $1)) dt=$(($4 - $2))
  [ "$CUR_NAME" = squid ] && dt=$((dt - 1))
  [ "$CUR_NAME" != direct ] && [ "$dt" -gt 0 ] && awk -v h="$dh" -v t="$dt" 'BEGIN{printf "%.2f", 100 * h / t}'
  return 0
}

# --- 1 KiB hits -----------------------------------------------------------------------------------
phase_small() { # name
  local name=$1 url target file before after h0 t0 h1 t1
  CUR_NAME=$name; CHECK_NOTE=""
  start_contender "$name" || return 0
  fill_and_check /small small
  if [ "$name" = direct ]; then url=$ORIGIN; target=/small; else url="http://127.0.0.1:$CUR_PORT"; target="$ORIGIN/small"; fi
  if [ "$WARMUP" != 0 ]; then
    WRK_TARGET=$target wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$ROOT/bench/serve.lua" "$url" >/dev/null 2>&1 || true
  fi
  file="$OUT/r$ROUND-$name-small.txt"
  read -r h0 t0 < <(hit_counters)
  before=$(server_ticks)
  WRK_TARGET=$target wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/bench/serve.lua" "$url" \
    > "$file" 2>&1 || echo "cache.sh: wrk exited with $? ($file)" >&2
  after=$(server_ticks)
  read -r h1 t1 < <(hit_counters)
  local requests=0 duration_us=1 bytes=0 p50_us=0 p99_us=0 max_us=0 err_connect=0 err_read=0 err_write=0 err_status=0 err_timeout=0
  local rps p50 p99 cpu="" share=""
  if ! wrk_result "$file"; then echo "cache.sh: no result from wrk for $name ($file)" >&2; stop_contender; return 0; fi
  record "$name" rps "$rps"; record "$name" p50 "$p50"; record "$name" p99 "$p99"
  if [ "$requests" -gt 0 ]; then
    cpu=$(awk -v a="$after" -v b="$before" -v t="$CLK_TCK" -v r="$requests" 'BEGIN{printf "%.2f", (a - b) / t / r * 1e6}')
    record "$name" cpu_us "$cpu"
  fi
  share=$(hit_share "$h0" "$t0" "$h1" "$t1")
  [ -n "$share" ] && record "$name" hit_pct "$share"
  record "$name" wrk_errors $((err_connect + err_read + err_write + err_status + err_timeout))
  printf '  %-8s 1 KiB  %3s conns: %9s req/s  p50 %7s ms  p99 %8s ms  cpu %6s us/req  hits %s  errors c/r/w/s/t %s/%s/%s/%s/%s  (%s)\n' \
    "$name" "$CONNS" "$rps" "$p50" "$p99" "${cpu:-—}" "${share:-—}${share:+%}" \
    "$err_connect" "$err_read" "$err_write" "$err_status" "$err_timeout" "${CHECK_NOTE:-origin}" >&2
  stop_contender
}

# --- 100 MiB hits ---------------------------------------------------------------------------------
phase_big() { # name
  local name=$1 rss0 hwm0 hwm_fill hwm_hits rss_end i pids=() proxy_args=() before after start end h0 t0 h1 t1
  CUR_NAME=$name; CHECK_NOTE=""
  start_contender "$name" || return 0
  if [ -n "$CUR_PID" ]; then
    rss0=$(status_kb "$CUR_PID" VmRSS); hwm0=$(status_kb "$CUR_PID" VmHWM)
    proxy_args=(-x "http://127.0.0.1:$CUR_PORT")
  else
    proxy_args=(--noproxy '*')
  fi
  # The fill (a miss, stored as it streams through), then a HEAD until it is a hit (a HEAD is answered
  # from the stored GET entry, head only).
  fill_and_check /big big -I
  [ -n "$CUR_PID" ] && hwm_fill=$(status_kb "$CUR_PID" VmHWM)
  local urls=() outs=()
  for i in $(seq "$BIG_FETCHES"); do urls+=("$ORIGIN/big"); outs+=(-o /dev/null); done
  read -r h0 t0 < <(hit_counters)
  before=$(server_ticks)
  start=$(now)
  for i in $(seq "$BIG_CLIENTS"); do
    # one curl, BIG_FETCHES transfers on one keep-alive connection, one "code size" line each
    curl -s "${proxy_args[@]}" --max-time 300 -w '%{http_code} %{size_download}\n' "${outs[@]}" "${urls[@]}" \
      > "$OUT/r$ROUND-$name-big-$i.txt" 2>&1 &
    pids+=($!); track "$!"
  done
  for i in "${pids[@]}"; do wait "$i" 2>/dev/null || true; untrack "$i"; done
  end=$(now)
  after=$(server_ticks)
  read -r h1 t1 < <(hit_counters)
  local got ok_n bad_n secs mbps cpu_ms share=""
  got=$(cat "$OUT"/r"$ROUND"-"$name"-big-*.txt)
  ok_n=$(awk -v n="$BIG_BYTES" '$1 == 200 && $2 == n' <<<"$got" | wc -l)
  bad_n=$((BIG_CLIENTS * BIG_FETCHES - ok_n))
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b - a}')
  mbps=$(awk -v n="$ok_n" -v s="$BIG_BYTES" -v t="$secs" 'BEGIN{printf "%.1f", n * s / t / 1e6}')
  record "$name" big_mbps "$mbps"
  record "$name" big_failed "$bad_n"
  if [ "$ok_n" -gt 0 ]; then
    cpu_ms=$(awk -v a="$after" -v b="$before" -v t="$CLK_TCK" -v n="$ok_n" 'BEGIN{printf "%.1f", (a - b) / t / n * 1000}')
    record "$name" big_cpu_ms "$cpu_ms"
  fi
  share=$(hit_share "$h0" "$t0" "$h1" "$t1")
  [ -n "$share" ] && record "$name" big_hit_pct "$share"
  local rss_note=""
  if [ -n "$CUR_PID" ] && kill -0 "$CUR_PID" 2>/dev/null; then
    hwm_hits=$(status_kb "$CUR_PID" VmHWM); rss_end=$(status_kb "$CUR_PID" VmRSS)
    record "$name" rss_start "$(mib "$rss0")"
    record "$name" hwm_fill "$(mib "$hwm_fill")"
    record "$name" hwm_hits "$(mib "$hwm_hits")"
    record "$name" hwm_growth "$(mib $((hwm_hits - hwm_fill)))"
    rss_note="  RSS fresh $(mib "$rss0") MiB (peak $(mib "$hwm0")), peak after the fill $(mib "$hwm_fill"), after the hits $(mib "$hwm_hits"), now $(mib "$rss_end")"
  fi
  printf '  %-8s 100 MiB x %s x %s: %s MB/s in %s s  cpu %s ms/fetch  hits %s  failed %s%s  (%s)\n' \
    "$name" "$BIG_CLIENTS" "$BIG_FETCHES" "$mbps" "$secs" "${cpu_ms:-—}" "${share:-—}${share:+%}" "$bad_n" "$rss_note" "${CHECK_NOTE:-origin}" >&2
  stop_contender
}

# --- rounds -------------------------------------------------------------------------------------
read -r -a ORDER <<<"$CONTENDERS"
read -r -a BIG_ORDER <<<"$BIG_CONTENDERS"
for ROUND in $(seq "$ROUNDS"); do
  s=$(( (ROUND - 1) % ${#ORDER[@]} )); rot=("${ORDER[@]:$s}" "${ORDER[@]:0:$s}")
  b=$(( (ROUND - 1) % ${#BIG_ORDER[@]} )); brot=("${BIG_ORDER[@]:$b}" "${BIG_ORDER[@]:0:$b}")
  echo "round $ROUND/$ROUNDS (1 KiB: ${rot[*]}; 100 MiB: ${brot[*]})" >&2
  for name in "${rot[@]}"; do phase_small "$name"; done
  for name in "${brot[@]}"; do phase_big "$name"; done
done
cp "$RESULTS" "$OUT/results.tsv"

# --- report ---------------------------------------------------------------------------------------
VERSIONS="$(ver nginx -v | sed 's/^nginx version: //'), $(ver wrk -v | cut -d' ' -f1-2), $(ver curl --version | cut -d' ' -f1-2)"
has swproxy && VERSIONS="$(ver "$SWPROXY" --version | sed 's/^/swproxy /;s/^swproxy swproxy/swproxy/'), $VERSIONS"
has squid && VERSIONS="$VERSIONS, $(ver squid -v | sed 's/^Squid Cache: Version /squid /')"
MACHINE="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r)"
COMMAND="${GIVEN_BIN:+SWPROXY=$GIVEN_BIN }ROUNDS=$ROUNDS DURATION=$DURATION CONTENDERS=\"$CONTENDERS\" BIG_CONTENDERS=\"$BIG_CONTENDERS\" CONNS=$CONNS WRK_THREADS=$WRK_THREADS WARMUP=$WARMUP BIG_CLIENTS=$BIG_CLIENTS BIG_FETCHES=$BIG_FETCHES PROXY_THREADS=$PROXY_THREADS NGINX_WORKERS=$NGINX_WORKERS bash bench/cache.sh${ORIG_ARGS[*]:+ ${ORIG_ARGS[*]}}"
python3 - "$RESULTS" "$WORK/section.md" "$VERSIONS" "$MACHINE" "$COMMAND" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
  "$CONTENDERS" "$BIG_CONTENDERS" "$ROUNDS" "$DURATION" "$CONNS" "$WRK_THREADS" "$WARMUP" "$BIG_CLIENTS" "$BIG_FETCHES" \
  "$PROXY_THREADS" "$NGINX_WORKERS" "$CLK_TCK" <<'PY'
import statistics, sys
(results, out, versions, machine, command, date, contenders, big_contenders, rounds, duration, conns, wrk_threads,
 warmup, big_clients, big_fetches, threads, nginx_workers, tck) = sys.argv[1:19]
vals = {}
for line in open(results):
    _, name, key, value = line.rstrip("\n").split("\t")
    vals.setdefault((name, key), []).append(float(value))
def med(name, key):
    v = vals.get((name, key))
    return statistics.median(v) if v else None
def total(name, key):
    v = vals.get((name, key))
    return sum(v) if v else None
label = {"swproxy": "swproxy --cache-dir", "direct": "nginx direct", "squid": "squid (cache_mem)"}
def table(names, rows):
    others = [n for n in ("direct", "squid") if n in names and "swproxy" in names]
    cols = [n for n in ("swproxy", "direct", "squid") if n in names]
    head = ["metric", "better"] + [label[n] for n in cols] + [f"swproxy ÷ {label[n].split(' (')[0]}" for n in others]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for what, better, key, fmt, agg, ratio in rows:
        cells = []
        for n in cols:
            v = agg(n, key)
            cells.append("—" if v is None else fmt(v))
        for n in others:
            a, b = agg("swproxy", key), agg(n, key)
            cells.append(f"{a / b:.2f}×" if ratio and a is not None and b else "")
        lines.append(f"| {what} | {better} | " + " | ".join(cells) + " |")
    return lines
n0 = lambda v: f"{v:,.0f}"
f1 = lambda v: f"{v:.1f}"
f2 = lambda v: f"{v:.2f}"
pct = lambda v: f"{v:.2f}%"
ok = lambda v: "ok" if v == int(rounds) else f"failed in {int(rounds) - int(v)} of {rounds} rounds"
small = contenders.split()
big = big_contenders.split()
lines = ["## serve: cache", "",
         f"`{command}` on {date}: {machine}.", "", f"Versions: {versions}.", "",
         f"Medians over {rounds} rounds; every round runs each measurement for every contender in turn (order rotated per "
         f"round), each on a freshly started proxy with an empty cache that is then filled and checked to answer hits. "
         f"Origin: nginx, {nginx_workers} worker process(es), sendfile, access log off, `add_header Cache-Control "
         f"\"max-age=3600\"`, a 1 KiB `/small` and a 100 MiB `/big` on 127.0.0.1, so every measured request is a fresh hit. "
         f"swproxy: `swproxy serve --listen 127.0.0.1:PORT --threads {threads} --quiet --drain-timeout 1 --cache-dir DIR "
         f"--metrics-listen 127.0.0.1:MPORT` (DIR under /tmp; hit share from `swproxy_cache_requests_total`). "
         f"squid: `squid -N` (one worker process, whatever the thread count), `cache_mem 512 MB`, "
         f"`maximum_object_size_in_memory 128 MB`, `memory_cache_mode always`, no cache_dir, an access log only for the "
         f"script's check requests (their TCP_MEM_HIT), hit share from the cache manager's client_http.hits ÷ requests. "
         f"CPU = utime+stime of the proxy process (all threads; for nginx direct, its workers) across the run, CLK_TCK {tck}. "
         f"wrk, curl, the proxy and nginx share the machine's cores: the ratios are the point, not the absolute figures.", "",
         f"**1 KiB hits**: `wrk -t{wrk_threads} -c{conns} -d{duration} --latency -s bench/serve.lua` (absolute-form "
         f"`GET http://127.0.0.1:ORIGIN/small` to the proxy's port; origin-form `/small` straight to nginx for direct), "
         f"after a {warmup} s warm-up.", ""]
lines += table(small, [
    ("requests/s", "↑", "rps", n0, med, True),
    ("p50 latency ms", "↓", "p50", f2, med, True),
    ("p99 latency ms", "↓", "p99", f2, med, True),
    ("CPU µs per request (proxy; direct: nginx)", "↓", "cpu_us", f1, med, True),
    ("hits among the cache's requests during the run", "↑", "hit_pct", pct, med, False),
    ("hit check before the run (Cache-Status / X-Cache)", "", "hitcheck_small", ok, total, False),
    ("wrk errors (all rounds)", "↓", "wrk_errors", n0, total, False),
])
lines += ["", f"**100 MiB hits**: {big_clients} curls in parallel (`curl -x http://127.0.0.1:PORT -o /dev/null` ×{big_fetches} "
          f"URLs, one keep-alive connection each), MB/s = 10⁶ bytes of complete 200 responses ÷ the wall time of all of "
          f"them; aim ≥ 2,000 MB/s. Peak RSS = the proxy's VmHWM after the fill (one miss streamed into the store, then a "
          f"HEAD hit) and after the hits: it should not grow with the hits.", ""]
lines += table(big, [
    ("MB/s", "↑", "big_mbps", n0, med, True),
    ("CPU ms per 100 MiB fetch (proxy; direct: nginx)", "↓", "big_cpu_ms", f1, med, True),
    ("hits among the cache's requests during the run", "↑", "big_hit_pct", pct, med, False),
    ("hit check before the run (HEAD)", "", "hitcheck_big", ok, total, False),
    ("RSS of the fresh proxy, MiB", "↓", "rss_start", f1, med, False),
    ("peak RSS (VmHWM) after the fill, MiB", "↓", "hwm_fill", f1, med, False),
    ("peak RSS (VmHWM) after the hits, MiB", "↓", "hwm_hits", f1, med, False),
    ("peak RSS growth during the hits, MiB", "↓", "hwm_growth", f1, med, False),
    ("failed or short transfers (all rounds)", "↓", "big_failed", n0, total, False),
])
if int(rounds) < 3:
    lines += ["", f"ROUNDS={rounds}: fewer than 3 rounds, indicative only."]
lines += ["", "The apt scenario (apt-get through the cache from a local repository) is measured apart: `bench/cache_apt.py`."]
open(out, "w").write("\n".join(lines) + "\n")
PY
cp "$WORK/section.md" "$OUT/section.md"
[ -n "$RESULTS_MD" ] && python3 "$ROOT/bench/results_section.py" "$RESULTS_MD" "$WORK/section.md"
echo >&2
cat "$WORK/section.md"
