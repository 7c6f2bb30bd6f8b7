#!/usr/bin/env bash
# Benchmark: the HTTPS listener. `swproxy serve --listen-tls` against squid's `https_port` (squid-openssl),
# the same certificate, in front of one nginx origin, with wrk speaking TLS to the proxy and sending
# absolute-form requests inside (what `curl -x https://...` does). Two workloads per contender:
#   keep-alive   wrk -c50: small requests/s over established TLS connections, proxy CPU per request;
#   handshakes   wrk -c50 with `Connection: close`: every request a new TCP connection and TLS handshake,
#                so requests/s = handshakes/s.
#   bash bench/tls.sh      (installs nginx-light, wrk, squid-openssl, openssl when missing)
# Knobs: ROUNDS=3, DURATION=10s, CONNS=50, PROXY_THREADS=nproc, SWPROXY_BIN (default .build/release/swproxy,
# built with `make build` unless SKIP_BUILD=1). Writes the "serve: HTTPS listener" section of bench/RESULTS.md.
# Everything listens on 127.0.0.1 and every request targets 127.0.0.1; every process is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. "$ROOT/bench/lib.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
[[ $DURATION =~ ^[0-9]+$ ]] && DURATION="${DURATION}s"
CONNS=${CONNS:-50}
PROXY_THREADS=${PROXY_THREADS:-$(nproc)}
SKIP_BUILD=${SKIP_BUILD:-0}
CLK_TCK=$(getconf CLK_TCK)
unset http_proxy https_proxy all_proxy no_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY || true
export PATH="$PATH:/usr/sbin:/sbin"

need nginx nginx-light
need wrk
need openssl
# squid's https_port needs the OpenSSL build (Debian's plain squid has no TLS).
need_package squid-openssl
install_needed
if [ -z "${SWPROXY_BIN:-}" ]; then
  [ "$SKIP_BUILD" = 1 ] || make -s build >&2
  SWPROXY_BIN=$ROOT/.build/release/swproxy
fi

make_work tls-bench

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1
chmod 644 "$WORK/key.pem"

ORIGIN_PORT=$(free_port)
ORIGIN="http://127.0.0.1:$ORIGIN_PORT"
mkdir -p "$WORK/www" "$WORK/nginx"
head -c 1024 /dev/urandom > "$WORK/www/small"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$ORIGIN_PORT; root $WORK/www; }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
track "$!"
for _ in $(seq 50); do curl -sf -o /dev/null "$ORIGIN/small" && break; sleep 0.1; done

CUR_PID=""
CUR_PORT=""
start() {
  CUR_PORT=$(free_port)
  case $1 in
    swproxy)
      "$SWPROXY_BIN" serve --listen-tls "127.0.0.1:$CUR_PORT" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" \
        --threads "$PROXY_THREADS" --quiet --drain-timeout 1 >>"$WORK/swproxy.log" 2>&1 &
      ;;
    squid)
      start_squid "https_port 127.0.0.1:$CUR_PORT tls-cert=$WORK/cert.pem tls-key=$WORK/key.pem" "${SQUID_NO_CACHE[@]}"
      ;;
  esac
  CUR_PID=$!
  track "$CUR_PID"
  # until a TLS handshake and a proxied request succeed
  wait_contender "$1" "$ORIGIN/small" 200 --proxy-insecure -x "https://127.0.0.1:$CUR_PORT"
}
stop() { stop_pid "$CUR_PID"; }

measure() {  # NAME WORKLOAD
  local close=0
  [ "$2" = handshakes ] && close=1
  start "$1"
  WRK_TARGET="$ORIGIN/small" WRK_CLOSE=$close wrk -t2 -c"$CONNS" -d1s -s bench/serve.lua "https://127.0.0.1:$CUR_PORT" >/dev/null 2>&1 || true
  local t0 t1 file=$WORK/wrk.txt
  t0=$(cpu_ticks "$CUR_PID")
  WRK_TARGET="$ORIGIN/small" WRK_CLOSE=$close wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/serve.lua "https://127.0.0.1:$CUR_PORT" > "$file" 2>&1
  t1=$(cpu_ticks "$CUR_PID")
  stop
  local requests duration_us bytes p50_us p99_us max_us err_connect err_read err_write err_status err_timeout rps p50 p99
  wrk_result "$file"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$requests" "$duration_us" "$p50_us" "$p99_us" "$((t1 - t0))" \
    "$((err_connect + err_write + err_status + err_timeout))" >> "$RESULTS"
  awk -v n="$1" -v w="$2" -v r="$requests" -v d="$duration_us" -v c="$((t1 - t0))" -v k="$CLK_TCK" \
    'BEGIN { printf "  %-8s %-10s %9.1f req/s  cpu %.1f us/req\n", n, w, r / (d / 1e6), (c / k) * 1e6 / r }' >&2
}

for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="swproxy squid"; else order="squid swproxy"; fi
  echo "round $round/$ROUNDS ($order)" >&2
  for w in keepalive handshakes; do
    for name in $order; do measure "$name" "$w"; done
  done
done

VERSIONS="$("$SWPROXY_BIN" --version | head -1), $(squid -v | head -1 | sed 's/^Squid Cache: Version /squid /') (squid-openssl), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(openssl version | cut -d' ' -f1-2)"
MACHINE="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r)"
COMMAND="ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS PROXY_THREADS=$PROXY_THREADS bash bench/tls.sh"
python3 - "$RESULTS" "$WORK/section.md" "$VERSIONS" "$MACHINE" "$COMMAND" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$CLK_TCK" "$PROXY_THREADS" "$CONNS" "$DURATION" <<'PY'
import statistics, sys
results, out, versions, machine, command, date, tck, threads, conns, duration = sys.argv[1:11]
tck = int(tck)
rows = {}
for line in open(results):
    name, work, req, dur, p50, p99, ticks, errs = line.rstrip("\n").split("\t")
    rows.setdefault((name, work), []).append((int(req) / (int(dur) / 1e6), int(p50) / 1000, int(p99) / 1000,
                                              int(ticks) / tck * 1e6 / max(1, int(req)), int(errs)))
def med(name, work, i):
    return statistics.median(r[i] for r in rows[(name, work)])
lines = ["## serve: HTTPS listener", "",
         f"`{command}` on {date}: {machine}.", "", f"Versions: {versions}.", "",
         f"Medians over the rounds (order alternated per round), each measurement on a freshly started proxy. "
         f"wrk -t2 -c{conns} -d{duration} speaks TLS to the proxy's TLS port (`https://127.0.0.1:PORT`) and sends "
         f"absolute-form `GET http://127.0.0.1:ORIGIN/small` (1 KiB from nginx, one worker) inside, as `curl -x https://` does; "
         f"*handshakes* adds `Connection: close`, so every request is a new TCP connection and a full TLS handshake "
         f"(TLS 1.3, RSA 2048 certificate, the same for both). Proxy CPU = utime+stime of the proxy process across the run ÷ requests. "
         f"swproxy: `swproxy serve --listen-tls 127.0.0.1:PORT --tls-cert cert.pem --tls-key key.pem --threads {threads} --quiet`; "
         f"squid: `https_port 127.0.0.1:PORT tls-cert=cert.pem tls-key=key.pem`, `cache deny all`, `access_log none`, "
         f"one worker (`-N`). wrk, the proxy and nginx share the machine's cores: the ratios are the point.", "",
         "| metric | better | swproxy | squid | swproxy ÷ squid |", "|---|---|---|---|---|"]
for work, label in (("keepalive", "keep-alive"), ("handshakes", "new connection + handshake per request")):
    for i, what, better in ((0, "requests/s", "↑"), (1, "p50 latency ms", "↓"), (2, "p99 latency ms", "↓"),
                            (3, "proxy CPU µs per request", "↓")):
        a, b = med("swproxy", work, i), med("squid", work, i)
        fmt = (lambda v: f"{v:,.0f}") if i == 0 else (lambda v: f"{v:.2f}") if i < 3 else (lambda v: f"{v:.1f}")
        lines.append(f"| {what}, {label} | {better} | {fmt(a)} | {fmt(b)} | {a / b:.2f}× |")
    errs = {n: sum(r[4] for r in rows[(n, work)]) for n in ("swproxy", "squid")}
    lines.append(f"| wrk errors (connect, write, status, timeout), {label} | ↓ | {errs['swproxy']} | {errs['squid']} |  |")
open(out, "w").write("\n".join(lines) + "\n")
PY
python3 bench/results_section.py bench/RESULTS.md "$WORK/section.md"
cat "$WORK/section.md"
