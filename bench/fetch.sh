#!/usr/bin/env bash
# Benchmark: swproxy fetch against curl --parallel, on loopback against a real nginx origin.
#   bash bench/fetch.sh            (from the repository root; installs nginx and hyperfine when missing)
# Writes the medians and ratios to bench/RESULTS.md (the "fetch" section) and prints them. Each batch runs
# with its bodies to /dev/null (which both tools count without writing), to files on tmpfs (/dev/shm) and
# on disk (under /tmp) with `-o DIR/#1 --create-dirs` (the directory removed before every run), and to
# stdout (a pipe): the paths users take.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-7}
SINGLE_RUNS=${SINGLE_RUNS:-60}

need=""
for p in nginx-light hyperfine curl; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
if [ -n "$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null; fi

echo "building release binaries..." >&2
make --no-print-directory build >/dev/null  # the shipped binary: static Swift runtime
swift build -c release --scratch-path .build-dynamic >/dev/null
DYN=$ROOT/.build-dynamic/release/swproxy
STATIC=$ROOT/.build/release/swproxy

WORK=$(mktemp -d /tmp/swproxy-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/swproxy-bench.XXXXXX)
DISK=$WORK/disk
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT

mkdir -p "$WORK/www/f"
python3 - "$WORK/www/f" <<'PY'
import os, sys
d = sys.argv[1]
block = os.urandom(4096)
for i in range(10000):
    with open(os.path.join(d, str(i)), "wb") as f:
        f.write(block)
PY
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
user root;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/tmp;
  proxy_temp_path $WORK/tmp;
  fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp;
  scgi_temp_path $WORK/tmp;
  server { listen 127.0.0.1:$PORT backlog=4096; root $WORK/www; }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/f/0" && break; sleep 0.05; done

BASE="http://127.0.0.1:$PORT/f"
EXTRA=()  # more hyperfine options for the next row (--prepare, --output)
bench() { # name runs cmd...
  local name=$1 runs=$2; shift 2
  hyperfine --style none --warmup 1 --runs "$runs" "${EXTRA[@]}" --export-json "$WORK/${name//[^A-Za-z0-9]/_}.json" "$@" >/dev/null 2>&1
  python3 - "$WORK/${name//[^A-Za-z0-9]/_}.json" <<'PY'
import json, statistics, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'{statistics.median(r["times"]):.6f}')
PY
}

declare -A MED
row() { # label curlcmd swproxycmd staticcmd runs
  local label=$1 runs=$5
  mapfile -t m < <(bench "$label" "$runs" "$2" "$3" "$4")
  MED[$label]="${m[0]} ${m[1]} ${m[2]}"
  EXTRA=()
  echo "$label: curl ${m[0]}s swproxy ${m[1]}s static ${m[2]}s" >&2
}

# batch LABEL COUNT: the four output paths for COUNT URLs, 50 at once.
LABELS=()
batch() {
  local n=$1 last=$(($1 - 1)) label
  label="$n x 4 KiB, to /dev/null"
  row "$label" \
    "curl -s --parallel --parallel-max 50 -o /dev/null '$BASE/[0-$last]'" \
    "$DYN fetch -s --parallel-max 50 -o /dev/null '$BASE/[0-$last]'" \
    "$STATIC fetch -s --parallel-max 50 -o /dev/null '$BASE/[0-$last]'" "$RUNS"
  LABELS+=("$label")
  for where in tmpfs disk; do
    local dir=$SHM
    [ $where = disk ] && dir=$DISK
    label="$n x 4 KiB, to files on $where"
    # sync: every run starts with the previous runs' writeback done (else the later commands pay for the
    # earlier ones' dirty pages and journal commits).
    EXTRA=(--prepare "rm -rf $dir/c $dir/d $dir/s; sync")
    row "$label" \
      "curl -s --parallel --parallel-max 50 --create-dirs -o '$dir/c/#1' '$BASE/[0-$last]'" \
      "$DYN fetch -s --parallel-max 50 --create-dirs -o '$dir/d/#1' '$BASE/[0-$last]'" \
      "$STATIC fetch -s --parallel-max 50 --create-dirs -o '$dir/s/#1' '$BASE/[0-$last]'" "$RUNS"
    LABELS+=("$label")
  done
  label="$n x 4 KiB, to stdout (a pipe)"
  EXTRA=(--output=pipe)
  row "$label" \
    "curl -s --parallel --parallel-max 50 '$BASE/[0-$last]'" \
    "$DYN fetch -s --parallel-max 50 '$BASE/[0-$last]'" \
    "$STATIC fetch -s --parallel-max 50 '$BASE/[0-$last]'" "$RUNS"
  LABELS+=("$label")
}
batch 1000
batch 10000
row "1 URL, to /dev/null" \
  "curl -s -o /dev/null '$BASE/0'" \
  "$DYN fetch -s -o /dev/null '$BASE/0'" \
  "$STATIC fetch -s -o /dev/null '$BASE/0'" "$SINGLE_RUNS"
LABELS+=("1 URL, to /dev/null")
EXTRA=(--prepare "rm -f $SHM/one-c $SHM/one-d $SHM/one-s")
row "1 URL, to a file on tmpfs" \
  "curl -s -o '$SHM/one-c' '$BASE/0'" \
  "$DYN fetch -s -o '$SHM/one-d' '$BASE/0'" \
  "$STATIC fetch -s -o '$SHM/one-s' '$BASE/0'" "$SINGLE_RUNS"
LABELS+=("1 URL, to a file on tmpfs")

DATE=$(date -u +%Y-%m-%d)
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
  echo "## fetch"
  echo
  echo "\`bash bench/fetch.sh\` on $DATE: $(nproc) cores ($CPU), $(free -g | awk '/Mem:/{print $2}') GiB,"
  echo "$(curl --version | head -1 | cut -d' ' -f1-3), nginx origin on loopback, hyperfine medians"
  echo "($RUNS runs for the batches, $SINGLE_RUNS for the single URL). Files: \`-o DIR/#1 --create-dirs\`, DIR removed"
  echo "before each run (hyperfine --prepare), tmpfs = /dev/shm, disk = ext4 under /tmp; stdout: hyperfine --output=pipe."
  echo
  echo "| workload | curl | swproxy, dynamic Swift runtime | ratio | swproxy as shipped (static Swift runtime) | ratio | target |"
  echo "|---|---|---|---|---|---|---|"
  for label in "${LABELS[@]}"; do
    read -r c d s <<<"${MED[$label]}"
    target="≤ 0.70×"; [[ $label == 1\ URL* ]] && target="≤ 1.00×"
    python3 - "$label" "$c" "$d" "$s" "$target" <<'PY'
import sys
label, c, d, s, t = sys.argv[1], *map(float, sys.argv[2:5]), sys.argv[5]
print(f"| {label} | {c*1000:.1f} ms | {d*1000:.1f} ms | {d/c:.2f}× | {s*1000:.1f} ms | {s/c:.2f}× | {t} |")
PY
  done
  echo
} > "$WORK/fetch-section.md"

# Replace the fetch section of RESULTS.md, keep the others.
python3 "$ROOT/bench/results_section.py" "$ROOT/bench/RESULTS.md" "$WORK/fetch-section.md"
cat "$WORK/fetch-section.md"
