#!/usr/bin/env bash
# make curl-suite: curl's own test suite (tests/runtests.pl of the Debian source package of the libcurl
# installed here) run against `swproxy fetch`, on the HTTP tool tests select.py picks.
#
#   bash Tests/curl-suite/run.sh [TOOL]       TOOL: the binary to judge (default .build/debug/swproxy);
#                                             TOOL=curl judges /usr/bin/curl itself, for comparison
#   CURL_SUITE_TESTS="1 2 3"                  run only these
#   CURL_SUITE_RATCHET=1                      fail when a test listed in must-pass.txt fails (make test)
#
# curl's sources, its built test servers and the logs stay in .build/curl-suite (never in the repo). apt
# is pointed at a deb-src list and state of its own there: the machine's apt configuration is untouched.
# Prints "N passed, N failed", then each failure's number and its first failing check; writes the
# passing numbers to .build/curl-suite/passed.txt. Everything runs on loopback (curl's test servers).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/Tests/curl-suite
WORK=$ROOT/.build/curl-suite
TOOL=${1:-$ROOT/.build/debug/swproxy}
mkdir -p "$WORK"

# --- what this needs -------------------------------------------------------------------------------
need=""
for p in dpkg-dev perl stunnel4 make gcc; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
if [ -n "$need" ]; then
  echo "curl-suite: installing$need" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

# The IDN tests run in en_US.UTF-8 (their <setenv>): without that locale neither curl nor fetch can read a
# non-ASCII host name, and both fail them. Debian's minimal images have only C.UTF-8.
if ! locale -a 2>/dev/null | grep -qix 'en_US.utf8'; then
  dpkg -s locales >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq locales >/dev/null; }
  echo "curl-suite: generating the en_US.UTF-8 locale" >&2
  localedef -i en_US -f UTF-8 en_US.UTF-8
fi

# --- curl's source package, for the libcurl version installed ------------------------------------
VERSION=$(dpkg-query -W -f '${Version}' libcurl4)    # e.g. 7.88.1-10+deb12u15
UPSTREAM=${VERSION%%-*}
SRC=$WORK/curl-$UPSTREAM
if [ ! -f "$SRC/.swproxy-prepared-$VERSION" ]; then
  rm -rf "$SRC" "$WORK/apt" "$WORK"/curl_*
  mkdir -p "$WORK/apt/parts" "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial"
  # deb-src twins of the machine's own deb sources (deb822 .sources files and one-line lists)
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed 's/^Types: *deb$/Types: deb-src/' "$f" > "$WORK/apt/parts/$(basename "$f")"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed -n 's/^deb /deb-src /p' \
    > "$WORK/apt/parts/legacy.list" || true
  APT=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$WORK/apt/parts"
       -o Dir::State::Lists="$WORK/apt/lists" -o Dir::Cache="$WORK/apt/cache" -o APT::Sandbox::User=root)
  echo "curl-suite: fetching the source package curl=$VERSION" >&2
  apt-get "${APT[@]}" update -qq
  (cd "$WORK" && apt-get "${APT[@]}" source -qq --download-only "curl=$VERSION" >/dev/null)
  (cd "$WORK" && dpkg-source -x --skip-debianization "curl_$VERSION.dsc" "$SRC" >/dev/null 2>&1) ||
    (cd "$WORK" && dpkg-source -x "curl_$VERSION.dsc" "$SRC" >/dev/null)
  echo "curl-suite: building curl's test servers" >&2
  (cd "$SRC" && ./configure -q --without-ssl --without-zlib --without-brotli --without-zstd --without-libpsl \
      --without-libidn2 --without-nghttp2 --without-librtmp --without-libssh2 --disable-ldap --disable-shared \
      >/dev/null 2>&1 && make -s -C tests/server -j2 >/dev/null 2>&1)
  touch "$SRC/.swproxy-prepared-$VERSION"
fi

# --- the tool under test ---------------------------------------------------------------------------
# The wrapper does two things only: `--version`/`-V` alone is answered with the system curl's output
# (same libcurl, same features: runtests reads them from it), and curl's default User-Agent is supplied
# through SWPROXY_USER_AGENT, which a test's own -A, -H 'User-Agent: ...' or -K file overrides.
# Everything else reaches `swproxy fetch` unchanged. (A run over 120 s is killed, so a hang fails its test
# instead of stopping the suite: runtests.pl itself waits forever.)
WRAP=$WORK/tool
if [ "$TOOL" = curl ]; then
  printf '#!/bin/sh\nexec /usr/bin/curl "$@"\n' > "$WRAP"
else
  [ -x "$TOOL" ] || { echo "curl-suite: no binary at $TOOL (build first)" >&2; exit 2; }
  cat > "$WRAP" <<EOF
#!/bin/sh
if [ \$# -eq 1 ] && { [ "\$1" = --version ] || [ "\$1" = -V ]; }; then exec /usr/bin/curl --version; fi
SWPROXY_USER_AGENT="curl/$UPSTREAM" SWIFT_BACKTRACE=enable=no exec timeout -k 5 120 "$TOOL" fetch "\$@"
EOF
fi
chmod +x "$WRAP"

# --- run -------------------------------------------------------------------------------------------
TESTS=${CURL_SUITE_TESTS:-$(python3 "$HERE/select.py" "$SRC")}
LOG=$WORK/runtests.log
unset http_proxy https_proxy all_proxy no_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY CURL_HOME || true
export HOME=$WORK/home; mkdir -p "$HOME"   # no ~/.curlrc or ~/.netrc of the machine's
echo "curl-suite: running $(echo $TESTS | wc -w) tests against $TOOL" >&2
# -a: go on after failures; -n: no valgrind; -p: print the failing part of each failure;
# -vc: the curl that checks the test servers are up is the system one.
(cd "$SRC/tests" && timeout 3000 perl runtests.pl -a -n -p -vc /usr/bin/curl -c "$WRAP" $TESTS) > "$LOG" 2>&1 || true
if python3 "$HERE/report.py" "$LOG" "$WORK" "$HERE"; then exit 0; fi
[ "${CURL_SUITE_RATCHET:-0}" = 1 ] || exit 1
# A must-pass test that failed gets one more run on its own: a test that fails twice is broken, one that
# passes alone was disturbed by the load of the run (the suite shares 2 cores with its servers).
BROKEN=$(cat "$WORK/broken.txt")
[ -n "$BROKEN" ] || exit 1
(cd "$SRC/tests" && timeout 900 perl runtests.pl -a -n -p -vc /usr/bin/curl -c "$WRAP" $BROKEN) > "$LOG.again" 2>&1 || true
python3 "$HERE/report.py" --recheck "$LOG.again" $BROKEN
