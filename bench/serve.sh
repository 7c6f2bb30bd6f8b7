#!/usr/bin/env bash
# Benchmark: `swproxy serve` as a forward proxy against tinyproxy and squid, on loopback, in front
# of a real nginx origin, with wrk and curl as clients and wrk straight to nginx as the ceiling.
#   bash bench/serve.sh      (from anywhere; installs nginx-light, wrk, tinyproxy, squid, curl when missing)
# Writes the medians and ratios to bench/RESULTS.md (the "serve" section) and prints them; raw wrk
# outputs, the idle client's summaries and the proxies' logs go to bench/out/serve/ (gitignored).
#
# Knobs (environment):
#   ROUNDS=3            rounds; every round runs every measurement for every contender (interleaved),
#                       the table shows the medians over rounds (use at least 3 for real figures)
#   DURATION=10s        length of each wrk run (a bare number means seconds)
#   IDLE_CONNS=10000    idle keep-alive client connections for the RSS measurement
#   CONTENDERS="direct swproxy tinyproxy squid"   subset to run ("direct" = wrk/curl straight to nginx)
#   SWPROXY_BIN=path    swproxy binary to test (default: build with `make build`, the shipped binary)
#   SWPROXY_BIN_B=path  an A/B run: a second swproxy binary, contender "swproxy-b", measured in the same
#                       rounds (CONTENDERS defaults to "swproxy swproxy-b"); the table goes to the
#                       "serve A/B" section of bench/RESULTS.md with B ÷ A beside it, not to "serve"
#   SWPROXY_ARGS_B=".." extra `swproxy serve` arguments for contender "swproxy-b" only (an A/B of an option:
#                       the same binary twice, e.g. SWPROXY_ARGS_B="--allow-host-file rules.txt")
#   AB_TITLE="serve A/B" the RESULTS.md section an A/B run writes
#   SKIP_BUILD=1        do not build; use SWPROXY_BIN or .build/release/swproxy as it is
#   PROXY_THREADS=nproc swproxy --threads (squid and tinyproxy cannot be set to match; see the notes)
#   NGINX_WORKERS=1     origin worker processes (the same origin serves every contender)
#   WORKLOADS="keepalive close mixed"   keepalive: 1 KiB over keep-alive at every CONNS; close: the same with
#                       `Connection: close` (a new client connection per request) at the first CONNS; mixed:
#                       keep-alive, each request one of 1 KiB, 10 KiB, 100 KiB, 1 MiB at random, first CONNS
#   CONNS="50 200"      wrk connection counts;  WRK_THREADS=2;  WARMUP=1 (seconds of wrk before each
#                       contender's measured runs, 0 = none)
#
# Everything listens on 127.0.0.1 only and every request targets 127.0.0.1 (no name is resolved);
# every process the script starts is stopped by its PID; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ORIG_ARGS=("$@")
. "$ROOT/bench/lib.sh"
GIVEN_BIN=${SWPROXY_BIN:-}
GIVEN_SKIP=${SKIP_BUILD:-}

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
[[ $DURATION =~ ^[0-9]+$ ]] && DURATION="${DURATION}s"
IDLE_CONNS=${IDLE_CONNS:-10000}
SWPROXY_BIN_B=${SWPROXY_BIN_B:-}
SWPROXY_ARGS_B=${SWPROXY_ARGS_B:-}
AB_TITLE=${AB_TITLE:-serve A/B}
if [ -n "$SWPROXY_BIN_B" ]; then CONTENDERS=${CONTENDERS:-"swproxy swproxy-b"}; fi
CONTENDERS=${CONTENDERS:-"direct swproxy tinyproxy squid"}
PROXY_THREADS=${PROXY_THREADS:-$(nproc)}
NGINX_WORKERS=${NGINX_WORKERS:-1}
CONNS=${CONNS:-"50 200"}
WORKLOADS=${WORKLOADS:-"keepalive close mixed"}
for w in $WORKLOADS; do
  case $w in keepalive|close|mixed) ;; *) echo "serve.sh: unknown workload '$w'" >&2; exit 2;; esac
done
WRK_THREADS=${WRK_THREADS:-2}
WARMUP=${WARMUP:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
CLK_TCK=$(getconf CLK_TCK)

for c in $CONTENDERS; do
  case $c in direct|swproxy|swproxy-b|tinyproxy|squid) ;; *) echo "serve.sh: unknown contender '$c'" >&2; exit 2;; esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "serve.sh: ROUNDS must be a positive integer" >&2; exit 2; }
[[ $IDLE_CONNS =~ ^[0-9]+$ ]] || { echo "serve.sh: IDLE_CONNS must be a number" >&2; exit 2; }
[ "$ROUNDS" -ge 3 ] || echo "serve.sh: ROUNDS=$ROUNDS < 3: the medians are indicative only" >&2
has() { [[ " $CONTENDERS " == *" $1 "* ]]; }

# No proxy from the environment may redirect our own clients (or swproxy's libcurl) anywhere.
unset http_proxy https_proxy all_proxy no_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY || true

# --- packages ---------------------------------------------------------------------------------
need nginx nginx-light
need wrk
need curl
has tinyproxy && need tinyproxy
has squid && need squid
install_needed
export PATH="$PATH:/usr/sbin:/sbin"

# --- swproxy binary ------------------------------------------------------------------------------
if [ -z "${SWPROXY_BIN:-}" ]; then
  if [ "$SKIP_BUILD" != 1 ]; then
    echo "building the release binary..." >&2
    make --no-print-directory build >/dev/null
  fi
  SWPROXY_BIN=$ROOT/.build/release/swproxy
fi
if has swproxy && [ ! -x "$SWPROXY_BIN" ]; then echo "serve.sh: no swproxy binary at $SWPROXY_BIN" >&2; exit 1; fi
if has swproxy-b && [ ! -x "$SWPROXY_BIN_B" ]; then echo "serve.sh: no swproxy binary at SWPROXY_BIN_B=$SWPROXY_BIN_B" >&2; exit 1; fi

# --- file descriptors --------------------------------------------------------------------------
# The idle test needs IDLE_CONNS descriptors in the client and as many (plus upstream ones) in the
# proxy. Raise the limit as far as allowed; children inherit it.
raise_nofile
MAXCONN=$((IDLE_CONNS + 1000))
[ "$MAXCONN" -lt 10000 ] && MAXCONN=10000
if [ "$NOFILE" -lt $((IDLE_CONNS + 200)) ]; then
  echo "serve.sh: open-file limit $NOFILE is too low for IDLE_CONNS=$IDLE_CONNS" >&2
fi

make_work serve-bench serve
on_cleanup() { save_logs; }

# --- origin ---------------------------------------------------------------------------------------
mkdir -p "$WORK/www" "$WORK/tmp"
head -c 1024 /dev/urandom > "$WORK/www/small"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$WORK/www/big"
mkdir -p "$WORK/www/mix"
for s in 1 10 100 1024; do head -c $((s * 1024)) /dev/urandom > "$WORK/www/mix/$s"; done
ORIGIN_PORT=$(free_port)
NGINX_CONNS=$((2 * MAXCONN + 1000))
[ "$NGINX_CONNS" -gt "$NOFILE" ] && NGINX_CONNS=$NOFILE
start_nginx "$ORIGIN_PORT" "$NGINX_WORKERS" "$NGINX_CONNS" "listen 127.0.0.1:$ORIGIN_PORT backlog=4096; root $WORK/www;" \
  "${ORIGIN_HTTP[@]}"
ORIGIN="http://127.0.0.1:$ORIGIN_PORT"

# --- contenders -------------------------------------------------------------------------------
# start_contender NAME: sets CUR_PID and CUR_PORT (for "direct", the nginx origin itself)
start_contender() {
  local name=$1
  CUR_PID=""
  if [ "$name" = direct ]; then CUR_PORT=$ORIGIN_PORT; return 0; fi
  CUR_PORT=$(free_port)
  case $name in
    swproxy|swproxy-b)
      local bin=$SWPROXY_BIN extra=()
      if [ "$name" = swproxy-b ]; then bin=$SWPROXY_BIN_B; read -r -a extra <<< "$SWPROXY_ARGS_B"; fi
      "$bin" serve --listen "127.0.0.1:$CUR_PORT" --threads "$PROXY_THREADS" \
        --max-connections "$MAXCONN" --quiet --drain-timeout 1 "${extra[@]}" >>"$WORK/$name.log" 2>&1 &
      ;;
    tinyproxy)
      cat > "$WORK/tinyproxy.conf" <<CONF
Port $CUR_PORT
Listen 127.0.0.1
Timeout 600
MaxClients $MAXCONN
LogFile "$WORK/tinyproxy-messages.log"
LogLevel Critical
PidFile "$WORK/tinyproxy.pid"
Allow 127.0.0.1
ViaProxyName "tinyproxy"
CONF
      tinyproxy -d -c "$WORK/tinyproxy.conf" >>"$WORK/tinyproxy.log" 2>&1 &
      ;;
    squid)
      start_squid "http_port 127.0.0.1:$CUR_PORT" "${SQUID_NO_CACHE[@]}"
      ;;
  esac
  CUR_PID=$!
  track "$CUR_PID"
  wait_contender "$name" "$ORIGIN/small" 200 -x "http://127.0.0.1:$CUR_PORT"
}
stop_contender() { [ -n "$CUR_PID" ] && stop_pid "$CUR_PID"; CUR_PID=""; sleep 0.5; }

# wrk against the current contender; records rps, p50, p99, CPU per 100k and error counts.
run_wrk() { # name conns [workload]
  local name=$1 c=$2 workload=${3:-keepalive} url target file before after base paths="" close=0 key
  if [ "$name" = direct ]; then url=$ORIGIN; base=""
  else url="http://127.0.0.1:$CUR_PORT"; base=$ORIGIN; fi
  target="$base/small"
  case $workload in
    keepalive) key=$c ;;
    close) key="close_$c"; close=1 ;;
    mixed) key="mixed_$c"; paths="$base/mix/1,$base/mix/10,$base/mix/100,$base/mix/1024" ;;
  esac
  file="$OUT/r$ROUND-$name-$key.txt"
  [ -n "$CUR_PID" ] && before=$(cpu_ticks "$CUR_PID")
  WRK_TARGET=$target WRK_PATHS=$paths WRK_CLOSE=$close wrk -t"$WRK_THREADS" -c"$c" -d"$DURATION" --latency \
    -s "$ROOT/bench/serve.lua" "$url" > "$file" 2>&1 || echo "serve.sh: wrk exited with $? ($file)" >&2
  [ -n "$CUR_PID" ] && after=$(cpu_ticks "$CUR_PID")
  local requests duration_us bytes p50_us p99_us max_us err_connect err_read err_write err_status err_timeout
  local rps p50 p99 cpu=""
  if ! wrk_result "$file"; then echo "serve.sh: no result from wrk for $name at $c conns ($file)" >&2; return 0; fi
  record "$name" "rps_$key" "$rps"; record "$name" "p50_$key" "$p50"; record "$name" "p99_$key" "$p99"
  [ "$workload" = mixed ] && record "$name" "mbps_$key" "$(awk -v b="$bytes" -v d="$duration_us" 'BEGIN{printf "%.1f", b / d}')"
  if [ -n "$CUR_PID" ] && [ "$requests" -gt 0 ]; then
    cpu=$(awk -v a="$after" -v b="$before" -v t="$CLK_TCK" -v r="$requests" 'BEGIN{printf "%.4f", (a - b) / t / r * 100000}')
    record "$name" "cpu_$key" "$cpu"
  fi
  record "$name" wrk_non2xx "$err_status"
  record "$name" wrk_readerr "$err_read"
  record "$name" wrk_sockerr $((err_connect + err_write + err_timeout))
  printf '  %-9s %-9s %3s conns: %9s req/s  p50 %7s ms  p99 %8s ms  cpu/100k %6s s  non-2xx %s  socket errors c/r/w/t %s/%s/%s/%s\n' \
    "$name" "$workload" "$c" "$rps" "$p50" "$p99" "${cpu:-—}" "$err_status" "$err_connect" "$err_read" "$err_write" "$err_timeout" >&2
}

phase_throughput() { # name
  local name=$1 c
  start_contender "$name" || return 0
  if [ "$WARMUP" != 0 ]; then
    local wurl=$ORIGIN wtarget=/small
    [ "$name" = direct ] || { wurl="http://127.0.0.1:$CUR_PORT"; wtarget="$ORIGIN/small"; }
    WRK_TARGET=$wtarget wrk -t"$WRK_THREADS" -c50 -d"${WARMUP}s" -s "$ROOT/bench/serve.lua" "$wurl" >/dev/null 2>&1 || true
  fi
  local first=${CONNS%% *} w
  for w in $WORKLOADS; do
    if [ "$w" = keepalive ]; then
      for c in $CONNS; do run_wrk "$name" "$c"; done
    else
      run_wrk "$name" "$first" "$w"
    fi
  done
  stop_contender
}

phase_download() { # name
  local name=$1 res speed size code
  start_contender "$name" || return 0
  if [ -n "$CUR_PID" ]; then record "$name" rss_start "$(mib "$(status_kb "$CUR_PID" VmRSS)")"; fi
  if [ "$name" = direct ]; then
    res=$(curl -s --noproxy '*' -o /dev/null --max-time 300 -w '%{speed_download} %{size_download} %{http_code}' "$ORIGIN/big" || true)
  else
    res=$(curl -s -x "http://127.0.0.1:$CUR_PORT" -o /dev/null --max-time 300 -w '%{speed_download} %{size_download} %{http_code}' "$ORIGIN/big" || true)
  fi
  read -r speed size code <<<"$res"
  echo "$name $res" >> "$OUT/r$ROUND-download.txt"
  if [ "${code:-}" = 200 ] && [ "${size:-0}" = $((100 * 1024 * 1024)) ]; then
    record "$name" mbps "$(awk -v s="$speed" 'BEGIN{printf "%.1f", s / 1e6}')"
  else
    echo "serve.sh: $name: 100 MiB download failed (speed/size/status: $res)" >&2
  fi
  local hwm=""
  if [ -n "$CUR_PID" ]; then
    hwm=$(mib "$(status_kb "$CUR_PID" VmHWM)")
    record "$name" rss_dl_peak "$hwm"
  fi
  printf '  %-9s 100 MiB: %s MB/s  peak RSS %s MiB  (status %s, %s bytes)\n' \
    "$name" "$(awk -v s="${speed:-0}" 'BEGIN{printf "%.1f", s / 1e6}')" "${hwm:-—}" "${code:-?}" "${size:-?}" >&2
  stop_contender
}

phase_idle() { # name
  local name=$1
  [ "$name" = direct ] && return 0
  start_contender "$name" || return 0
  local ready="$WORK/idle.ready" release="$WORK/idle.release" base rss ipid i
  rm -f "$ready" "$release"
  base=$(status_kb "$CUR_PID" VmRSS)
  python3 "$ROOT/bench/idle_conns.py" --port "$CUR_PORT" --target "$ORIGIN/small" --count "$IDLE_CONNS" \
    --ready-file "$ready" --release-file "$release" --hold-max 300 > "$OUT/r$ROUND-$name-idle.json" 2>&1 &
  ipid=$!
  track "$ipid"
  for i in $(seq 3000); do   # up to 300 s
    [ -f "$ready" ] && break
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -f "$ready" ]; then
    echo "serve.sh: $name: the idle client did not get ready; see $OUT/r$ROUND-$name-idle.json" >&2
    stop_pid "$ipid"; stop_contender; return 0
  fi
  sleep 0.5
  if kill -0 "$CUR_PID" 2>/dev/null; then rss=$(status_kb "$CUR_PID" VmRSS); else rss=""; fi
  touch "$release"
  for i in $(seq 100); do kill -0 "$ipid" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$ipid"
  local held responses failed
  read -r held responses failed < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["held"], d["responses"], d["requested"] - d["responses"])' "$ready")
  if [ -z "$rss" ]; then
    echo "serve.sh: $name died during the idle test" >&2
  else
    record "$name" idle_rss "$(mib "$rss")"
    [ "$held" -gt 0 ] && record "$name" idle_kib_per_conn "$(awk -v a="$rss" -v b="$base" -v n="$held" 'BEGIN{printf "%.2f", (a - b) / n}')"
  fi
  record "$name" idle_held "$held"
  record "$name" idle_failed "$failed"
  printf '  %-9s idle: %s of %s held, %s responses; RSS %s -> %s MiB  (%s)\n' "$name" "$held" "$IDLE_CONNS" "$responses" \
    "$(mib "$base")" "$(mib "${rss:-0}")" \
    "$(head -c 300 "$ready")" >&2
  stop_contender
}

# --- rounds -------------------------------------------------------------------------------------
read -r -a ORDER <<<"$CONTENDERS"
for ROUND in $(seq "$ROUNDS"); do
  # Rotate the order every round so no contender always runs first (or right after tinyproxy's
  # TIME_WAIT sockets).
  shift_by=$(( (ROUND - 1) % ${#ORDER[@]} ))
  rot=("${ORDER[@]:$shift_by}" "${ORDER[@]:0:$shift_by}")
  echo "round $ROUND/$ROUNDS (order: ${rot[*]})" >&2
  for name in "${rot[@]}"; do phase_throughput "$name"; done
  for name in "${rot[@]}"; do phase_download "$name"; done
  if [ "$IDLE_CONNS" -gt 0 ]; then for name in "${rot[@]}"; do phase_idle "$name"; done; fi
done
cp "$RESULTS" "$OUT/results.tsv"

# --- report ---------------------------------------------------------------------------------------
VERSIONS="$(ver "$SWPROXY_BIN" --version | sed 's/^/swproxy /;s/^swproxy swproxy/swproxy/'), $(ver nginx -v | sed 's/^nginx version: //'), $(ver wrk -v | cut -d' ' -f1-2)"
has tinyproxy && VERSIONS="$VERSIONS, $(ver tinyproxy -v)"
has squid && VERSIONS="$VERSIONS, $(ver squid -v | sed 's/^Squid Cache: Version /squid /')"
VERSIONS="$VERSIONS, $(ver curl --version | cut -d' ' -f1-2), $(ver python3 --version)"
MACHINE="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r), open-file limit $NOFILE"
COMMAND="WORKLOADS=\"$WORKLOADS\" ${SWPROXY_ARGS_B:+SWPROXY_ARGS_B=\"$SWPROXY_ARGS_B\" }${SWPROXY_BIN_B:+SWPROXY_BIN_B=$SWPROXY_BIN_B }${GIVEN_BIN:+SWPROXY_BIN=$GIVEN_BIN }${GIVEN_SKIP:+SKIP_BUILD=$GIVEN_SKIP }ROUNDS=$ROUNDS DURATION=$DURATION IDLE_CONNS=$IDLE_CONNS CONTENDERS=\"$CONTENDERS\" PROXY_THREADS=$PROXY_THREADS NGINX_WORKERS=$NGINX_WORKERS CONNS=\"$CONNS\" WRK_THREADS=$WRK_THREADS WARMUP=$WARMUP bash bench/serve.sh${ORIG_ARGS[*]:+ ${ORIG_ARGS[*]}}"
METHOD="Medians over $ROUNDS rounds; every round runs each measurement for every contender in turn (order rotated per round), each on a freshly started proxy. \
Origin: nginx, $NGINX_WORKERS worker process(es), sendfile, access log off, serving a 1 KiB \`/small\` and a 100 MiB \`/big\` from 127.0.0.1. \
Throughput: \`wrk -t$WRK_THREADS -c{$(echo "$CONNS" | tr ' ' ',')} -d$DURATION --latency -s bench/serve.lua\` (absolute-form \`GET $ORIGIN/small\` to the proxy's port; origin-form \`/small\` for direct), after a ${WARMUP} s warm-up; \
Workloads ($WORKLOADS): keepalive as above at every conns count; close = the same with \`Connection: close\` on every request (wrk opens a new connection for each), at the first conns count; mixed = keep-alive, each request one of /mix/1, /mix/10, /mix/100, /mix/1024 (KiB) at random (wrk's Lua \`request\`), at the first conns count, with its MB/s. \
proxy CPU = utime+stime of the proxy process (all threads, /proc/PID/stat, CLK_TCK $CLK_TCK) across the wrk run ÷ requests × 100,000. \
Download: \`curl -x http://127.0.0.1:PROXYPORT -o /dev/null -w '%{speed_download}' $ORIGIN/big\`, peak RSS = the fresh proxy's VmHWM afterwards. \
Idle: \`bench/idle_conns.py\` opens $IDLE_CONNS connections (200 being set up at a time), one keep-alive GET of /small on each, reads the response and holds them; RSS = the proxy's VmRSS 1.5 s after the last response (growth per conn against the fresh proxy's VmRSS). \
The whole run shares a ${DURATION}-per-run, $(nproc)-core machine between wrk, the proxy and nginx: the ratios are the point, not the absolute figures."
{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'machine\t%s\n' "$MACHINE"
  printf 'versions\t%s\n' "$VERSIONS"
  printf 'command\t%s\n' "$COMMAND"
  printf 'method\t%s\n' "$METHOD"
  printf 'contenders\t%s\n' "$CONTENDERS"
  printf 'conns\t%s\n' "$CONNS"
  printf 'idle_conns\t%s\n' "$IDLE_CONNS"
  printf 'note_direct\t%s\n' "wrk and curl straight to the nginx origin: the ceiling. No proxy process, so no proxy CPU or RSS."
  printf 'note_swproxy\t%s\n' "\`swproxy serve --listen 127.0.0.1:PORT --threads $PROXY_THREADS --max-connections $MAXCONN --quiet --drain-timeout 1\`: $PROXY_THREADS event-loop threads (default: one per core), access log off, Via and X-Forwarded-For added (defaults), keep-alive to clients and (libcurl's connection cache) to the origin."
  printf 'note_tinyproxy\t%s\n' "\`tinyproxy -d -c CONF\` with \`Listen 127.0.0.1\`, \`Allow 127.0.0.1\`, \`MaxClients $MAXCONN\`, \`LogLevel Critical\` (no access log: tinyproxy logs connections at Connect/Info level and refuses /dev/null as LogFile, so its log is a file that stays empty), \`Timeout 600\`, Via added (no X-Forwarded-For option). One process, one thread per client connection (the thread count is not configurable, so it is not matched to $PROXY_THREADS). tinyproxy 1.11 has no persistent connections: it opens a new origin connection per request and closes the client connection after every response (without announcing \`Connection: close\`), so wrk reconnects for every request, counting each close as a socket *read* error (those are not failed requests: requests/s counts complete responses only), and it cannot hold idle keep-alive connections (the idle rows show how many it still had open)."
  printf 'note_squid\t%s\n' "\`squid -N -f CONF\` with \`http_access allow localhost\`, \`cache deny all\`, \`cache_mem 0 MB\`, no cache_dir, \`access_log none\`, \`cache_store_log none\`, \`max_filedescriptors $NOFILE\`, \`dns_nameservers 127.0.0.1\`, \`pinger_enable off\`; Via and X-Forwarded-For added (defaults), persistent client and server connections (defaults). \`-N\` (foreground, which lets the script own its PID) disables SMP mode, so squid runs a single worker process on one core whatever PROXY_THREADS is (PROXY_THREADS=1 gives a one-core swproxy to set against it)."
  [ -n "$SWPROXY_BIN_B" ] && printf 'note_swproxy-b\t%s\n' "the same command with \`$SWPROXY_BIN_B\`${SWPROXY_ARGS_B:+ and \`$SWPROXY_ARGS_B\`} (A is \`$SWPROXY_BIN\`)."
  printf 'title\t%s\n' "$AB_TITLE"
  [ "$ROUNDS" -lt 3 ] && printf 'note_run\t%s\n' "ROUNDS=$ROUNDS: fewer than 3 rounds, indicative only."
  true
} > "$WORK/meta.tsv"
cp "$WORK/meta.tsv" "$OUT/meta.tsv"
python3 "$ROOT/bench/serve_report.py" "$RESULTS" "$WORK/meta.tsv" "$WORK/serve-section.md" "$ROOT/bench/RESULTS.md"
echo >&2
cat "$WORK/serve-section.md"
