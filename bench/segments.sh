#!/usr/bin/env bash
# Benchmark: big-file downloads over several connections. nginx on loopback serves one file with
# `limit_rate` per connection (a server or link that caps each connection); swproxy fetch --segments N,
# aria2c -x N -s N and curl download it to a file, in the same run.
#   bash bench/segments.sh     (from anywhere; installs nginx-light, aria2 and curl when missing)
# Writes the medians to bench/RESULTS.md (the "segments" section) and prints them.
#
# Knobs (environment):
#   SIZE_MIB=1024   the file's size       RATE=10m   nginx limit_rate per connection (k/m suffixes)
#   SEGMENTS="1 4 16"                     ROUNDS=1   every round runs every contender (median over rounds)
#   CLIENTS="curl swproxy aria2c"   which clients run (the section is written only when all of them do)
#   OUT_DIR=/tmp    where the downloads are written (a real file system path; not /dev/null)
#   SWPROXY_BIN=path  (default: `make build`, the shipped binary)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. "$ROOT/bench/lib.sh"
SIZE_MIB=${SIZE_MIB:-1024}
RATE=${RATE:-10m}
SEGMENTS=${SEGMENTS:-"1 4 16"}
ROUNDS=${ROUNDS:-1}
CLIENTS=${CLIENTS:-"curl swproxy aria2c"}
OUT_DIR=${OUT_DIR:-/tmp}

need=""
for p in nginx-light aria2 curl; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
if [ -n "$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null; fi
if [ -z "${SWPROXY_BIN:-}" ]; then
  echo "building the release binary..." >&2
  make --no-print-directory build >/dev/null
  SWPROXY_BIN=$ROOT/.build/release/swproxy
fi

make_work seg-bench
DL=$(mktemp -d "$OUT_DIR/swproxy-seg-out.XXXXXX")
on_cleanup() { rm -rf "${DL:-}"; }
mkdir -p "$WORK/www"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/www/big"
SUM=$(sha256sum "$WORK/www/big" | cut -d' ' -f1)
PORT=$(free_port)
start_nginx "$PORT" 1 1024 "listen 127.0.0.1:$PORT; root $WORK/www; location / { limit_rate $RATE; }"
URL="http://127.0.0.1:$PORT/big"

# One measured download: wall seconds and CPU seconds (user+sys of the client), checked by its SHA-256.
measure() {
  local name=$1; shift
  rm -f "$DL/out" "$DL/out.swproxy-part" "$DL/out.aria2"
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; echo "$name failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  local got
  got=$(sha256sum "$DL/out" | cut -d' ' -f1)
  [ "$got" = "$SUM" ] || { echo "$name: wrong bytes" >&2; exit 1; }
  read -r u s < "$WORK/time"
  python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.3f} {float(sys.argv[3])+float(sys.argv[4]):.3f}')" "$t0" "$t1" "$u" "$s"
}

declare -A WALL CPU
contenders=()
[[ " $CLIENTS " == *" curl "* ]] && contenders+=("curl")
for n in $SEGMENTS; do
  [[ " $CLIENTS " == *" swproxy "* ]] && contenders+=("swproxy-$n")
  [[ " $CLIENTS " == *" aria2c "* ]] && contenders+=("aria2c-$n")
done
for round in $(seq "$ROUNDS"); do
  for c in "${contenders[@]}"; do
    case $c in
      curl) res=$(measure curl curl -s -o "$DL/out" "$URL") ;;
      swproxy-*) n=${c#swproxy-}
        res=$(measure "$c" "$SWPROXY_BIN" fetch -sS --segments "$n" --min-segment-size 4M -o "$DL/out" "$URL") ;;
      aria2c-*) n=${c#aria2c-}
        res=$(measure "$c" aria2c -q -x "$n" -s "$n" -k 4M --file-allocation=falloc --allow-overwrite=true \
          --auto-file-renaming=false -d "$DL" -o out "$URL") ;;
    esac
    read -r w u <<<"$res"
    WALL[$c]+="$w "
    CPU[$c]+="$u "
    echo "round $round: $c ${w}s wall, ${u}s CPU" >&2
  done
done

median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" $1; }
SIZE_B=$((SIZE_MIB << 20))
RATE_B=$(python3 -c "import sys; r=sys.argv[1].lower(); m={'k':1024,'m':1<<20,'g':1<<30}; print(int(float(r[:-1])*m[r[-1]]) if r[-1] in m else int(r))" "$RATE")
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
{
  echo "## segments"
  echo
  echo "\`SIZE_MIB=$SIZE_MIB RATE=$RATE SEGMENTS=\"$SEGMENTS\" ROUNDS=$ROUNDS OUT_DIR=$OUT_DIR bash bench/segments.sh\` on $DATE:"
  echo "$(nproc) cores, $(curl --version | head -1 | cut -d' ' -f1-2), $(aria2c --version | head -1), nginx $(nginx -v 2>&1 | cut -d/ -f2) on loopback"
  echo "with \`limit_rate $RATE\` per connection serving a $SIZE_MIB MiB file; every download is written to a file under"
  echo "\`$OUT_DIR\` and checked by its SHA-256; medians over $ROUNDS round(s). Ideal = size ÷ (N × per-connection rate)."
  echo
  echo "| client | wall s | ideal s | wall ÷ ideal | CPU s | CPU s per GiB |"
  echo "|---|---|---|---|---|---|"
  for c in "${contenders[@]}"; do
    n=1; case $c in swproxy-*) n=${c#swproxy-} ;; aria2c-*) n=${c#aria2c-} ;; esac
    w=$(median "${WALL[$c]}"); u=$(median "${CPU[$c]}")
    python3 - "$c" "$w" "$u" "$n" "$SIZE_B" "$RATE_B" <<'PY'
import sys
c, w, u, n, size, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
ideal = size / (n * rate)
label = {"curl": "curl"}.get(c, c.replace("swproxy-", "swproxy fetch --segments ").replace("aria2c-", "aria2c -x/-s "))
print(f"| {label} | {w:.2f} | {ideal:.2f} | {w / ideal:.3f} | {u:.2f} | {u / (size / (1 << 30)):.2f} |")
PY
  done
  echo
} > "$WORK/section.md"

if [ "$CLIENTS" = "curl swproxy aria2c" ]; then
  python3 "$ROOT/bench/results_section.py" "$ROOT/bench/RESULTS.md" "$WORK/section.md"
fi
cat "$WORK/section.md"
