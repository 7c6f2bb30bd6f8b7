# swproxy — build, test, install. `make serve` and `make test` work on a fresh Debian 12 machine: the deps
# target installs what is missing with apt-get (and pip for the test runner).

PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
CONFIG ?= release
BIN_DIR := .build/$(CONFIG)
DEBUG_BIN := .build/debug/swproxy
APT_PACKAGES := libcurl4-openssl-dev libcrypt-dev pkg-config curl nginx-light python3 libcurl4-doc openssl groff-base zsh fish haproxy chromium apt-utils
SERVE_ARGS ?=

SHELL := /bin/bash
export SWIFT_BACKTRACE ?= enable=no

.PHONY: all build static-cxx debug deps deps-build test release-test unit integration asan asan-test soak aborts curl-suite serve install uninstall clean fetch-bench serve-bench man completions fuzz

all: build

# The shipped binary is linked for start-up time, which a one-URL `fetch` feels (bench/RESULTS.md):
# - the Swift runtime statically: no dynamic symbol lookups for libswiftCore (about 5 ms a run);
# - libstdc++ statically (the Swift runtime is its only user): ld.so neither loads nor relocates it. A
#   linker script named libstdc++.so, found first on the library path, points -lstdc++ at the archive.
# - concrete type metadata through accessor functions, not demangled from mangled names at first use
#   (about 0.3 ms of a one-URL run).
# - no $ORIGIN run path (--disable-local-rpath): nothing is loaded from beside the binary, and the dynamic
#   loader would look there first for each shared library (two dozen failed opens a run);
# - the runtime's argv comes from a constructor (Sources/CStart), not from reading /proc/self/maps.
# It stays a PIE: linking with -no-pie saved about 0.5 ms more (38,000 relative relocations fewer), not
# worth a proxy without address randomisation.
STATIC_CXX := .build/static-libstdc++
RELEASE_FLAGS := --static-swift-stdlib --disable-local-rpath -Xlinker -L$(CURDIR)/$(STATIC_CXX) \
  -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors

build: deps-build static-cxx
	$(SWIFT) build -c $(CONFIG) $(RELEASE_FLAGS)

# Without the archive (no libstdc++-dev), the directory stays empty and the shared library is used.
static-cxx:
	@mkdir -p $(STATIC_CXX); a=$$(clang -print-file-name=libstdc++.a 2>/dev/null); \
	if [ -f "$$a" ]; then echo "INPUT($$a)" > $(STATIC_CXX)/libstdc++.so; else rm -f $(STATIC_CXX)/libstdc++.so; fi

debug: deps-build
	$(SWIFT) build

# Only what building needs.
deps-build:
	@missing=""; for p in libcurl4-openssl-dev libcrypt-dev libssl-dev pkg-config; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Everything the tests and benchmarks need, installed only when missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@python3 -c 'import pytest' 2>/dev/null || python3 -m pip install -q pytest
	@python3 -c 'import websockets' 2>/dev/null || python3 -m pip install -q websockets
	@python3 -c 'import urllib3' 2>/dev/null || python3 -m pip install -q urllib3

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	CURL_SUITE_RATCHET=1 bash Tests/curl-suite/run.sh $(CURDIR)/$(DEBUG_BIN)
	SWPROXY_BIN=$(CURDIR)/$(DEBUG_BIN) python3 -m pytest -q -p no:cacheprovider Tests/integration \
	  --ignore=Tests/integration/faults
	$(MAKE) --no-print-directory release-test
	$(MAKE) --no-print-directory asan-test
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=60

# The shipped binary is built differently (static runtime, its argv from Sources/CStart, metadata accessors,
# no exclusivity checks): the suites of the main paths run on it too.
RELEASE_SUITES := test_fetch.py test_fetch_arguments.py test_fetch_differential.py test_serve.py test_serve_cache.py
release-test: deps build
	SWPROXY_BIN=$(CURDIR)/$(BIN_DIR)/swproxy python3 -m pytest -q -p no:cacheprovider \
	  $(addprefix Tests/integration/,$(RELEASE_SUITES))

# AddressSanitizer: the binary and the unit tests built with -sanitize=address (debug) in .build-asan. The
# fault-path tests (Tests/integration/faults: aborted downloads, the chaos test, fetch's interrupted and cut
# transfers), the failure and safety suites, the segmented downloads (cut, cancelled and restarted
# range transfers), the egress gate (ClientHellos cut, split and forged; failover mid-run), the TLS
# listener (failed handshakes, TLS inside TLS) and the cache (fills cut, coalesced readers, SIGKILL mid-store,
# a full disk) run on that binary: a memory error is a report and a failure,
# not a quiet heap corruption. ASan's own stack trace replaces Swift's backtracer, which trips ASan.
ASAN_DIR := .build-asan
ASAN_BIN := $(ASAN_DIR)/debug/swproxy
ASAN_ENV := ASAN_OPTIONS=detect_leaks=0:handle_abort=1:halt_on_error=1 SWIFT_BACKTRACE=enable=no
# The memory-bound test is left to the normal build: ASan's shadow memory and quarantine inflate RSS.
ASAN_SUITES := Tests/integration/faults Tests/integration/test_serve_failures.py Tests/integration/test_safety.py \
  Tests/integration/test_fetch_segments.py Tests/integration/test_serve_egress.py Tests/integration/test_serve_tls.py \
  Tests/integration/test_serve_cache.py Tests/integration/test_serve_cache_disk.py Tests/integration/test_serve_cache_abuse.py \
  --deselect Tests/integration/test_serve_failures.py::test_upload_to_a_slow_origin_stays_bounded
asan: deps-build
	$(SWIFT) build --build-tests --scratch-path $(ASAN_DIR) -Xswiftc -sanitize=address

asan-test: deps asan
	$(ASAN_ENV) $(SWIFT) test --skip-build --scratch-path $(ASAN_DIR)
	$(ASAN_ENV) SWPROXY_BIN=$(CURDIR)/$(ASAN_BIN) python3 -m pytest -q -p no:cacheprovider $(ASAN_SUITES)

# curl's own test suite (tests/runtests.pl of the Debian source package of the installed libcurl) judging
# `swproxy fetch` on the HTTP tool tests (Tests/curl-suite: run.sh, select.py, DIFFERENCES.md). make test
# runs it as a ratchet: every test in Tests/curl-suite/must-pass.txt must pass. TOOL=curl judges curl.
TOOL ?= $(CURDIR)/$(DEBUG_BIN)
curl-suite: deps debug
	bash Tests/curl-suite/run.sh $(TOOL)

# A mixed, faulty load through one release-build proxy for SOAK_SECONDS (default 600), sampling its
# descriptors and memory every 5 s (bench/soak.sh; results in bench/RESULTS.md).
SOAK_SECONDS ?= 600
soak: deps build
	SOAK_SECONDS=$(SOAK_SECONDS) SKIP_BUILD=1 bash bench/soak.sh

# The abort crash's loop at scale: ABORTS aborted 10 MiB downloads, 8 clients at once, per thread count.
ABORTS ?= 10000
aborts: deps build
	ABORTS=$(ABORTS) SKIP_BUILD=1 bash bench/aborts.sh

unit: deps-build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration: deps debug
	SWPROXY_BIN=$(CURDIR)/$(DEBUG_BIN) python3 -m pytest -q -p no:cacheprovider Tests/integration

serve: build
	@if $(BIN_DIR)/swproxy serve --help 2>/dev/null | grep -q -- '--listen'; then \
	  exec $(BIN_DIR)/swproxy serve --listen 127.0.0.1:8080 $(SERVE_ARGS); \
	else \
	  echo "swproxy serve is not built yet (see the serve issue)"; exit 1; \
	fi

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 -s $(BIN_DIR)/swproxy $(DESTDIR)$(PREFIX)/bin/swproxy
	install -m 0644 man/swproxy.1 man/swproxy-fetch.1 man/swproxy-serve.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 completions/swproxy.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/swproxy
	install -m 0644 completions/_swproxy $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_swproxy
	install -m 0644 completions/swproxy.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/swproxy.fish
	install -d $(DESTDIR)$(PREFIX)/share/doc/swproxy
	install -m 0644 man/swproxy.service $(DESTDIR)$(PREFIX)/share/doc/swproxy/swproxy.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/swproxy $(DESTDIR)$(PREFIX)/share/man/man1/swproxy*.1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/swproxy \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_swproxy \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/swproxy.fish
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/swproxy

fetch-bench: deps build
	bash bench/fetch.sh

serve-bench: deps build
	SKIP_BUILD=1 bash bench/serve.sh

clean:
	rm -rf .build

# Regenerate the committed man pages from the argument declarations (swift-argument-parser's
# generate-manual plugin, fixed date) plus the hand-written sections in man/sections.
MAN_DATE ?= 2026-11-25
MAN_OUT ?= man
man: deps-build
	rm -rf .build/man-gen && mkdir -p .build/man-gen $(MAN_OUT)
	$(SWIFT) package --allow-writing-to-package-directory generate-manual --multi-page --date $(MAN_DATE) \
	  --output-directory .build/man-gen >/dev/null
	python3 man/assemble.py .build/man-gen $(MAN_OUT)

COMPLETIONS_OUT ?= completions
completions: debug
	$(DEBUG_BIN) --generate-completion-script bash > $(COMPLETIONS_OUT)/swproxy.bash
	$(DEBUG_BIN) --generate-completion-script zsh > $(COMPLETIONS_OUT)/_swproxy
	$(DEBUG_BIN) --generate-completion-script fish > $(COMPLETIONS_OUT)/swproxy.fish

# libFuzzer over the request-head parser and the chunked decoder. FUZZ_SECONDS=60 (CI) by default; the
# corpus grows in .build-fuzz/corpus, crashes land in .build-fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_BIN := .build-fuzz/fuzz-http
fuzz: deps-build
	mkdir -p .build-fuzz/corpus
	swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name SwproxyHTTPFuzz \
	  Sources/SwproxyHTTP/*.swift Fuzz/FuzzMain.swift -o $(FUZZ_BIN)
	SWIFT_BACKTRACE=enable=no $(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -dict=Fuzz/http.dict \
	  -max_len=4096 -print_final_stats=1 -artifact_prefix=.build-fuzz/ .build-fuzz/corpus Fuzz/corpus
