# Helpers shared by the bench/*.sh scripts. A script cds to the repository root, sets ROOT and sources this
# file (`. "$ROOT/bench/lib.sh"`); its knobs, workloads and report stay its own.
#   make_work NAME [OUT]     WORK, RESULTS, OUT and the exit trap; the script's on_cleanup saves what it keeps
#   track / stop_pid         every process a script starts is stopped by its PID, at the latest on exit
#   start_nginx, start_squid, wait_contender, wrk_result: the origin, the peer proxy, the start check, wrk's summary
# Everything listens on 127.0.0.1 only; every wait is bounded.
# shellcheck shell=bash

SCRIPT=${0##*/}   # the script's name, for its messages
STARTED=""        # PIDs the script started and has not stopped yet
NOFILE=""         # the open-file limit once raise_nofile has run; nginx and squid are given it then
NEED=""           # the packages install_needed installs

# --- packages -------------------------------------------------------------------------------------
# need COMMAND [PACKAGE]: install_needed installs PACKAGE (default COMMAND) when COMMAND is neither on PATH
# nor in /usr/sbin.
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || NEED="$NEED ${2:-$1}"; }
# need_package PACKAGE: install_needed installs PACKAGE when dpkg does not have it.
need_package() { dpkg -s "$1" >/dev/null 2>&1 || NEED="$NEED $1"; }
install_needed() {
  [ -n "$NEED" ] || return 0
  echo "installing$NEED..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $NEED >/dev/null
  # Debian starts the packaged services on install where it can; the benchmarks run their own.
}

# raise_nofile: the open-file limit as high as allowed (children inherit it), in NOFILE.
raise_nofile() {
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  NOFILE=$(ulimit -n)
  if [ "$NOFILE" = unlimited ]; then NOFILE=1048576; fi
}

# --- processes and the work directory -------------------------------------------------------------
track() { STARTED="$STARTED $1"; }
untrack() { STARTED=$(echo " $STARTED " | sed "s/ $1 / /g"); }
stop_pid() { # pid: TERM, wait up to 10 s, then KILL
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  untrack "$pid"
}

# on_cleanup: the script's own last step before WORK goes (copying logs to OUT, removing other directories).
on_cleanup() { :; }
cleanup() {
  local pid
  for pid in $STARTED; do stop_pid "$pid"; done
  if [ -d "${WORK:-}" ]; then
    on_cleanup
    rm -rf "$WORK"
  fi
}

# make_work NAME [OUT]: WORK=/tmp/swproxy-NAME.XXXXXX, removed on exit (after the started processes are
# stopped and on_cleanup has run), RESULTS=WORK/results.tsv (empty, for record); with OUT, OUT=bench/out/OUT,
# emptied.
make_work() {
  WORK=$(mktemp -d "/tmp/swproxy-$1.XXXXXX")
  chmod 755 "$WORK"   # squid drops to its own user and must reach its directory
  if [ -n "${2:-}" ]; then
    OUT=$ROOT/bench/out/$2
    rm -rf "$OUT"; mkdir -p "$OUT"
  fi
  RESULTS=$WORK/results.tsv
  : > "$RESULTS"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

# save_logs [PREFIX]: WORK's logs into OUT, squid's (WORK/squid/*.log) named PREFIX plus their own name.
save_logs() {
  local f
  cp "$WORK"/*.log "$OUT"/ 2>/dev/null || true
  for f in "$WORK"/squid/*.log; do [ -f "$f" ] && cp "$f" "$OUT/${1:-}$(basename "$f")"; done 2>/dev/null || true
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }   # utime + stime, all threads
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }        # VmRSS / VmHWM in kB
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
record() { printf '%s\t%s\t%s\t%s\n' "$ROUND" "$1" "$2" "$3" >> "$RESULTS"; }   # name key value, for ROUND
ver() { "$@" 2>&1 | head -1 || true; }

# --- the origin -----------------------------------------------------------------------------------
# The http directives of the origin the proxy benchmarks stand in front of: files by sendfile, keep-alive
# without a limit.
ORIGIN_HTTP=("sendfile on;" "tcp_nopush on;" "keepalive_requests 1000000;" "keepalive_timeout 300s;")

# nginx_conf WORKERS CONNECTIONS SERVER [DIRECTIVE...]: an nginx.conf on stdout for a foreground nginx run as
# root, its pid, error log (nginx-error.log) and temp files in WORK, no access log; SERVER is the inside of its
# one server block, each DIRECTIVE one more line of its http block.
nginx_conf() {
  local workers=$1 connections=$2 server=$3 d
  shift 3
  echo "worker_processes $workers;"
  if [ -n "$NOFILE" ]; then echo "worker_rlimit_nofile $NOFILE;"; fi
  cat <<CONF
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
user root;
events { worker_connections $connections; }
http {
  access_log off;
CONF
  for d in "$@"; do echo "  $d"; done
  cat <<CONF
  client_body_temp_path $WORK/tmp;
  proxy_temp_path $WORK/tmp;
  fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp;
  scgi_temp_path $WORK/tmp;
  server { $server }
}
CONF
}

# start_nginx PORT WORKERS CONNECTIONS SERVER [DIRECTIVE...]: starts nginx with WORK/nginx.conf from
# nginx_conf (the other arguments) and waits until it accepts connections on 127.0.0.1:PORT (5 s at most; the
# script stops if it never does). Sets NGINX_PID.
start_nginx() {
  local port=$1 i
  shift
  nginx_conf "$@" > "$WORK/nginx.conf"
  nginx -c "$WORK/nginx.conf" -p "$WORK" &
  NGINX_PID=$!
  track "$NGINX_PID"
  for i in $(seq 100); do
    # a connection without a request: no path to know, no line in the error log
    (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$SCRIPT: nginx did not start" >&2
  cat "$WORK/nginx-error.log" >&2 || true
  exit 1
}

# --- the peer proxy -------------------------------------------------------------------------------
# squid's directives for a proxy that stores nothing and logs no access.
SQUID_NO_CACHE=("cache deny all" "cache_mem 0 MB" "access_log none")

# start_squid PORT_DIRECTIVE [DIRECTIVE...]: starts `squid -N` in the background ($! is its PID) with
# WORK/squid/squid.conf: PORT_DIRECTIVE (http_port, https_port), clients from localhost only, each DIRECTIVE,
# then what every benchmark's squid shares: its files in WORK/squid, no DNS, ICP, HTCP or pinger, a 1 s
# shutdown, and max_filedescriptors NOFILE once raise_nofile has run.
start_squid() {
  local d
  mkdir -p "$WORK/squid"
  rm -f "$WORK/squid/squid.pid"
  {
    echo "$1"
    echo "http_access allow localhost"
    echo "http_access deny all"
    shift
    for d in "$@"; do echo "$d"; done
    cat <<CONF
cache_store_log none
cache_log $WORK/squid/cache.log
pid_filename $WORK/squid/squid.pid
coredump_dir $WORK/squid
CONF
    if [ -n "$NOFILE" ]; then echo "max_filedescriptors $NOFILE"; fi
    cat <<CONF
visible_hostname swproxy-bench
dns_nameservers 127.0.0.1
pinger_enable off
icp_port 0
htcp_port 0
netdb_filename none
logfile_rotate 0
shutdown_lifetime 1 seconds
CONF
  } > "$WORK/squid/squid.conf"
  chown -R proxy "$WORK/squid" 2>/dev/null || true
  squid -N -f "$WORK/squid/squid.conf" >>"$WORK/squid/stdout.log" 2>&1 &
}

# wait_contender NAME URL CODE CURL_ARG...: until a request for URL with the curl arguments (the proxy's, e.g.
# -x http://127.0.0.1:CUR_PORT) is answered CODE, while CUR_PID runs (10 s at most). If it never is, the
# contender's log tail is shown, CUR_PID stopped (and emptied), and it fails.
wait_contender() {
  local name=$1 url=$2 want=$3 code i
  shift 3
  for i in $(seq 100); do
    if ! kill -0 "$CUR_PID" 2>/dev/null; then break; fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true)
    [ "$code" = "$want" ] && return 0
    sleep 0.1
  done
  echo "$SCRIPT: $name did not start (or does not answer $want on port $CUR_PORT); its log:" >&2
  tail -n 20 "$WORK/$name.log" "$WORK/squid/cache.log" "$WORK/squid/stdout.log" 2>/dev/null >&2 || true
  stop_pid "$CUR_PID"; CUR_PID=""
  return 1
}

# --- wrk ------------------------------------------------------------------------------------------
# wrk_result FILE: reads the last BENCH line (bench/serve.lua's summary) of wrk's output FILE into requests,
# duration_us, bytes, p50_us, p99_us, max_us, err_connect, err_read, err_write, err_status and err_timeout, and
# from them rps (requests per second), p50 and p99 (ms): the caller's locals where it declares them. Fails
# when FILE has no BENCH line.
wrk_result() {
  local line
  line=$(grep '^BENCH ' "$1" | tail -1 || true)
  [ -n "$line" ] || return 1
  eval "$(echo "${line#BENCH }" | tr ' ' '\n' | grep -E '^[a-z0-9_]+=[0-9]+$')"
  rps=$(awk -v r="$requests" -v d="$duration_us" 'BEGIN{printf "%.1f", r / (d / 1e6)}')
  p50=$(awk -v v="$p50_us" 'BEGIN{printf "%.3f", v / 1000}')
  p99=$(awk -v v="$p99_us" 'BEGIN{printf "%.3f", v / 1000}')
}
