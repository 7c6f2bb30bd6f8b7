#!/usr/bin/env python3
"""Prints the numbers of curl's test cases that `make curl-suite` runs: the tests that drive the curl tool
over HTTP against curl's own HTTP-family test servers. Reads tests/data/test* of a curl source tree.

Selected: keyword HTTP; the command is curl itself (no <tool>: no libtest programs, no unit tests);
every server is an HTTP-family one (http and its IPv6, proxy, unix-socket, HTTP/2, HTTP/3 and TLS
variants, and the SOCKS servers HTTP goes through) or none: 633 cases in curl 7.88.1.
runtests.pl itself then skips what this build cannot run (debug-only, disabled, missing features) alike
for curl and for swproxy.

usage: select.py CURL_SOURCE_DIR"""

import os
import re
import sys

SERVERS = {"http", "http-ipv6", "http-proxy", "http-unix", "http-pipe", "http/2", "http/3", "https", "https-proxy",
           "socks4", "socks5", "socks5unix", "none"}


def part(text, name):
    m = re.search(r"<%s\b[^>]*>(.*?)</%s>" % (name, name), text, re.S)
    return m.group(1) if m else None


def selected(text):
    info = part(text, "info") or ""
    keywords = {k.strip() for k in (part(info, "keywords") or "").splitlines() if k.strip()}
    if "HTTP" not in keywords or "unittest" in keywords:
        return False
    client = part(text, "client") or ""
    if (part(client, "tool") or "").strip():
        return False
    servers = {s.strip() for s in (part(client, "server") or "").splitlines() if s.strip()}
    return bool(servers) and servers <= SERVERS


def main():
    data = os.path.join(sys.argv[1], "tests", "data")
    nums = []
    for name in os.listdir(data):
        m = re.fullmatch(r"test(\d+)", name)
        if not m:
            continue
        with open(os.path.join(data, name), encoding="latin-1") as f:
            if selected(f.read()):
                nums.append(int(m.group(1)))
    print(" ".join(str(n) for n in sorted(nums)))


if __name__ == "__main__":
    main()
